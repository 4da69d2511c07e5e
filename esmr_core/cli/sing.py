"""`esmr sing`: songs to sing from a singing clip; training and evaluation of the singing encoders.

    esmr sing PATH [--json] [--top-k 5] [--weights range=1,timbre=0.25]
    esmr sing train [--sscl-steps 300] [--tjae-steps 200] [--no-ablation] [--only sscl|tjae]
    esmr sing evaluate [--json] [--clips 3] [--seconds 12] [--out FILE]
    esmr sing index        (re)compute the song guides' embeddings into checkpoints/tjae/song_guides.npz
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import EsmrError

MODES = ("train", "evaluate", "index")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sing", help="recommend songs to sing from 10-30 s of singing; train/evaluate the singing encoders",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="PATH|train|evaluate|index", help="a singing recording, or a mode")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of the chosen form (see above)")
    p.set_defaults(func=run)


def _common(p: argparse.ArgumentParser) -> None:
    from ..paths import checkpoints_dir, default_songs_dir

    p.add_argument("--checkpoints", type=Path, default=checkpoints_dir(), help="folder with sscl-*/ and tjae/")
    p.add_argument("--songs", type=Path, default=default_songs_dir(), help="song collection folder")


def parse_weights(text: str | None) -> dict[str, float] | None:
    """'range=1,timbre=0.5' -> {"range": 1.0, "timbre": 0.5}; None -> None (defaults)."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise EsmrError(f"bad weight {part!r}; write NAME=NUMBER pairs, e.g. range=1,timbre=0.25") from None
        if not sep:
            raise EsmrError(f"bad weight {part!r}; write NAME=NUMBER pairs, e.g. range=1,timbre=0.25")
    from ..inputs import weights
    from ..singing.recommend import FACTORS

    return weights(out, names=FACTORS)   # the same names and range as the app's sliders


def run(args: argparse.Namespace) -> int:
    if args.target == "train":
        return _train(args.rest)
    if args.target == "evaluate":
        return _evaluate(args.rest)
    if args.target == "index":
        return _index(args.rest)
    return _recommend([args.target, *args.rest])


def _recommend(argv: list[str]) -> int:
    from ..audio import load_audio
    from ..singing.recommend import SingingRecommender, result_json

    p = argparse.ArgumentParser(prog="esmr sing", description="songs to sing from a singing recording")
    p.add_argument("path", help="audio file with 10-30 s of singing")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--weights", help="NAME=NUMBER,... for range, timbre, expression, voice, mood")
    _common(p)
    a = p.parse_args(argv)
    weights = parse_weights(a.weights)
    audio = load_audio(a.path, require_voice=False, max_seconds=30.0)
    rec = SingingRecommender.load(a.checkpoints, a.songs)
    analysis = rec.analyze(audio.samples)
    out = result_json(analysis, rec.rank(analysis, weights, a.top_k))
    if a.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    r = out["range"]
    print(f"your range: {r['low']}-{r['high']} ({r['low_hz']:.0f}-{r['high_hz']:.0f} Hz)")
    for i, s in enumerate(out["songs"], 1):
        print(f"{i}. {s['title']} - sing in {s['key']} ({s['transpose_semitones']:+d}), melody "
              f"{s['melody_range'][0]}-{s['melody_range'][1]}, score {s['score']:.3f}")
        for reason in s["reasons"][1:]:
            print(f"     {reason}")
    return 0


def _train(argv: list[str]) -> int:
    from ..singing.train import train_all

    p = argparse.ArgumentParser(prog="esmr sing train", description="train SSCL (timbre, expression) and TJAE")
    _common(p)
    p.add_argument("--work", type=Path, default=Path("data/singing"), help="cache and ablation models")
    p.add_argument("--sscl-steps", type=int, default=300)
    p.add_argument("--tjae-steps", type=int, default=200)
    p.add_argument("--no-ablation", action="store_true", help="skip the plain (no-policy) SSCL model")
    p.add_argument("--only", choices=("sscl", "tjae"), help="train only these models")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    times = train_all(a.checkpoints, a.songs, work=a.work, sscl_steps=a.sscl_steps, tjae_steps=a.tjae_steps,
                      with_ablation=not a.no_ablation, seed=a.seed, log=log,
                      only=(a.only,) if a.only else ("sscl", "tjae"))
    _index(["--checkpoints", str(a.checkpoints), "--songs", str(a.songs)])
    print(json.dumps({"seconds": {k: round(v, 1) for k, v in times.items()}}))
    return 0


def _index(argv: list[str]) -> int:
    from ..data.manifest import load_collection
    from ..singing.recommend import GUIDES_FILE, Embedders, guide_embeddings

    p = argparse.ArgumentParser(prog="esmr sing index", description="embed the song catalogue's guide vocals")
    _common(p)
    a = p.parse_args(argv)
    rows = load_collection(a.songs, "songs").rows
    out = a.checkpoints / "tjae" / GUIDES_FILE
    data = guide_embeddings(Embedders(a.checkpoints), a.songs, rows, out, lambda m: print(m, file=sys.stderr))
    print(json.dumps({"guides": int(len(data["keys"])), "file": str(out)}))
    return 0


def _evaluate(argv: list[str]) -> int:
    from ..singing.evaluate import evaluate, speech_vs_singing

    p = argparse.ArgumentParser(prog="esmr sing evaluate", description="evaluate on held-out synthetic singers")
    _common(p)
    p.add_argument("--work", type=Path, default=Path("data/singing"), help="where the ablation model lives")
    p.add_argument("--json", action="store_true", help="print JSON (default: a short summary)")
    p.add_argument("--clips", type=int, default=3, help="clips per test singer")
    p.add_argument("--seconds", type=float, default=12.0, help="length of each synthetic clip")
    p.add_argument("--speech", action="store_true", help="also measure speech vs singing (piper TTS)")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    a = p.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    res = evaluate(a.checkpoints, a.songs, work=a.work, clips=a.clips, seconds=a.seconds, log=log)
    if a.speech:
        res["sustained_ratio"] = speech_vs_singing(log=log)
    text = json.dumps(res, indent=2)
    if a.out:
        a.out.write_text(text + "\n")
    if a.json:
        print(text)
    else:
        print(f"range-fit P@5: {res['range_p_at_5']}")
        print(f"same-voice accuracy: {res['same_voice_accuracy']}")
        print(f"default weights: {res['default_weights']}")
    return 0
