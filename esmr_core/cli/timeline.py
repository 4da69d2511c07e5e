"""`esmr timeline FILE [--script TEXT_FILE] [--asr] [--json | --csv] [--cues OUT.csv|OUT.json]`: the emotion arc of
a recording of up to 10 minutes (a voice-over, a podcast, a conversation) and a soundtrack that follows it.

Prints the sections and the cue sheet (default), the whole result as one JSON object (--json) or the cue sheet
as CSV (--csv). Progress goes to stderr when it is a terminal. Bad input: one `error: ...` line, exit status 2.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import EsmrError


def register(sub) -> None:
    p = sub.add_parser("timeline", help="emotion arc of a long recording (up to 10 min) and a soundtrack for it",
                       description="Cut a recording into utterances, read each one's emotion (speech tower and "
                       "MATE in its dialogue context), smooth them into sections and give each its music.")
    p.add_argument("path", metavar="FILE", help="audio file (wav, flac, ogg, opus, mp3, webm, m4a), up to 10 minutes")
    p.add_argument("--script", type=Path, metavar="TEXT_FILE",
                   help="text file with what was said (a voice-over script or transcript): its sentences are "
                   "aligned to the utterances and read as their words")
    p.add_argument("--asr", action="store_true", help="transcribe each utterance (English speech recognition; "
                   "slower; ignored with --script)")
    p.add_argument("--top-k", type=int, default=3, help="tracks per section (default 3)")
    p.add_argument("--min-section", type=float, default=None, metavar="SECONDS",
                   help="shortest section in seconds of speech (default 6)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the whole result as one JSON object")
    out.add_argument("--csv", action="store_true", help="print only the cue sheet, as CSV")
    p.add_argument("--cues", type=Path, metavar="OUT", help="also write the cue sheet to OUT (.csv or .json)")
    p.set_defaults(func=run)


def _mmss(seconds: float) -> str:
    m, s = divmod(float(seconds), 60.0)
    return f"{int(m)}:{s:04.1f}"


def summary(path: str, r: dict) -> str:
    """The sections and the cue sheet as text."""
    words = "script" if r["settings"].get("script") else "speech recognition" if r["settings"]["asr"] else "none"
    lines = [f"{path}: {r['duration_s']:.1f} s, {len(r['segments'])} utterances ({r['speech_s']:.1f} s of speech), "
             f"{len(r['sections'])} sections; words: {words}; {r['timing_ms']['total_ms'] / 1000:.1f} s", "",
             "sections"]
    for s in r["sections"]:
        lines.append(f"  {s['index'] + 1:>2}  {_mmss(s['start_s']):>7} - {_mmss(s['end_s']):<7} {s['emotion']:<9}"
                     f" arousal {s['arousal']:.2f}  valence {s['valence']:.2f}  MATE A {s['mate_arousal']:.2f}/5"
                     f" V {s['mate_valence']:.2f}/5  ({len(s['segments'])} utterances)")
    for g in r["gaps"]:
        lines.append(f"      {_mmss(g['start_s']):>7} - {_mmss(g['end_s']):<7} (silence: no music)")
    lines += ["", "cue sheet"]
    for c in r["cues"]:
        lines.append(f"  {c['section']:>2}  {c['start']} - {c['end']}  {c['emotion']:<9} {c['track']} - {c['artist']}"
                     f" [{c['licence']}]")
    lines += [f"  note: {w}" for w in r["warnings"]]
    return "\n".join(lines)


def run(args) -> int:
    from ..service import get_service
    from ..timeline import cue_csv, cue_json, load_recording

    if args.top_k < 1:
        raise EsmrError(f"--top-k must be at least 1, got {args.top_k}")
    if args.cues is not None and args.cues.suffix.lower() not in (".csv", ".json"):
        raise EsmrError(f"--cues {args.cues}: give a file name ending in .csv or .json")
    script = None
    if args.script is not None:
        try:
            script = args.script.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EsmrError(f"cannot read the script {args.script}: {exc}; give a UTF-8 text file") from None
    clip = load_recording(args.path)   # validate first: a bad file never waits for the models to load
    show = sys.stderr.isatty()

    def progress(fraction: float, message: str) -> None:
        if show:
            print(f"\r{100 * fraction:3.0f}% {message:<60}", end="" if fraction < 1 else "\n", file=sys.stderr,
                  flush=True)

    options = {"asr": bool(args.asr), "top_k": args.top_k}
    if args.min_section is not None:
        options["min_section_s"] = args.min_section
    result = get_service().analyze_timeline(clip, script=script, progress=progress, **options)
    if args.cues is not None:
        text = cue_json(result["cues"]) if args.cues.suffix.lower() == ".json" else cue_csv(result["cues"])
        try:
            args.cues.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise EsmrError(f"cannot write {args.cues}: {exc.strerror}") from None
    if args.json:
        print(json.dumps({"path": args.path, **result}, ensure_ascii=False))
    elif args.csv:
        print(cue_csv(result["cues"]), end="")
    else:
        print(summary(args.path, result))
    return 0
