"""Channel robustness on the corpus's VAL speakers (never the benchmark's voices): their neutral, channel-free
clips (as scripts/moodmatch_sweep.py picks them) at the benchmark's prosody levels -3, 0, +3 (Praat), through
the benchmark's channel conditions (esmr_core.realvoice.CHANNELS), read as the app reads them; per condition the
label agreement with the clean clip and the mean |arousal shift|, for a speech tower and a MATE checkpoint.

    .venv/bin/python scripts/val_channel.py --checkpoint DIR --mate-checkpoint DIR [--out runs/val_channel.json]

The prepared audio is kept in --cache (npz) so several checkpoints are judged on the same clips.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

CONDITIONS = ("telephone", "noise_20db", "opus_24kbps", "noise_10db", "reverb_rt60_0.5s")
LEVELS = (-3, 0, 3)


def prepare(speech_dir: Path, per_voice: int = 8) -> list[dict]:
    import soundfile as sf

    from esmr_core import audio as A
    from esmr_core import realvoice as rv

    rows = [json.loads(line) for line in open(speech_dir / "manifest.jsonl", encoding="utf-8")]
    items, voice_no, seen = [], {}, defaultdict(int)
    for r in rv.val_neutral_clips(rows, per_voice):
        v = r["voice"]
        ci, j = voice_no.setdefault(v, len(voice_no)), seen[v]   # speaker number, the clip's place among its own
        seen[v] += 1
        x, sr = sf.read(str(speech_dir / r["path"]), dtype="float32")
        x = x.mean(1) if x.ndim > 1 else x
        for lv in LEVELS:
            y = rv.transform_prosody(x, sr, rv.prosody_level(lv))
            try:
                item = {"clip": r["id"], "voice": v, "level": lv, "clean": A.from_array(y, sr).samples}
                for cond in CONDITIONS:
                    out = rv.CHANNELS[cond](y, sr, 1000 * (100 * ci + j) + lv + 3)
                    item[cond] = (A.load_audio(out) if isinstance(out, bytes) else A.from_array(out[0], out[1])).samples
            except A.AudioError:
                continue
            items.append(item)
    return items


def load_items(cache: Path, speech_dir: Path) -> list[dict]:
    """prepare()'s clips, kept in the npz `cache` (built when missing) so several checkpoints see the same audio."""
    if cache.is_file():
        return list(np.load(cache, allow_pickle=True)["items"])
    items = prepare(speech_dir)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, items=np.array(items, dtype=object))
    return items


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--mate-checkpoint", default="")
    ap.add_argument("--speech", default="data/bootstrap")
    ap.add_argument("--cache", default="runs/val_channel_audio.npz")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from esmr_core.retrieval.features import speech_vector
    from esmr_core.retrieval.model import JointModel

    items = load_items(Path(args.cache), Path(args.speech))
    model = JointModel.from_pretrained(args.checkpoint).eval()
    emotions = list(model.cfg.emotions)
    mate = None
    if args.mate_checkpoint:
        from esmr_core.mate.infer import Mate
        mate = Mate.from_pretrained(args.mate_checkpoint)

    def read(samples):
        x = speech_vector(samples, "", model.feature_spec, text_weight=0.0)
        with torch.no_grad():
            logits, vad = model.predict_emotion(torch.from_numpy(x[None]))
        out = {"tower": (emotions[int(logits.argmax())], float(vad[0, 1]))}
        if mate is not None:
            p = mate.predict(samples, None, text_weight=0.0)
            out["mate"] = (p["label"], (p["arousal"] - 1) / 4)
        return out

    res = {c: defaultdict(list) for c in CONDITIONS}
    for it in items:
        ref = read(it["clean"])
        for cond in CONDITIONS:
            got = read(it[cond])
            for m in ref:
                res[cond][f"{m}_agree"].append(got[m][0] == ref[m][0])
                res[cond][f"{m}_shift"].append(abs(got[m][1] - ref[m][1]))
    summary = {c: {k: round(float(np.mean(v)), 4) for k, v in d.items()} for c, d in res.items()}
    summary["n_items"] = len(items)
    summary["n_voices"] = len({it["voice"] for it in items})
    for c in CONDITIONS:
        print(c, summary[c])
    if args.out:
        Path(args.out).write_text(json.dumps({"checkpoint": args.checkpoint, "mate": args.mate_checkpoint,
                                              **summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
