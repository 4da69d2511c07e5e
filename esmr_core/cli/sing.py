"""`esmr sing`: songs to sing from a singing clip; training and evaluation of the singing encoders.

    esmr sing recommend PATH [--json] [--top-k 5] [--weights range=1,timbre=0.25]
    esmr sing train [--sscl-steps 300] [--tjae-steps 200] [--no-ablation] [--only sscl|tjae] [--config FILE]
    esmr sing evaluate [--json] [--clips 3] [--seconds 12] [--speech] [--out FILE]
    esmr sing index    (re)compute the song guides' embeddings into the song catalogue (assets/songs/guides.npz)

`esmr sing ACTION --help` lists the options of each action.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..config import from_dict
from ..errors import EsmrError
from ..files import to_json, write_json
from ..paths import checkpoints_dir, default_songs_dir


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sing", help="recommend songs to sing from 10-30 s of singing; train/evaluate the singing encoders",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="sing_command", metavar="ACTION")

    rec = sub.add_parser("recommend", help="songs to sing, with key and reasons, from a singing recording",
                         description="Songs to sing from a recording of 10-30 s of singing: your range, then the "
                         "top songs with the key to sing them in and why.")
    rec.add_argument("path", metavar="PATH", help="audio file with 10-30 s of singing")
    rec.add_argument("--json", action="store_true", help="print one JSON object")
    rec.add_argument("--top-k", type=int, default=5, help="how many songs (default: %(default)s)")
    rec.add_argument("--weights", metavar="NAME=NUMBER,...",
                     help="factor weights for range, timbre, expression, voice, mood (default: the grid search's)")
    _common(rec)
    rec.set_defaults(func=_recommend)

    train = sub.add_parser("train", help="train SSCL (timbre, expression) and TJAE, then index the song guides",
                           description="Train the singing encoders on the project's own voice audio and rewrite "
                           "the song guides' embeddings (docs/singing.md).")
    _common(train)
    train.add_argument("--config", type=Path, help="JSON file of a singing TrainConfig (options below override it)")
    train.add_argument("--work", help="cache and ablation models (default: data/singing)")
    train.add_argument("--sscl-steps", type=int, help="SSCL steps per policy (default: 300)")
    train.add_argument("--tjae-steps", type=int, help="TJAE steps (default: 200)")
    train.add_argument("--no-ablation", action="store_true", help="skip the plain (no-policy) SSCL model")
    train.add_argument("--only", choices=("sscl", "tjae"), help="train only this model")
    train.add_argument("--seed", type=int, help="default: 0")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="evaluate on held-out synthetic singers",
                        description="Range-fit P@5, voice match and same-voice accuracy on synthetic singers; the "
                        "grid search that sets the default weights (docs/singing.md).")
    _common(ev)
    ev.add_argument("--work", type=Path, default=Path("data/singing"), help="where the ablation model lives")
    ev.add_argument("--json", action="store_true", help="print JSON (default: a short summary)")
    ev.add_argument("--clips", type=int, default=3, help="clips per test singer")
    ev.add_argument("--seconds", type=float, default=12.0, help="length of each synthetic clip")
    ev.add_argument("--speech", action="store_true", help="also measure speech vs singing (piper TTS)")
    ev.add_argument("--out", type=Path, help="also write the JSON here")
    ev.set_defaults(func=_evaluate)

    idx = sub.add_parser("index", help="embed the song catalogue's guide vocals",
                         description="Compute the guide vocals' embeddings with the singing encoders and write "
                         "them into the song catalogue's folder (kept when already made from the same catalogue "
                         "and encoders).")
    _common(idx)
    idx.add_argument("--out", type=Path, help="file to write (default: SONGS/guides.npz)")
    idx.set_defaults(func=_index)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoints", type=Path, default=checkpoints_dir(), help="folder with sscl-*/ and tjae/")
    p.add_argument("--songs", type=Path, default=default_songs_dir(), help="song collection folder")


def parse_weights(text: str | None) -> dict[str, float] | None:
    """'range=1,timbre=0.5' -> {"range": 1.0, "timbre": 0.5}; None -> None (defaults)."""
    from ..inputs import weights
    from ..singing.recommend import FACTORS

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
    return weights(out, names=FACTORS)   # the same names and range as the app's sliders


def _recommend(a: argparse.Namespace) -> int:
    from ..audio import load_audio
    from ..singing.recommend import SingingRecommender, result_json

    weights = parse_weights(a.weights)
    audio = load_audio(a.path, require_voice=False, max_seconds=30.0)
    rec = SingingRecommender.load(a.checkpoints, a.songs)
    analysis = rec.analyze(audio.samples)
    out = result_json(analysis, rec.rank(analysis, weights, a.top_k))
    if a.json:
        print(to_json(out, indent=2))
        return 0
    r = out["range"]
    print(f"your range: {r['low']}-{r['high']} ({r['low_hz']:.0f}-{r['high_hz']:.0f} Hz)")
    for i, s in enumerate(out["songs"], 1):
        print(f"{i}. {s['title']} - sing in {s['key']} ({s['transpose_semitones']:+d}), melody "
              f"{s['melody_range'][0]}-{s['melody_range'][1]}, score {s['score']:.3f}")
        for reason in s["reasons"][1:]:
            print(f"     {reason}")
    return 0


def _train(a: argparse.Namespace) -> int:
    from ..singing.config import TrainConfig, load_config
    from ..singing.train import run

    overrides = {"work": a.work, "sscl_steps": a.sscl_steps, "tjae_steps": a.tjae_steps, "seed": a.seed,
                 "with_ablation": False if a.no_ablation else None, "only": [a.only] if a.only else None}
    if a.config:
        cfg = load_config(a.config, **overrides)
    else:
        cfg = from_dict(TrainConfig, {k: v for k, v in overrides.items() if v is not None}, "singing training options")
    result = run(cfg, a.checkpoints, a.songs)
    _write_index(a.checkpoints, a.songs, None)
    print(to_json(result))
    return 0


def _write_index(checkpoints: Path, songs: Path, out: Path | None) -> dict:
    from ..singing.data import song_rows
    from ..singing.recommend import (GUIDES_FILE, Embedders, compute_guides, guides_fingerprint, read_guides,
                                     write_guides)

    rows = song_rows(songs)
    out = out or songs / GUIDES_FILE
    emb = Embedders(checkpoints)
    data = read_guides(out, guides_fingerprint(songs, emb))
    written = data is None
    if written:
        data = compute_guides(emb, songs, rows)
        try:
            write_guides(out, data)
        except OSError as exc:
            raise EsmrError(f"cannot write {out}: {exc}; pass --out FILE") from None
    return {"guides": int(len(data["keys"])), "file": str(out), "written": written}


def _index(a: argparse.Namespace) -> int:
    print(to_json(_write_index(a.checkpoints, a.songs, a.out)))
    return 0


def _evaluate(a: argparse.Namespace) -> int:
    from ..singing.evaluate import evaluate, speech_vs_singing

    res = evaluate(a.checkpoints, a.songs, work=a.work, clips=a.clips, seconds=a.seconds)
    if a.speech:
        res["sustained_ratio"] = speech_vs_singing()
    if a.out:
        write_json(a.out, res)
    if a.json:
        print(to_json(res, indent=2))
    else:
        print(f"range-fit P@5: {res['range_p_at_5']}")
        print(f"same-voice accuracy: {res['same_voice_accuracy']}")
        print(f"default weights: {res['default_weights']}")
    return 0
