"""The checkpoint format every model of the project uses (huggingface-style): a folder with
config.json (everything needed to rebuild the model) + model.safetensors (its state dict, no pickle)
+ optionally README.md (the model card)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelUnavailableError

CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "README.md"


def write_checkpoint(folder: str | Path, config: dict[str, Any], module: torch.nn.Module,
                     card: str | None = None) -> Path:
    """Write config.json, model.safetensors (tensors made contiguous, on the CPU) and the card if given."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    if card is not None:
        (folder / CARD).write_text(card, encoding="utf-8")
    return folder


def read_checkpoint(folder: str | Path, what: str, how_to_train: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(config dict, state dict) of a checkpoint folder; a clear ModelUnavailableError when it is incomplete."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not ((folder / CONFIG).is_file() and (folder / WEIGHTS).is_file()):
        raise ModelUnavailableError(f"no {what} checkpoint in {folder} (need {CONFIG} and {WEIGHTS}); "
                                    f"train one with `{how_to_train}`")
    return json.loads((folder / CONFIG).read_text(encoding="utf-8")), load_file(str(folder / WEIGHTS))
