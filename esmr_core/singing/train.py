"""Training of the singing encoders (SSCL timbre / expression / plain ablation, TJAE) on the project's voice audio
(data.py says which), and the library `run(cfg, checkpoints, songs_dir)` behind `esmr sing train`.
Method: docs/methods.md section 3."""
from __future__ import annotations

import logging
import time
from typing import Callable
from pathlib import Path

import numpy as np
import torch

from ..paths import REPO_ROOT
from . import synth
from .config import SSCLConfig, TJAEConfig, TrainConfig
from .data import CROP_S, batch_views, crops, mask_input, precompute_views, song_rows, training_waveforms
from .features import random_crop
from .losses import reconstruction_loss
from .model import TJAE, MoCo

log = logging.getLogger(__name__)

CARD = """# {name}

{what}

- Architecture: {arch}
- Training: self-supervised on the project's own voice audio (`esmr sing train`): the song catalogue's guide
  vocals, catalogue melodies re-rendered with FluidSynth by synthetic singers (GM patches {programs}, registers
  {types}, vibrato {vibrato}), bootstrap speech clips when present. {n_crops} crops of {crop_s} s, {steps} steps,
  batch {batch}, {seconds:.0f} s on CPU.
- Input: 16 kHz mono audio -> 64-band log-mel, 16 ms hop (esmr_core/singing/features.py).
- Output: {output}
- Method: docs/methods.md section 3. Evaluation: docs/singing.md (`esmr sing evaluate`).
- Limits: trained on synthesised voices only (no human singing was available offline); expect a domain gap on
  real recordings.
- Licence: same as the project code.
"""
WHAT = {"timbre": "SSCL timbre-oriented: time-stretched copy = positive, pitch-shifted copy = negative.",
        "expression": "SSCL expression-oriented: pitch-shifted copy = positive, time-stretched copy = negative.",
        "plain": "SSCL ablation: plain instance discrimination (another crop = positive, no policy)."}


def _optimise(params, loss: Callable[[], torch.Tensor], steps: int, lr: float, name: str) -> None:
    """`steps` AdamW steps (weight decay 1e-4) under a one-cycle schedule on the loss of a fresh batch each step;
    the loss logged every 100 steps."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    for step in range(steps):
        value = loss()
        opt.zero_grad()
        value.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log.info(f"{name} step {step}/{steps} loss {value.item():.4f}")


def train_moco(cfg: SSCLConfig, bases: torch.Tensor, shifted: torch.Tensor, *, steps: int = 600,
               batch: int = 48, lr: float = 1e-3, seed: int = 0) -> MoCo:
    """Train MoCo on precomputed crops. bases: (N, M, F); shifted: (N, S, M, F). Returns the trained model."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = MoCo(cfg).train()

    def loss() -> torch.Tensor:
        idx = rng.choice(len(bases), size=min(batch, len(bases)), replace=False)
        return model(*batch_views(bases[idx], shifted[idx], cfg.policy, cfg.crop_frames, rng))

    _optimise(model.encoder_q.parameters(), loss, steps, lr, f"sscl-{cfg.policy}")
    return model.eval()


def train_tjae(cfg: TJAEConfig, bases: torch.Tensor, *, steps: int = 400, batch: int = 32, lr: float = 2e-3,
               seed: int = 0) -> TJAE:
    """Train on log-mel crops bases (N, M, F) (random crop of cfg.crop_frames). Returns the model in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = TJAE(cfg).train()
    sample = bases[torch.from_numpy(rng.choice(len(bases), size=min(256, len(bases)), replace=False))].float()
    model.band_mean.copy_(sample.mean(dim=(0, 2)))
    model.band_std.copy_(sample.std(dim=(0, 2)).clamp_min(1e-3))

    def loss() -> torch.Tensor:
        idx = rng.choice(len(bases), size=min(batch, len(bases)), replace=False)
        clean = torch.stack([random_crop(bases[i].float(), cfg.crop_frames, rng) for i in idx])
        recon, _ = model(mask_input(clean, rng))
        return reconstruction_loss(recon, model.normalize(clean))

    _optimise(model.parameters(), loss, steps, lr, "tjae")
    return model.eval()


def run(cfg: TrainConfig, checkpoints: Path, songs_dir: Path) -> dict:
    """Train SSCL timbre + expression (written to checkpoints/sscl-*), TJAE (checkpoints/tjae) and, for the
    ablation, SSCL plain (written to cfg.work/sscl-plain, not shipped), each with its model card.
    Returns {"seconds": {name: seconds}}. The song guides' embeddings are then stale: `esmr sing index`."""
    checkpoints, songs_dir, work = Path(checkpoints), Path(songs_dir), Path(cfg.work)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    rows = song_rows(songs_dir)
    waves = training_waveforms(rows, songs_dir, speech_dir=REPO_ROOT / "data" / "bootstrap",
                               max_speech=cfg.max_speech, seed=cfg.seed)
    cs = crops(waves)
    bases, shifted = precompute_views(cs, work / "cache", cfg.seed)
    info = dict(programs=list(synth.TRAIN_PROGRAMS), types=list(synth.TRAIN_TYPES),
                vibrato=[list(v) for v in synth.TRAIN_VIBRATO], n_crops=len(cs), crop_s=CROP_S, batch=cfg.batch)
    times = {}
    policies = (("timbre", "expression") + (("plain",) if cfg.with_ablation else ())) if "sscl" in cfg.only else ()
    for policy in policies:
        t = time.time()
        model = train_moco(SSCLConfig(policy=policy), bases, shifted, steps=cfg.sscl_steps, batch=cfg.batch,
                           lr=cfg.sscl_lr, seed=cfg.seed)
        times[f"sscl-{policy}"] = time.time() - t
        card = CARD.format(name=f"sscl-{policy}", what=WHAT[policy] + " MoCo (momentum key encoder, queue of "
                           "negatives, InfoNCE on cosine scores) after Yakura, Watanabe and Goto (TASLP 2022).",
                           arch="4 conv blocks (8-16-32-64 ch) over 64-frame (1 s) log-mel windows, mean+max over "
                           "time, MLP -> 128-d; MoCo queue 1024, m 0.99, temperature 0.1", steps=cfg.sscl_steps,
                           seconds=times[f"sscl-{policy}"],
                           output="(128,) unit vector per 1 s window; a clip = mean of windows (0.5 s hop), "
                           "re-normalised", **info)
        folder = (checkpoints if policy != "plain" else work) / f"sscl-{policy}"
        model.save_pretrained(folder, meta={"n_crops": len(cs), "steps": cfg.sscl_steps, "seed": cfg.seed},
                              card=card)
    if "tjae" in cfg.only:
        t = time.time()
        model = train_tjae(TJAEConfig(), bases, steps=cfg.tjae_steps, batch=32, lr=cfg.tjae_lr, seed=cfg.seed)
        times["tjae"] = time.time() - t
        card = CARD.format(name="tjae", what="Time Jump AutoEncoder (docs/methods.md section 3.3): dilated causal "
                           "Conv1d encoder (dilations 1, 2, 4, 8), skip connections per time scale to the decoder, "
                           "denoising reconstruction (MSE).", arch="64 ch conv layers, kernel 3, 16-channel latent, "
                           "4-channel skips, skip dropout 0.5", steps=cfg.tjae_steps, seconds=times["tjae"],
                           output="(32,) unit vector: mean and std over time of the latent", **{**info, "batch": 32})
        model.save_pretrained(checkpoints / "tjae", meta={"n_crops": len(cs), "steps": cfg.tjae_steps,
                                                          "seed": cfg.seed}, card=card)
    return {"seconds": {k: round(v, 1) for k, v in times.items()}}
