"""Convert checkpoints written before the one checkpoint convention (format 2, esmr_core/nn/checkpoint.py)
to it, in place: config.json is rewritten, model.safetensors is untouched (the state dicts did not change).

    python scripts/convert_checkpoints.py checkpoints/esmr-default checkpoints/mate-default ...
    python scripts/convert_checkpoints.py            (every model folder under checkpoints/)

Old layouts: esmr-joint {"model_type", "config", "feature_spec", "emotions", "moods", "space", "meta"};
MATE {"model_type": "mate", ...config fields..., "meta"}; SSCL {"model": "sscl-moco", ...config fields...,
training facts}; TJAE {"model": "tjae", ...}. A folder already in format 2 is left alone.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

FORMAT = 2

# Config field names of the old flat layouts (the rest of a flat config.json was training facts -> meta).
SSCL_FIELDS = ("n_mels", "channels", "dim", "queue_size", "momentum", "temperature", "crop_frames", "policy")
TJAE_FIELDS = ("n_mels", "hidden", "latent", "skip", "dilations", "kernel", "crop_frames", "skip_drop")
MATE_TEXT = {"minilm": {"name": "minilm", "version": "1", "dim": 384}}   # text encoder of every MATE so far


def _split(flat: dict, names: tuple[str, ...], drop: tuple[str, ...]) -> tuple[dict, dict]:
    config = {k: flat[k] for k in names if k in flat}
    meta = {k: v for k, v in flat.items() if k not in config and k not in drop}
    return config, meta


def convert_payload(old: dict) -> dict:
    """The format-2 config.json of an old one (ValueError for a layout this script does not know)."""
    if old.get("format") == FORMAT:
        return old
    kind = old.get("model_type") or old.get("model")
    if kind == "esmr-joint":
        spec = old.get("feature_spec") or {}
        encoders = [{k: e[k] for k in ("name", "version", "dim", "full_dim") if k in e}
                    for side in ("speech", "music") for e in spec.get(side, [])]
        return {"format": FORMAT, "model_type": "esmr-joint", "config": old["config"], "encoders": encoders,
                "feature_spec": spec, "meta": old.get("meta", {})}
    if kind == "mate":
        flat = {k: v for k, v in old.items() if k not in ("model_type", "meta")}
        encoders = [MATE_TEXT[flat["text_encoder"]]] if flat.get("use_text", True) else []
        return {"format": FORMAT, "model_type": "mate", "config": flat, "encoders": encoders,
                "meta": old.get("meta", {})}
    if kind == "sscl-moco":
        config, meta = _split(old, SSCL_FIELDS, ("model",))
        return {"format": FORMAT, "model_type": "sscl", "config": config, "encoders": [], "meta": meta}
    if kind == "tjae":
        config, meta = _split(old, TJAE_FIELDS, ("model",))
        return {"format": FORMAT, "model_type": "tjae", "config": config, "encoders": [], "meta": meta}
    raise ValueError(f"unknown checkpoint layout (model_type/model {kind!r})")


def convert(folder: Path) -> bool:
    """Rewrite folder/config.json in format 2; False when it already was."""
    path = folder / "config.json"
    old = json.loads(path.read_text(encoding="utf-8"))
    new = convert_payload(old)
    if new is old:
        return False
    path.write_text(json.dumps(new, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1] / "checkpoints"
    folders = [Path(a) for a in argv] or sorted(p.parent for p in root.glob("*/config.json"))
    for f in folders:
        print(f"{f}: {'converted' if convert(f) else 'already format 2'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
