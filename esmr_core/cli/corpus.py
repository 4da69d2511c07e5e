"""`esmr corpus bootstrap` (synthesise the emotional-speech corpus) and `esmr corpus info` (summarise one)."""
from __future__ import annotations

import argparse
import json
import sys
import time

DEFAULT_OUT = "data/bootstrap"
RAW_DIR = "data/raw"
DEBS_DIR = "data/debs"


def register(subparsers) -> None:
    parser = subparsers.add_parser("corpus", help="build or summarise the bootstrap emotional-speech corpus",
                                   description="Synthetic emotional speech (espeak-ng + piper) with per-emotion "
                                   "prosody, and real human speech (Debian packages) made emotional by rule; the "
                                   "training data of the default models.")
    sub = parser.add_subparsers(dest="corpus_command", metavar="ACTION")
    boot = sub.add_parser("bootstrap", help="build the corpus (synthetic + real-voice parts) into a collection folder")
    boot.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    boot.add_argument("--seed", type=int, default=0, help="seed of splits, voice choice and prosody draws")
    boot.add_argument("--workers", type=int, default=2, help="worker processes (default: %(default)s)")
    boot.add_argument("--limit", type=int, default=None, help="render only N clips (per part), spread over emotions "
                      "and engines / speakers")
    boot.add_argument("--only", choices=["synthetic", "real"], default=None,
                      help="build one part only; the other part's rows in the folder are kept (default: both)")
    boot.add_argument("--raw", default=RAW_DIR, help="real-voice packages are unpacked here (default: %(default)s)")
    boot.add_argument("--debs", default=DEBS_DIR, help="and downloaded here with apt-get when missing "
                      "(default: %(default)s)")
    boot.set_defaults(func=_bootstrap)
    info = sub.add_parser("info", help="counts per split/label/voice and hours of a corpus")
    info.add_argument("dir", nargs="?", default=DEFAULT_OUT, help="corpus folder (default: %(default)s)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=_info)
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])


def _bootstrap(args: argparse.Namespace) -> int:
    from ..data.corpus import bootstrap, corpus_info
    from ..errors import EsmrError

    if args.limit is not None and args.limit < 1:
        raise EsmrError("--limit must be at least 1")
    if not 1 <= args.workers <= 64:
        raise EsmrError("--workers must be between 1 and 64")
    t0 = time.time()
    step = 1 if args.limit else 100

    last = [0]

    def progress(done: int, total: int) -> None:
        if done // step > last[0] // step or done == total:
            print(f"{done}/{total} clips ({time.time() - t0:.0f} s)", file=sys.stderr)
        last[0] = done

    command = " ".join(["esmr", "corpus", "bootstrap", "--out", args.out, "--seed", str(args.seed),
                        "--workers", str(args.workers)] + (["--limit", str(args.limit)] if args.limit else [])
                       + (["--only", args.only] if args.only else []))
    coll = bootstrap(args.out, seed=args.seed, workers=args.workers, limit=args.limit, command=command,
                     progress=progress, only=args.only, raw_dir=args.raw, debs_dir=args.debs)
    info = corpus_info(coll)
    real = info.get("real_voices")
    print(f"{info['clips']} clips, {info['hours']} h, per split {info['per_split']} -> {args.out} "
          f"({time.time() - t0:.0f} s)" + (f"; real voices: {real['clips']} clips, speakers per split "
                                           f"{real['speakers_per_split']}" if real else ""))
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..data.corpus import corpus_info
    from ..data.manifest import load_collection
    from ..errors import EsmrError

    try:
        coll = load_collection(args.dir, kind="speech")
    except EsmrError as exc:
        raise EsmrError(f"{exc}; build the corpus with `esmr corpus bootstrap --out {args.dir}`") from None
    info = corpus_info(coll)
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key:>22}: {value}")
    return 0
