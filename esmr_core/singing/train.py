"""Training of the singing encoders (SSCL timbre / expression / plain ablation, TJAE) on the project's voice audio.

Voice audio used (all rendered or bundled here, nothing downloaded):
  - the song catalogue's guide vocals (assets/songs, 2 per song);
  - catalogue melodies of the even-indexed songs re-rendered by synthetic singers with TRAIN_PROGRAMS,
    TRAIN_TYPES registers and TRAIN_VIBRATO (evaluation singers use other patches, registers, vibrato and songs);
  - the bootstrap speech corpus (data/bootstrap) when it exists (up to `max_speech` clips).
Each waveform is cut into 2.5 s crops; per crop the log-mel and two pitch-shifted log-mels are precomputed once
and cached under data/singing/ (git-ignored).
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import features as fx
from . import synth

CROP_S = 2.5
CARD = """# {name}

{what}

- Architecture: {arch}
- Training: self-supervised on the project's own voice audio (`esmr sing train`): the song catalogue's guide
  vocals, catalogue melodies re-rendered with FluidSynth by synthetic singers (GM patches {programs}, registers
  {types}, vibrato {vibrato}), bootstrap speech clips when present. {n_crops} crops of {crop_s} s, {steps} steps,
  batch {batch}, {seconds:.0f} s on CPU.
- Input: 16 kHz mono audio -> 64-band log-mel, 16 ms hop (esmr_core/singing/features.py).
- Output: {output}
- Evaluation: docs/singing.md (`esmr sing evaluate`).
- Limits: trained on synthesised voices only (no human singing was available offline); expect a domain gap on
  real recordings.
- Licence: same as the project code.
"""


def training_waveforms(rows: list[dict], songs_dir: Path, *, speech_dir: Path | None = None, max_speech: int = 200,
                       seconds: float = 12.0, seed: int = 0, log: Callable = print) -> list[np.ndarray]:
    """All training audio as 16 kHz float32 waveforms."""
    from ..audio import load_music

    rng = np.random.default_rng(seed)
    waves = []
    for row in rows:
        for g in row.get("guides", []):
            waves.append(load_music(songs_dir / g["path"], sr=fx.SR))
    log(f"training audio: {len(waves)} guide vocals")
    train_singers = synth.singers(synth.TRAIN_PROGRAMS, synth.TRAIN_TYPES, synth.TRAIN_VIBRATO)
    for i, row in enumerate(rows[::2]):
        for j in range(3):
            singer = train_singers[int(rng.integers(len(train_singers)))]
            start = int(rng.integers(0, max(1, len(row["melody"]) // 2)))
            waves.append(synth.sing(singer, row, seconds, start_note=start, seed=i * 3 + j)[0])
    log(f"training audio: + {len(rows[::2]) * 3} synthetic singer renders")
    if speech_dir is not None and (speech_dir / "collection.json").is_file():
        from ..data.manifest import load_collection

        coll = load_collection(speech_dir, "speech")
        for row in coll.rows[:max_speech]:
            waves.append(load_music(coll.path(row), sr=fx.SR))
        log(f"training audio: + {min(max_speech, len(coll.rows))} bootstrap speech clips")
    return waves


def crops(waves: list[np.ndarray], crop_s: float = CROP_S) -> list[np.ndarray]:
    """Non-overlapping crops of crop_s seconds with some sound (peak > 0.01)."""
    n = int(crop_s * fx.SR)
    out = []
    for y in waves:
        for s in range(0, len(y) - n + 1, n):
            c = y[s:s + n]
            if np.abs(c).max() > 0.01:
                out.append((0.5 * c / np.abs(c).max()).astype(np.float32))
    return out


def precompute_views(waves_crops: list[np.ndarray], cache: Path | None, seed: int = 0,
                     log: Callable = print) -> tuple[torch.Tensor, torch.Tensor]:
    """(bases (N, M, F) float16, shifted (N, 2, M, F) float16), cached in `cache` keyed by the audio's hash."""
    from .sscl import make_views

    h = hashlib.sha1()
    for c in waves_crops:
        h.update(c[:: 97].tobytes())
    key = h.hexdigest()[:16]
    if cache is not None and (cache / f"views-{key}.pt").is_file():
        d = torch.load(cache / f"views-{key}.pt")
        return d["bases"], d["shifted"]
    rng = np.random.default_rng(seed)
    t = time.time()
    views = [make_views(c, rng) for c in waves_crops]
    bases = torch.stack([v["base"] for v in views])
    shifted = torch.stack([v["shifted"] for v in views])
    log(f"views: {len(views)} crops in {time.time() - t:.0f} s")
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        torch.save({"bases": bases, "shifted": shifted}, cache / f"views-{key}.pt")
    return bases, shifted


def train_all(checkpoints: Path, songs_dir: Path, *, work: Path, sscl_steps: int = 300, tjae_steps: int = 200,
              batch: int = 32, with_ablation: bool = True, only: tuple[str, ...] = ("sscl", "tjae"), seed: int = 0,
              log: Callable = print) -> dict:
    """Train SSCL timbre + expression (saved to checkpoints/sscl-*), TJAE (checkpoints/tjae) and, for the ablation,
    SSCL plain (saved to work/sscl-plain, not shipped). Returns {name: seconds}."""
    from ..data.manifest import load_collection
    from . import sscl, tjae

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    rows = load_collection(songs_dir, "songs").rows
    speech = Path(__file__).resolve().parents[2] / "data" / "bootstrap"
    waves = training_waveforms(rows, songs_dir, speech_dir=speech, seed=seed, log=log)
    cs = crops(waves)
    bases, shifted = precompute_views(cs, work / "cache", seed, log)
    info = dict(programs=list(synth.TRAIN_PROGRAMS), types=list(synth.TRAIN_TYPES),
                vibrato=[list(v) for v in synth.TRAIN_VIBRATO], n_crops=len(cs), crop_s=CROP_S, batch=batch)
    times = {}
    policies = (("timbre", "expression") + (("plain",) if with_ablation else ())) if "sscl" in only else ()
    for policy in policies:
        t = time.time()
        cfg = sscl.SSCLConfig(policy=policy)
        model = sscl.train_moco(cfg, bases, shifted, steps=sscl_steps, batch=batch, seed=seed, log=log)
        times[f"sscl-{policy}"] = time.time() - t
        what = {"timbre": "SSCL timbre-oriented: time-stretched copy = positive, pitch-shifted copy = negative.",
                "expression": "SSCL expression-oriented: pitch-shifted copy = positive, time-stretched copy = negative.",
                "plain": "SSCL ablation: plain instance discrimination (another crop = positive, no policy)."}[policy]
        card = CARD.format(name=f"sscl-{policy}", what=what + " MoCo (momentum key encoder, queue of negatives, "
                           "InfoNCE on cosine scores) after Yakura, Watanabe and Goto (TASLP 2022).",
                           arch="4 conv blocks (8-16-32-64 ch) over 64-frame (1 s) log-mel windows, mean+max over "
                           "time, MLP -> 128-d; MoCo queue 1024, m 0.99, temperature 0.1", steps=sscl_steps, seconds=times[f"sscl-{policy}"],
                           output="(128,) unit vector per 1 s window; a clip = mean of windows (0.5 s hop), "
                           "re-normalised", **info)
        folder = (checkpoints if policy != "plain" else work) / f"sscl-{policy}"
        sscl.save(model, folder, card, {"n_crops": len(cs), "steps": sscl_steps, "seed": seed})
    if "tjae" not in only:
        return times
    t = time.time()
    model = tjae.train_tjae(tjae.TJAEConfig(), bases, steps=tjae_steps, batch=32, seed=seed, log=log)
    times["tjae"] = time.time() - t
    card = CARD.format(name="tjae", what="Time Jump AutoEncoder (seeds/002): dilated causal Conv1d encoder "
                       "(dilations 1, 2, 4, 8), skip connections per time scale to the decoder, denoising "
                       "reconstruction (MSE).", arch="64 ch conv layers, kernel 3, 16-channel latent, 4-channel "
                       "skips, skip dropout 0.5", steps=tjae_steps, seconds=times["tjae"],
                       output="(32,) unit vector: mean and std over time of the latent", **{**info, "batch": 32})
    tjae.save(model, checkpoints / "tjae", card, {"n_crops": len(cs), "steps": tjae_steps, "seed": seed})
    return times
