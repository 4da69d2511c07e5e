"""How often the timeline finds the arc of a synthesised recording: `python scripts/timeline_eval.py [--seeds 4]`.

For each voice set of esmr_core.data.passages (mixed piper + espeak, piper only, espeak only) and each seed (a
different choice of held-out sentences and prosody draws), a calm -> angry -> happy recording is analysed three
ways: with no words (the voice alone), with speech recognition per utterance, and with its script. A recording
counts as right when it gives exactly three sections, each boundary within 1.5 s of its join, the calm section's
arousal below both others' (the issue's test); "calm join" counts a boundary within 1.5 s of the first join; "calm
section gets calmer music": the mean energy of the first section's tracks is below every other section's.
Writes docs/timeline.json (the table of the README) and prints it. About 5 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def right(r: dict, joins: list[float]) -> tuple[bool, bool]:
    """(the whole arc is right, a boundary falls within 1.5 s of the first join)."""
    secs = r["sections"]
    bounds = [s["start_s"] for s in secs[1:]]
    calm_join = any(abs(b - joins[0]) <= 1.5 for b in bounds)
    ok = (len(secs) == len(joins) + 1 and all(abs(b - j) <= 1.5 for b, j in zip(bounds, joins))
          and secs[0]["arousal"] < min(s["arousal"] for s in secs[1:]))
    return ok, calm_join


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "timeline.json")
    args = p.parse_args(argv)
    from esmr_core.data.passages import VOICE_SETS, synth_passages
    from esmr_core.service import Service, ServiceConfig

    svc = Service(ServiceConfig(singing=False))
    modes = {"no words": {}, "speech recognition": {"asr": True}, "script": "script"}
    tally = {m: {v: [0, 0, 0] for v in VOICE_SETS} for m in modes}   # right, calm join, recordings
    boundary_err: dict[str, list[float]] = {m: [] for m in modes}
    energy = {t["id"]: float(t["energy"]) for t in svc.tracks}
    calmer_music = {m: [0, 0] for m in modes}   # recordings whose calm section gets calmer music, of those with 3+
    t0 = time.time()
    for vset, voices in VOICE_SETS.items():
        for seed in range(args.seeds):
            rec = synth_passages(seed=seed, voices=voices)
            for mode, options in modes.items():
                kw = {"script": rec.script} if options == "script" else options
                r = svc.analyze_timeline((16000, rec.samples), **kw)
                ok, calm = right(r, rec.joins)
                row = tally[mode][vset]
                row[0] += ok
                row[1] += calm
                row[2] += 1
                secs = r["sections"]
                if len(secs) >= 3:   # the mean energy of the calm (first) section's tracks below every other's
                    e = [np.mean([energy[t["id"]] for t in sec["tracks"]]) for sec in secs]
                    calmer_music[mode][0] += bool(e[0] < min(e[1:]))
                    calmer_music[mode][1] += 1
                if ok:
                    boundary_err[mode] += [abs(s["start_s"] - j) for s, j in zip(r["sections"][1:], rec.joins)]
            print(f"{vset} seed {seed} done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    out = {"what": "calm -> angry -> happy recordings (esmr_core.data.passages), default timeline settings",
           "seeds": args.seeds, "voice_sets": {k: list(v) for k, v in VOICE_SETS.items()},
           "results": {m: {v: {"right": a, "calm_join": b, "recordings": n} for v, (a, b, n) in rows.items()}
                       for m, rows in tally.items()},
           "boundary_error_s_when_right": {m: round(float(np.max(e)), 3) if e else None
                                           for m, e in boundary_err.items()},
           "calm_section_gets_calmer_music": {m: {"recordings": b, "share": round(a / b, 3) if b else None}
                                              for m, (a, b) in calmer_music.items()},
           "seconds": round(time.time() - t0, 1)}
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
