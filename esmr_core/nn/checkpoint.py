"""The one checkpoint convention of every model in the project (huggingface-style folders).

A checkpoint is a folder with
  config.json        {"format": 2, "model_type": ..., "config": {the model's config dataclass},
                      "encoders": [{"name", "version", "dim"}, ...]   frozen encoders whose outputs it reads,
                      "meta": {training facts: data, seed, metrics, ...}, ...model-specific sections}
  model.safetensors  its state dict (no pickle), loaded with strict=True
  README.md          the model card (optional)
Models subclass `Pretrained` (next to torch.nn.Module) and get `save_pretrained` / `from_pretrained`; a
checkpoint of another model type, an older format, or encoders whose installed version differs from the
recorded one is refused with a message saying what to do. Catalogue-derived files (index, map, song guide
embeddings) do not live in a model folder: see paths.derived_dir.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..config import from_dict
from ..errors import ModelUnavailableError
from ..files import atomic_write, atomic_write_text
from ..encoders import get_encoder

FORMAT = 2
CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "README.md"


def encoder_entry(enc: Any) -> dict[str, Any]:
    """How a checkpoint records a frozen encoder: name, version, output size."""
    return {"name": enc.name, "version": str(enc.version), "dim": int(enc.dim)}


def check_encoders(entries: list[dict[str, Any]], where: str, how_to_train: str) -> list[Any]:
    """The installed encoders named by entries, each checked against its recorded version and size
    (an entry's "full_dim", when present, is the encoder's size before columns were dropped)."""
    encs = []
    for e in entries:
        enc = get_encoder(e["name"])
        full = int(e.get("full_dim", e["dim"]))
        if str(enc.version) != str(e["version"]) or int(enc.dim) != full:
            raise ModelUnavailableError(
                f"{where} was trained on encoder {e['name']} v{e['version']} ({full}-d) but v{enc.version} "
                f"({enc.dim}-d) is installed; retrain with `{how_to_train}` or install the matching version")
        encs.append(enc)
    return encs


def write_checkpoint(folder: str | Path, payload: dict[str, Any], module: torch.nn.Module,
                     card: str | None = None) -> Path:
    """Write config.json, model.safetensors (tensors contiguous, on the CPU) and the card if given; each file
    atomically, so a reader never sees half a checkpoint file."""
    from safetensors.torch import save_file

    folder = Path(folder)
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    atomic_write(folder / WEIGHTS, lambda tmp: save_file(state, tmp))
    atomic_write_text(folder / CONFIG, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    if card is not None:
        atomic_write_text(folder / CARD, card)
    return folder


def read_checkpoint(folder: str | Path, what: str, how_to_train: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(config.json payload, state dict) of a checkpoint folder; ModelUnavailableError when it is incomplete."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not ((folder / CONFIG).is_file() and (folder / WEIGHTS).is_file()):
        raise ModelUnavailableError(f"no {what} checkpoint in {folder} (need {CONFIG} and {WEIGHTS}); "
                                    f"train one with `{how_to_train}`")
    try:
        payload = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        state = load_file(str(folder / WEIGHTS))
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"the {what} checkpoint in {folder} cannot be read ({exc}); "
                                    f"train it again with `{how_to_train}`") from None
    return payload, state


class Pretrained:
    """save_pretrained / from_pretrained for a torch.nn.Module whose constructor takes one config dataclass
    (stored as `self.cfg`). Subclasses set MODEL_TYPE, CONFIG_CLASS and HOW_TO_TRAIN, and override
    `encoders()` (frozen encoders read), `sections()` (extra config.json sections) and `from_payload` when
    the constructor needs more than the config."""

    MODEL_TYPE: ClassVar[str]
    CONFIG_CLASS: ClassVar[type]
    HOW_TO_TRAIN: ClassVar[str]

    def encoders(self) -> list[dict[str, Any]]:
        return []

    def sections(self) -> dict[str, Any]:
        return {}

    def save_pretrained(self, directory: str | Path, meta: dict[str, Any] | None = None,
                        card: str | None = None) -> Path:
        payload = {"format": FORMAT, "model_type": self.MODEL_TYPE, "config": asdict(self.cfg),
                   "encoders": self.encoders(), **self.sections(), "meta": meta or {}}
        return write_checkpoint(directory, payload, self, card)

    @classmethod
    def read_payload(cls, directory: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The checked payload and the state dict, without building the model."""
        payload, state = read_checkpoint(directory, cls.MODEL_TYPE, cls.HOW_TO_TRAIN)
        if payload.get("format") != FORMAT:
            raise ModelUnavailableError(
                f"{directory} is a checkpoint in an older format; convert it once with "
                f"`python scripts/convert_checkpoints.py {directory}` or train it again with `{cls.HOW_TO_TRAIN}`")
        if payload.get("model_type") != cls.MODEL_TYPE:
            raise ModelUnavailableError(f"{directory} holds a {payload.get('model_type')!r} model, "
                                        f"not {cls.MODEL_TYPE!r}")
        check_encoders(payload.get("encoders", []), str(directory), cls.HOW_TO_TRAIN)
        return payload, state

    @classmethod
    def from_payload(cls, payload: dict[str, Any]):
        return cls(from_dict(cls.CONFIG_CLASS, payload["config"], f"{cls.MODEL_TYPE} config"))

    @classmethod
    def from_pretrained(cls, directory: str | Path):
        """Rebuild from config.json alone, load model.safetensors with strict=True; eval mode."""
        payload, state = cls.read_payload(directory)
        model = cls.from_payload(payload)
        model.load_state_dict(state, strict=True)
        return model.eval()
