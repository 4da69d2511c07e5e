"""`esmr analyze PATH... [--text T] [--top-k K] [--no-asr] [--json]`: emotion, MATE, music for voice clips.

Several paths: one JSON object per line, in order, models loaded once; a bad file gets {"path", "error"}
on its line (and `error: PATH: ...` on stderr) and the rest go on; exit status 2 if any failed.
"""
from __future__ import annotations

import json
import sys

from ..errors import EsmrError


def register(sub) -> None:
    p = sub.add_parser("analyze", help="analyse speech: emotion, VAD, MATE, matching music, map position")
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files (wav, flac, ogg, opus, mp3, webm, m4a)")
    p.add_argument("--text", default=None, help="transcript to use instead of speech recognition")
    p.add_argument("--top-k", type=int, default=5, help="number of tracks (default 5)")
    p.add_argument("--no-asr", action="store_true", help="do not transcribe (audio cues only, unless --text)")
    p.add_argument("--json", action="store_true", help="print one JSON object per path")
    p.set_defaults(func=_run_guarded)


def _summary(path: str, r: dict) -> str:
    probs = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["emotion"]["probabilities"].items(), key=lambda kv: -kv[1])[:3])
    vad = r["vad"]
    lines = [f"{path}: {r['emotion']['label']} ({probs})",
             f"  valence {vad['valence']:.2f}  arousal {vad['arousal']:.2f}  dominance {vad['dominance']:.2f}",
             f"  MATE: {r['mate']['label']}  arousal {r['mate']['arousal']:.2f}/5  valence {r['mate']['valence']:.2f}/5"
             f"  ({'+'.join(r['mate']['modalities'])})",
             f"  transcript ({r['transcript_source']}): {r['transcript']!r}"]
    lines += [f"  {i + 1}. {t['title']} - {t['artist']} [{t['mood']}] {t['score']:.3f}" for i, t in enumerate(r["tracks"])]
    lines += [f"  note: {w}" for w in r["warnings"]]
    return "\n".join(lines)


def run(args) -> int:
    from ..audio import load_audio
    from ..inputs import transcript
    from ..service import get_service

    if args.top_k < 1:
        raise EsmrError(f"--top-k must be at least 1, got {args.top_k}")
    args.text = transcript(args.text, name="--text")  # length, control characters: before any model loads
    svc = None
    failed = 0
    for path in args.paths:
        try:
            clip = load_audio(path)  # validate first: a bad file never waits for the models to load
            if svc is None:
                try:
                    svc = get_service()
                except EsmrError as exc:  # the models themselves: one message for the whole run
                    raise _Fatal(str(exc)) from None
            result = svc.analyze_speech(clip, text=args.text, top_k=args.top_k, asr=not args.no_asr)
        except EsmrError as exc:
            failed += 1
            print(f"error: {path}: {exc}", file=sys.stderr)
            if args.json:
                print(json.dumps({"path": path, "error": str(exc)}), flush=True)
            continue
        print(json.dumps({"path": path, **result}, ensure_ascii=False) if args.json else _summary(path, result),
              flush=True)
    return 2 if failed else 0


class _Fatal(Exception):
    """A failure that ends the whole run (not one path's); re-raised as EsmrError outside the loop."""


def _run_guarded(args) -> int:
    try:
        return run(args)
    except _Fatal as exc:
        raise EsmrError(str(exc)) from None
