"""The corpus builders' resources: the sentence bank (texts per emotion) and the per-emotion prosody profiles
(Juslin & Laukka 2003; Murray & Arnott 1993; Banse & Scherer 1996), both in esmr_core/resources/."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..emotion import EMOTIONS
from ..errors import EsmrError
from ..paths import RESOURCES_DIR


def load_sentence_bank(path: str | Path | None = None) -> dict[str, Any]:
    """The sentence bank: {"emotions": {label: [{"id", "text"}...]}, "lexically_neutral": [{"id", "text"}...]}."""
    path = Path(path) if path else RESOURCES_DIR / "sentence_bank.json"
    bank = json.loads(path.read_text(encoding="utf-8"))
    missing = [e for e in EMOTIONS if e not in bank.get("emotions", {})]
    if missing:
        raise EsmrError(f"sentence bank {path} lacks emotions {missing}")
    return bank


def bank_hash(path: str | Path | None = None) -> str:
    """sha256 (first 16 hex digits) of the sentence-bank file."""
    path = Path(path) if path else RESOURCES_DIR / "sentence_bank.json"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_prosody_profiles(path: str | Path | None = None) -> dict[str, dict[str, list[float]]]:
    """Per-emotion ranges: label -> {"rate", "pitch_st", "range", "gain_db", "noise_scale", "noise_w_scale"}."""
    path = Path(path) if path else RESOURCES_DIR / "prosody_profiles.json"
    profiles = json.loads(path.read_text(encoding="utf-8"))["profiles"]
    missing = [e for e in EMOTIONS if e not in profiles]
    if missing:
        raise EsmrError(f"prosody profiles {path} lack emotions {missing}")
    return profiles


def seeded_rng(seed: int, key: str) -> np.random.Generator:
    """A generator that depends only on (seed, key): stable across runs, worker counts and Python versions."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
