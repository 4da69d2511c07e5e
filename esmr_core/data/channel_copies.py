"""Channel copies of a speech corpus's clean real-voice clips: the same render through a telephone line and
through background noise, as a second speech collection that training pools with the first.

Why: the models' readings changed with the channel more than the issue allows (label agreement with the clean
clip 0.60 through a telephone band, MATE 0.67 at 20 dB SNR, bench/realvoice.json), while only about 8 % of the
corpus's real clips pass a telephone line and 14 % noise (esmr_core.data.emofilt.draw_channel at a channel share
of 0.5). Each copy keeps its clip's emotion, speaker and split, so the same emotion is seen clean and degraded
(a consistency the speaker-split val set then measures).

    python -m esmr_core.data.channel_copies --speech data/bootstrap --out data/bootstrap-channel [--seed 0]

Only rows of the given splits (default: train) whose channel is empty are copied, so no val/test speaker gains
clips. Effects are emofilt's own (apply_effect): telephone = 300-3400 Hz at 8 kHz, G.711 mu-law on 70 % of the
copies; noise = coloured noise (colour 0-2) at 10-25 dB SNR over the clip's RMS.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import EsmrError
from . import emofilt
from ..files import atomic_write_text
from .manifest import load_collection, write_jsonl
from .profiles import seeded_rng

KINDS = ("telephone", "noise")




def draw_effect(kind: str, rng: np.random.Generator) -> dict[str, Any]:
    """The channel chain (emofilt format) of one copy of this kind."""
    if kind == "telephone":
        return {"kind": "telephone", "mu_law": bool(rng.uniform() < 0.7)}
    if kind == "noise":
        return {"kind": "noise", "snr_db": round(float(rng.uniform(10.0, 25.0)), 2),
                "colour": round(float(rng.uniform(0.0, 2.0)), 3), "hum": False, "seed": int(rng.integers(2**31))}
    raise EsmrError(f"unknown channel copy kind {kind!r}; choose from {KINDS}")


def build(speech_dir: str | Path, out: str | Path, seed: int = 0, kinds: Sequence[str] = KINDS,
          splits: Sequence[str] = ("train",), real_only: bool = True, limit: int | None = None,
          progress: bool = False) -> dict[str, Any]:
    """Write out/clips/<id>-<kind>.flac, out/manifest.jsonl and out/collection.json; returns the collection info.
    Rows keep every field of their source row; id, path, channel and channel_copy_of change."""
    import soundfile as sf

    src = load_collection(speech_dir, "speech")
    for k in kinds:
        draw_effect(k, np.random.default_rng(0))            # unknown kinds fail before any work
    rows = [r for r in src.rows if r["split"] in splits and not r.get("channel")
            and (not real_only or r.get("real_voice") or r.get("tts") == "real")]
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise EsmrError(f"{speech_dir} has no clean {'real-voice ' if real_only else ''}rows in splits {list(splits)}")
    out = Path(out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    new, t0 = [], time.time()
    for n, r in enumerate(rows, 1):
        y, sr = sf.read(str(src.path(r)), dtype="float64")
        y = y.mean(axis=1) if y.ndim > 1 else y
        if sr != emofilt.SR:
            raise EsmrError(f"{r['id']} is at {sr} Hz; the corpus is at {emofilt.SR} Hz")
        for kind in kinds:
            fx = draw_effect(kind, seeded_rng(seed, f"{r['id']}:{kind}"))
            z, chain = emofilt.augment(y, [fx])
            cid = f"{r['id']}-{kind}"
            rel = f"clips/{cid}.flac"
            sf.write(out / rel, z, sr, format="FLAC", subtype="PCM_16")
            new.append({**r, "id": cid, "path": rel, "channel": chain, "channel_copy_of": r["id"],
                        "duration_s": round(len(z) / sr, 3)})
        if progress and n % 200 == 0:
            print(f"  channel copies {n}/{len(rows)} ({time.time() - t0:.0f} s)", flush=True)
    write_jsonl(new, out / "manifest.jsonl")
    info = {"version": 1, "kind": "speech", "name": "channel-copies", "builder": "esmr_core.data.channel_copies",
            "source": str(speech_dir), "seed": seed, "kinds": list(kinds), "splits": list(splits),
            "real_only": real_only, "source_rows": len(rows), "clips": len(new),
            "note": "clean clips of the source collection through emofilt channel effects; the source's licences "
                    "apply (see its collection.json)", "build_seconds": round(time.time() - t0, 1)}
    atomic_write_text(out / "collection.json", json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speech", default="data/bootstrap")
    ap.add_argument("--out", default="data/bootstrap-channel")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", nargs="+", default=list(KINDS))
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    try:
        info = build(args.speech, args.out, args.seed, args.kinds, limit=args.limit, progress=True)
    except EsmrError as exc:
        print(f"error: {exc}")
        return 2
    print(f"{info['clips']} channel copies of {info['source_rows']} clean clips -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
