"""MATE at inference: the `Mate` wrapper turns a 16 kHz clip (and optionally its transcript) into 7 emotion
probabilities, arousal and valence on 1..5; `predict_dialogue` reads a sequence of utterances as one dialogue
(docs/methods.md section 4)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..encoders import get_encoder
from ..errors import AudioError, EsmrError
from ..paths import checkpoints_dir
from .data import mels_of
from .model import MateModel


class Mate:
    """Inference wrapper: audio (+ optional transcript) -> 7 emotion probabilities, arousal and valence on 1..5."""

    def __init__(self, model: MateModel, text_encoder=None):
        self.model = model.eval()
        self.config = model.config
        self._text_encoder = text_encoder
        self._logmel = model.logmel

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None) -> "Mate":
        return cls(MateModel.from_pretrained(directory or checkpoints_dir() / "mate-default"))

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """(N, E) float32 sentence vectors of texts from the model's text encoder (built on first use)."""
        if self._text_encoder is None:
            self._text_encoder = get_encoder(self.config.text_encoder)
        return np.asarray(self._text_encoder.encode_texts(list(texts)), np.float32)

    @torch.no_grad()
    def predict(self, samples16k: np.ndarray, text: str | None = None, text_weight: float = 1.0) -> dict[str, Any]:
        """samples16k: (L,) mono float waveform at 16 kHz; text: transcript or None/empty (audio only);
        text_weight in [0, 1]: how far the words are trusted (blended towards the missing-text vector).

        Returns {"label", "probabilities": {emotion: p}, "arousal", "valence" (1..5), "modalities"}."""
        y = np.asarray(samples16k, np.float32)
        if y.ndim != 1 or not np.isfinite(y).all():
            raise AudioError("MATE needs one channel of finite 16 kHz samples; downmix and resample first")
        cfg, modalities = self.config, []
        mels = lengths = None
        if cfg.use_audio:
            m = mels_of(y, cfg, self._logmel)
            mels, lengths = torch.from_numpy(m)[None], torch.tensor([m.shape[1]])
            modalities.append("audio")
        tvec = has = None
        if cfg.use_text:
            use = bool(text and text.strip())
            tvec = torch.from_numpy(self.text_vectors([text])) if use else torch.zeros(1, cfg.text_dim)
            has = torch.tensor([float(text_weight) if use else 0.0])
            if use and text_weight > 0:
                modalities.append("text")
        if not modalities:
            raise EsmrError("this MATE model reads text only; give a transcript")
        out = self.model(mels, lengths, tvec, has)
        probs = out["probs"][0, 0].numpy()
        return {"label": cfg.emotions[int(probs.argmax())],
                "probabilities": {e: float(p) for e, p in zip(cfg.emotions, probs)},
                "arousal": float(out["arousal"][0, 0]), "valence": float(out["valence"][0, 0]),
                "modalities": modalities}

    @torch.no_grad()
    def predict_dialogue(self, utterances: Sequence[np.ndarray], texts: Sequence[str | None] | None = None,
                         context: int | None = None) -> list[dict[str, Any]]:
        """Read a sequence of utterances as one dialogue: the LSTM runs over them in order, so utterance i is
        read with the preceding ones as its context (the paper's dialogue setting, docs/methods.md section 4;
        `predict` is a dialogue of one).

        utterances: S mono float waveforms at 16 kHz; texts: S transcripts (None/"" = audio only) or None.
        context: how many preceding utterances each reading sees (None = all of them: one pass over the whole
        sequence; k: a window of the k previous utterances, so a reading does not depend on what was said
        long before). Returns S dicts shaped like `predict`'s."""
        cfg, n = self.config, len(utterances)
        if n == 0:
            return []
        texts = list(texts) if texts is not None else [None] * n
        if len(texts) != n:
            raise EsmrError(f"predict_dialogue got {n} utterances but {len(texts)} transcripts")
        if context is not None and int(context) < 0:
            raise EsmrError(f"context must be None or a number of utterances >= 0, got {context}")
        mels = lengths = None
        if cfg.use_audio:
            ms = []
            for y in utterances:
                y = np.asarray(y, np.float32)
                if y.ndim != 1 or not np.isfinite(y).all():
                    raise AudioError("MATE needs one channel of finite 16 kHz samples; downmix and resample first")
                ms.append(mels_of(y, cfg, self._logmel))
            lens = np.array([m.shape[1] for m in ms])
            mels = np.zeros((n, ms[0].shape[0], lens.max()), np.float32)
            for i, m in enumerate(ms):
                mels[i, :, :lens[i]] = m
            mels, lengths = torch.from_numpy(mels), torch.from_numpy(lens)
        tvec = has = None
        use = [bool(t and t.strip()) for t in texts]
        if cfg.use_text:
            tvec = torch.zeros(n, cfg.text_dim)
            if any(use):
                vecs = self.text_vectors([t for t, u in zip(texts, use) if u])
                tvec[torch.tensor(use)] = torch.from_numpy(vecs)
            has = torch.tensor(use)
        if not cfg.use_audio and not all(use):
            raise EsmrError("this MATE model reads text only; give a transcript for every utterance")
        if context is None or int(context) + 1 >= n:   # one dialogue of all S utterances
            out = self.model(mels, lengths, tvec, has, seq_lengths=torch.tensor([n]), seq_shape=(1, n))
            probs, aro, val = out["probs"][0], out["arousal"][0], out["valence"][0]
        else:   # S dialogues: utterance i with its k predecessors, read at its own (last) step
            k = int(context) + 1
            rows = np.array([[max(0, i - k + 1) + j for j in range(k)] for i in range(n)])   # (S, k)
            seq = np.minimum(np.arange(n) + 1, k)
            rows = np.minimum(rows, np.arange(n)[:, None])                                   # pad with row i
            flat = torch.from_numpy(rows.reshape(-1))
            pick = lambda t: None if t is None else t[flat]                                  # noqa: E731
            out = self.model(pick(mels), pick(lengths), pick(tvec), pick(has),
                             seq_lengths=torch.from_numpy(seq), seq_shape=(n, k))
            last = torch.from_numpy(seq - 1)[:, None]
            probs = out["probs"].gather(1, last[..., None].expand(-1, -1, out["probs"].shape[-1]))[:, 0]
            aro, val = out["arousal"].gather(1, last)[:, 0], out["valence"].gather(1, last)[:, 0]
        mods = (["audio"] if cfg.use_audio else [])
        res = []
        for i in range(n):
            p = probs[i].numpy()
            res.append({"label": cfg.emotions[int(p.argmax())],
                        "probabilities": {e: float(x) for e, x in zip(cfg.emotions, p)},
                        "arousal": float(aro[i]), "valence": float(val[i]),
                        "modalities": mods + (["text"] if cfg.use_text and use[i] else [])})
        return res
