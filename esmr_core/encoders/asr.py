"""English speech recognition with PocketSphinx (CMU Sphinx, BSD), models inside the package.

`AsrTranscriber.transcribe(samples (T,) float32 at 16 kHz) -> str` (lower case, words separated by
single spaces, "" when nothing was recognised). Deterministic. One decoder is shared; it is not
thread-safe, so calls are serialised with a lock.
`TranscriptEncoder` ("asr-minilm", speech, 384-d) chains it with the MiniLM text encoder: the textual
side of a speech query as one vector (zeros when no words were recognised).
Quality: clear read speech transcribes well; robotic (espeak) or emotional, noisy speech much less so, and
speech in another language comes back as invented English words. `transcribe_scored` keeps the decoder's
word posteriors; `TranscriptConfidence` turns them into a calibrated probability that the words are usable,
which the service uses to weight the words against the voice.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import AudioEncoder, Encoder, check_samples
from ..paths import RESOURCES_DIR

SAMPLE_RATE = 16000
CONFIDENCE_FILE = "asr_confidence.json"
# Recognised words count in both readings with the recogniser's calibrated confidence (the probability that
# they keep the meaning of what was said, esmr_core/resources/asr_confidence.json) and not at all below this:
# the invented words PocketSphinx returns for speech in another language score 0.06 in the median.
MIN_WORD_WEIGHT = 0.1


def word_weight(transcript: str, confidence: float) -> float:
    """How far a transcript's words count against the voice (0..1): typed words have confidence 1; recognised
    words count by their calibrated confidence, and not at all below MIN_WORD_WEIGHT or when there are none."""
    if not (transcript and transcript.strip()) or confidence < MIN_WORD_WEIGHT:
        return 0.0
    return float(confidence)


class AsrTranscriber(Encoder):
    """English transcripts; registered as "asr". Not a vector encoder: use `transcribe`."""

    name = "asr"
    version = "4"  # 2: batch CMN, pruned search; 3: best-path pass back on; 4: CMN reset for every utterance
    modality = "speech"
    sample_rate = SAMPLE_RATE
    dim = 0
    min_seconds = 0.1

    def __init__(self) -> None:
        super().__init__()
        self._decoder = None
        self._run_lock = threading.Lock()

    def _load(self) -> None:
        from pocketsphinx import Decoder

        # en-us models. Batch CMN: each utterance is normalised on its own, independent of earlier requests.
        # Speed: maxhmmpf 3000 (default 30000) prunes the search and the second (flat-lexicon) pass is skipped:
        # on 40 held-out piper clips WER 0.722 vs 0.725 with the defaults at 0.36x the time (real-time factor
        # 0.133 vs 0.367 on 2 cores). The best-path pass stays: without it a clear piper sentence lost words in
        # 2 of 10 renders; with it 10 of 10 were right, at the same speed.
        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", cmn="batch", maxhmmpf=3000,
                                fwdflat=False)
        # The decoder carries its cepstral-mean estimate from one utterance to the next even with batch CMN, so
        # the same clip came back with other words after other clips (measured: "... lovely and i'm going" vs
        # "... am i going" for one piper clip). Every utterance starts from the initial estimate instead, so a
        # transcript depends on its clip alone.
        self._cmn0 = self._decoder.get_cmn()

    def transcribe(self, samples: np.ndarray) -> str:
        """(T,) mono float32 at 16 kHz -> recognised English words ("" if none)."""
        return self.transcribe_scored(samples).text

    def transcribe_scored(self, samples: np.ndarray) -> "Transcript":
        """(T,) mono float32 at 16 kHz -> the words with the decoder's own word posteriors (see Transcript)."""
        y = check_samples(samples, SAMPLE_RATE, self.min_seconds, who=self.name)
        self.ensure_loaded()
        duration = len(y) / SAMPLE_RATE
        peak = float(np.abs(y).max())
        if peak < 1e-4:
            return Transcript("", (), duration)
        y = y * min(0.9 / peak, 30.0)    # PocketSphinx's features are level-sensitive: use the int16 range
        pcm = np.round(y * 32767.0).astype(np.int16).tobytes()
        with self._run_lock:
            self._decoder.set_cmn(self._cmn0)
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, no_search=False, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
            # posterior of each word of the best path in the decoder's lattice (0..1)
            segs = [(seg.word, float(seg.prob)) for seg in self._decoder.seg()] if hyp is not None else []
        words = tuple((w.split("(")[0], min(max(p, 0.0), 1.0)) for w, p in segs
                      if not (w.startswith("<") or w.startswith("[")))
        return Transcript(" ".join(w for w, _ in words), words, duration)


@dataclass(frozen=True)
class Transcript:
    """What the recogniser heard: `text`, `words` as (word, posterior in [0, 1]) and the clip's length in s."""

    text: str
    words: tuple[tuple[str, float], ...]
    duration_s: float

    def features(self) -> np.ndarray:
        """(5,) confidence descriptors: mean and min log10 word posterior, share of words with posterior > 0.5,
        words per second, log(1 + number of words). Zeros when nothing was recognised."""
        if not self.words:
            return np.zeros(5, np.float32)
        p = np.clip(np.array([q for _, q in self.words], np.float64), 1e-4, 1.0)
        lp = np.log10(p)
        return np.array([lp.mean(), lp.min(), (p > 0.5).mean(), len(p) / max(self.duration_s, 0.1),
                         np.log1p(len(p))], np.float32)


class TranscriptConfidence:
    """A calibrated probability that a recognised transcript is usable (word error rate <= 0.5).

    Logistic regression on Transcript.features(), fitted by `scripts/fit_asr_confidence.py` on the
    bootstrap corpus: English sentences with known words (piper and espeak voices) against real voices
    speaking other languages, whose "transcripts" are invented words by construction. The coefficients are
    a small JSON file in esmr_core/resources; "" (nothing recognised) has confidence 0."""

    def __init__(self, coef: np.ndarray, intercept: float, mean: np.ndarray, std: np.ndarray, meta: dict):
        self.coef, self.intercept, self.mean, self.std, self.meta = coef, intercept, mean, std, meta

    @classmethod
    def load(cls, path: str | Path | None = None) -> "TranscriptConfidence":
        d = json.loads(Path(path or RESOURCES_DIR / CONFIDENCE_FILE).read_text(encoding="utf-8"))
        return cls(np.array(d["coef"], np.float64), float(d["intercept"]), np.array(d["mean"], np.float64),
                   np.array(d["std"], np.float64), d.get("meta", {}))

    def __call__(self, transcript: Transcript) -> float:
        if not transcript.words:
            return 0.0
        z = (transcript.features().astype(np.float64) - self.mean) / self.std
        return float(1.0 / (1.0 + np.exp(-(z @ self.coef + self.intercept))))


class TranscriptEncoder(AudioEncoder):
    """Speech -> PocketSphinx transcript -> MiniLM: `encode(samples) -> (384,) float32`."""

    name = "asr-minilm"
    modality = "speech"
    sample_rate = SAMPLE_RATE
    dim = 384
    min_seconds = 0.1

    def __init__(self, transcriber: AsrTranscriber, text_encoder) -> None:
        super().__init__()
        self.transcriber, self.text_encoder = transcriber, text_encoder
        self.version = f"{transcriber.version}.{text_encoder.version}"

    def _encode(self, y: np.ndarray) -> np.ndarray:
        return self.text_encoder.encode_texts([self.transcriber.transcribe(y)])[0]
