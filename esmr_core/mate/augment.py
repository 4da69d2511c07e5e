"""Channel augmentation of MATE's log-mels and the consistency term (docs/channel.md, MATE section).

`LogMelChannelAug` imitates, on the cached log-mel spectrogram itself (so training keeps the mel cache), what a
transmission channel does to a voice: a telephone band limit (bands below ~250-400 Hz and above ~3-4 kHz
attenuated by 30-50 dB, smooth edges), a spectral tilt plus a smooth random EQ curve of a few dB, an additive
stationary noise floor of random colour at 5-30 dB SNR relative to the utterance's mean power (added in the power
domain, with the chi-square spread a mel band of noise has), a short reverberant tail (a decaying sum over earlier
frames, in the power domain) and a random gain. Each utterance of a batch is augmented with probability p, each
effect with its own probability; all draws come from the numpy Generator passed in, so a seed gives the same
batch twice.

`consistency_loss` is the consistency-regularisation term of UDA (Xie, Dai, Hovy, Luong, Le, "Unsupervised Data
Augmentation for Consistency Training", NeurIPS 2020): a symmetric KL between the emotion distributions of an
utterance and of its augmented copy plus a squared difference of their arousal and valence (on 1..5, scaled to
0..1). Reimplemented here from the paper's description.

Shapes: N utterances, M mel bands, T frames. Log-mels are log(1e-6 + power), as esmr_core.mate.model.LogMel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import MateConfig
from .model import mel_centres

FLOOR = 1e-6   # LogMel's floor: log(power + FLOOR)


@dataclass
class ChannelAugParams:
    """Ranges of the random channel (each draw uniform in its range unless said otherwise)."""

    p_band: float = 0.5                          # telephone band limit
    lo_hz: tuple[float, float] = (250.0, 400.0)  # lower band edge
    hi_hz: tuple[float, float] = (3000.0, 4000.0)  # upper band edge
    stop_db: tuple[float, float] = (30.0, 50.0)  # attenuation outside the band
    edge_octaves: float = 0.15                   # width of the band edges (logistic, in octaves)
    p_eq: float = 0.8                            # spectral tilt + smooth EQ
    tilt_db_per_octave: float = 2.0              # tilt slope drawn in +- this, around 1 kHz
    eq_db: float = 3.0                           # amplitude of the smooth EQ curve (3 cosine terms on log f)
    p_noise: float = 0.6                         # additive noise floor
    snr_db: tuple[float, float] = (5.0, 30.0)    # relative to the utterance's mean power (valid frames)
    noise_slope_db_per_octave: tuple[float, float] = (-6.0, 1.0)  # noise colour: brown .. slightly blue
    p_reverb: float = 0.25                       # reverberant tail
    rt60_s: tuple[float, float] = (0.2, 0.8)
    drr_db: tuple[float, float] = (0.0, 10.0)    # direct-to-reverberant ratio
    renormalise: bool = False                    # rescale the channel's output to the input's mean power (as
    #                                              the app's loudness normalisation does) before the gain
    gain_db: float = 6.0                         # random gain in +- this (always applied to an augmented clip)


def band_dof(cfg: MateConfig) -> np.ndarray:
    """(M,) effective number of FFT bins each mel band sums, (sum w)^2 / sum w^2: the shape of the gamma
    distribution of a band's noise power in one frame."""
    import librosa

    fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels)
    return np.maximum(fb.sum(1) ** 2 / np.maximum((fb ** 2).sum(1), 1e-12), 1.0)


class LogMelChannelAug:
    """Random channel on a batch of log-mels (N, M, T) with valid frame counts (N,). See the module docstring."""

    def __init__(self, cfg: MateConfig, params: ChannelAugParams | None = None):
        self.cfg, self.params = cfg, params or ChannelAugParams()
        self.freqs = mel_centres(cfg)
        self.log_f = np.log2(np.maximum(self.freqs, 20.0) / 1000.0)      # octaves re 1 kHz
        self.dof = band_dof(cfg)
        self.frame_s = cfg.hop_length / cfg.sample_rate

    def band_limit_db(self, lo: float, hi: float, stop: float) -> np.ndarray:
        """(M,) attenuation in dB (<= 0) of a band limit lo..hi Hz with smooth edges."""
        w = self.params.edge_octaves
        below = 1.0 / (1.0 + np.exp(-np.log2(lo / np.maximum(self.freqs, 1.0)) / w))
        above = 1.0 / (1.0 + np.exp(-np.log2(self.freqs / hi) / w))
        return -stop * np.clip(below + above, 0.0, 1.0)

    def __call__(self, mels: torch.Tensor, lengths: torch.Tensor, rng: np.random.Generator,
                 p: float = 1.0) -> torch.Tensor:
        """A new tensor: each utterance, with probability p, through a random channel (the others unchanged).
        Frames past an utterance's length are left as they were."""
        if mels.ndim != 3 or mels.shape[1] != len(self.freqs):
            raise ValueError(f"expected log-mels (N, {len(self.freqs)}, T), got {tuple(mels.shape)}")
        pr = self.params
        x = mels.detach().cpu().numpy().astype(np.float64)
        out = x.copy()
        n, m, t = x.shape
        lens = lengths.detach().cpu().numpy().astype(int)
        for i in range(n):
            if rng.random() >= p:
                continue
            L = int(np.clip(lens[i], 1, t))
            power = np.maximum(np.exp(x[i, :, :L]) - FLOOR, 0.0)                      # (M, L)
            p_in = power.mean()
            db = np.zeros(m)
            if rng.random() < pr.p_band:
                db += self.band_limit_db(rng.uniform(*pr.lo_hz), rng.uniform(*pr.hi_hz), rng.uniform(*pr.stop_db))
            if rng.random() < pr.p_eq:
                z = (self.log_f - self.log_f.min()) / max(np.ptp(self.log_f), 1e-9)   # 0..1 along log f
                db += rng.uniform(-pr.tilt_db_per_octave, pr.tilt_db_per_octave) * self.log_f
                db += sum(rng.uniform(-pr.eq_db, pr.eq_db) / k * np.cos(np.pi * k * z + rng.uniform(0, 2 * np.pi))
                          for k in (1, 2, 3))
            power = power * (10.0 ** (db / 10.0))[:, None]
            if rng.random() < pr.p_reverb:
                from scipy.signal import lfilter

                rt60 = rng.uniform(*pr.rt60_s)
                a = 10.0 ** (-6.0 * self.frame_s / rt60)                            # power decay per frame
                tail = lfilter([0.0, 1.0 - a], [1.0, -a], power, axis=1)              # earlier frames only
                power = power + tail * 10.0 ** (-rng.uniform(*pr.drr_db) / 10.0)
            if rng.random() < pr.p_noise:
                shape = 10.0 ** (rng.uniform(*pr.noise_slope_db_per_octave) * self.log_f / 10.0)
                shape = shape / shape.mean()
                level = power.mean() * 10.0 ** (-rng.uniform(*pr.snr_db) / 10.0)
                noise = rng.gamma(self.dof[:, None], 1.0 / self.dof[:, None], size=(m, L))   # mean 1
                power = power + level * shape[:, None] * noise
            if pr.renormalise and power.mean() > 0:
                power = power * (p_in / power.mean())
            power = power * 10.0 ** (rng.uniform(-pr.gain_db, pr.gain_db) / 10.0)
            out[i, :, :L] = np.log(power + FLOOR)
        return torch.from_numpy(out.astype(np.float32)).to(mels.device)


def consistency_loss(clean: dict[str, torch.Tensor], aug: dict[str, torch.Tensor],
                     av_weight: float = 1.0) -> torch.Tensor:
    """UDA-style consistency between two readings of the same utterances (model outputs: logits, arousal,
    valence): mean symmetric KL of the emotion distributions + av_weight x mean squared difference of arousal
    and valence on a 0..1 scale (the model's 1..5 divided by 4). Zero when the readings are identical."""
    lc = F.log_softmax(clean["logits"].reshape(-1, clean["logits"].shape[-1]), -1)
    la = F.log_softmax(aug["logits"].reshape(-1, aug["logits"].shape[-1]), -1)
    kl = 0.5 * ((lc.exp() * (lc - la)).sum(-1) + (la.exp() * (la - lc)).sum(-1))
    av = sum(((clean[k].reshape(-1) - aug[k].reshape(-1)) / 4.0) ** 2 for k in ("arousal", "valence"))
    return kl.mean() + av_weight * av.mean()
