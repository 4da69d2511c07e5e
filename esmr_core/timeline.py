"""Long recordings: the emotion arc of a voice-over or a conversation, and a soundtrack that follows it.

    analyze_timeline(service, "talk.m4a", script=None, asr=False, top_k=3) -> dict
        segments  utterances (silero-vad, at most MAX_SEGMENT_S each), each with the speech tower's emotion and
                  valence/arousal/dominance, MATE's reading in its dialogue context, and its words (from a script
                  aligned to the utterances, or speech recognition, or none)
        sections  runs of consistent emotion found by a segment-level Viterbi pass with a minimum section length,
                  each with its top tracks (no track repeated in adjacent sections)
        cues      the cue sheet: one row per section (start, end, emotion, arousal, valence, track, ...)
    cue_csv(cues) / read_cue_csv(text), cue_json(cues) / read_cue_json(text)

Why these pieces:
- Doh et al. (ICASSP 2023) motivate speech-to-music retrieval with content creation and demo it on audiobook
  speech; a long recording is read utterance by utterance with the same speech tower as /analyze.
- MATE (Hong, Kim, Lee & Kim, KAIST) runs its LSTM over the utterances of a dialogue so that each reading has
  its context; here the utterances between two long silences form one dialogue (Mate.predict_dialogue).
- The music must not change with every utterance: the readings are smoothed by a semi-Markov Viterbi pass
  (a hidden state per emotion, a cost per switch, sections no shorter than `min_section_s`; the
  explicit-duration HMM decoding of e.g. Yu, "Hidden semi-Markov models", Artificial Intelligence 2010).
  Written for this project.

Times are in seconds from the start of the recording as decoded; arousal/valence/dominance of the speech tower
are on 0..1 (NRC-VAD scale), MATE's arousal/valence on 1..5.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from . import audio as audio_mod
from .encoders.asr import word_weight
from .errors import AudioError, EsmrError
from . import inputs
from .retrieval.index import l2_normalize

MAX_SECONDS = 600.0        # recording length analysed, s (the /analyze path keeps its own 30 s cap)
MAX_SCRIPT_CHARS = 20_000   # a script of 10 minutes of speech is ~9,000 characters (15 per second)
MAX_SEGMENT_S = 8.0        # longest utterance, s (silero-vad splits longer speech at its last pause)
MIN_SILENCE_S = 0.25       # a pause at least this long ends an utterance, s
MIN_SEGMENT_S = 0.6        # shorter utterances join a neighbour closer than MERGE_GAP_S, s
MERGE_GAP_S = 1.0
MIN_KEEP_S = 0.25          # isolated sounds shorter than this (clicks, breaths) are left out, s
LONG_GAP_S = 8.0           # a silence at least this long ends the dialogue: the music stops, a new section starts
TAIL_S = 1.0               # music kept after the last word before a long silence (and before the first after), s
PROB_FLOOR = 1e-3          # added to the mixed probabilities before the log (one confident miss is not infinite)
CUE_FIELDS = ("section", "start", "end", "start_s", "end_s", "emotion", "arousal", "valence", "mate_arousal",
              "mate_valence", "track", "artist", "track_id", "licence", "score", "file")
_CUE_INT = {"section"}
_CUE_FLOAT = {"start_s", "end_s", "arousal", "valence", "mate_arousal", "mate_valence", "score"}

Progress = Callable[[float, str], None]


@dataclass
class TimelineConfig:
    asr: bool = False               # transcribe each utterance (English ASR): words for both models, slower
    top_k: int = 3                  # tracks per section
    min_section_s: float = 6.0      # shortest section (speech span), s; a shorter recording is one section
    switch_cost: float = 6.0        # Viterbi cost of a change of emotion, in nats x seconds of speech
    mate_weight: float = 0.5        # share of MATE's probabilities in the mixture the sections are read from
    mate_context: int | None = None  # preceding utterances MATE sees (None: the whole dialogue so far)
    max_segment_s: float = MAX_SEGMENT_S
    long_gap_s: float = LONG_GAP_S
    max_seconds: float = MAX_SECONDS

    def check(self) -> "TimelineConfig":
        """Validated copy (EsmrError with a message on a bad value; the same rules as the other inputs)."""
        big = 1e6
        out = TimelineConfig(
            asr=inputs.flag(self.asr, "asr"), top_k=inputs.top_k(self.top_k, 3),
            min_section_s=inputs.number(self.min_section_s, "min_section_s", 0.0, MAX_SECONDS),
            switch_cost=inputs.number(self.switch_cost, "switch_cost", 0.0, big),
            mate_weight=inputs.number(self.mate_weight, "mate_weight", 0.0, 1.0),
            mate_context=None if self.mate_context is None else _whole(self.mate_context, "mate_context"),
            max_segment_s=inputs.number(self.max_segment_s, "max_segment_s", 1.0, 60.0),
            long_gap_s=inputs.number(self.long_gap_s, "long_gap_s", 1.0, big),
            max_seconds=inputs.number(self.max_seconds, "max_seconds", 1.0, MAX_SECONDS))
        return out


def _whole(value: Any, name: str) -> int:
    x = inputs.number(value, name, 0, 1e6)
    if not float(x).is_integer():
        raise EsmrError(f"{name} must be a whole number of utterances, got {value!r}")
    return int(x)


# ------------------------------------------------------------------------------------------------ loading
def load_recording(source: Any, max_seconds: float = MAX_SECONDS) -> audio_mod.Audio:
    """A long recording -> Audio (16 kHz mono, not trimmed so times match the file, not normalised: each
    utterance is normalised on its own). Cut to max_seconds (noted in `warnings`); AudioError on bad input."""
    if isinstance(source, audio_mod.Audio):
        return source
    limit = f"{max_seconds / 60:g} minutes" if max_seconds >= 60 else f"{max_seconds:g} s"
    if isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
        size = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            size, name = len(source), "the uploaded audio"
        elif os.path.isfile(source):
            size, name = os.path.getsize(source), f"'{os.path.basename(os.fspath(source))}'"
        if size is not None and size > audio_mod.MAX_BYTES:
            raise audio_mod.NotAudioError(f"{name} is {size / 2**20:.1f} MB, over the {audio_mod.MAX_BYTES / 2**20:.3g} MB "
                             f"limit; up to {limit} fit as 16 kHz mono WAV or as MP3, OGG, Opus or M4A")
    kw = dict(max_seconds=max_seconds, trim=False, normalize=False, require_voice=True)
    if isinstance(source, tuple) and len(source) == 2:   # gradio's (rate, samples)
        return audio_mod.from_array(np.asarray(source[1]), source[0], max_bytes=audio_mod.MAX_BYTES, **kw)
    if source is None:
        raise AudioError("no recording given: record with the microphone or upload a file")
    return audio_mod.load_audio(source, max_bytes=None, **kw)


# --------------------------------------------------------------------------------------------- utterances
def speech_spans(samples: np.ndarray, max_segment_s: float = MAX_SEGMENT_S,
                 min_silence_s: float = MIN_SILENCE_S) -> list[tuple[float, float]]:
    """Utterances of (N,) 16 kHz mono audio -> [(start_s, end_s)], each at most max_segment_s long.

    silero-vad (Silero Team, snakers4/silero-vad, MIT) with a minimum pause and a maximum segment length;
    then utterances shorter than MIN_SEGMENT_S join a neighbour less than MERGE_GAP_S away (when the result
    stays within max_segment_s), and isolated sounds shorter than MIN_KEEP_S are dropped."""
    import torch
    from silero_vad import get_speech_timestamps

    x = np.ascontiguousarray(samples, dtype=np.float32)
    if x.shape[0] < 512:
        return []
    sr = audio_mod.SAMPLE_RATE
    # The same process-wide model and lock as esmr_core.audio.speech_segments (the model keeps state).
    with audio_mod._VAD_LOCK:
        model = audio_mod._vad_model()
        try:
            stamps = get_speech_timestamps(torch.from_numpy(x), model, threshold=0.5, sampling_rate=sr,
                                           min_silence_duration_ms=int(min_silence_s * 1000), speech_pad_ms=30,
                                           max_speech_duration_s=float(max_segment_s))
        finally:
            model.reset_states()
    spans = [[s["start"] / sr, s["end"] / sr] for s in stamps]
    return merge_short(spans, max_segment_s)


def merge_short(spans: Sequence[Sequence[float]], max_segment_s: float = MAX_SEGMENT_S) -> list[tuple[float, float]]:
    """Join each utterance shorter than MIN_SEGMENT_S to its nearer neighbour (gap < MERGE_GAP_S, merged length
    <= max_segment_s); drop isolated ones shorter than MIN_KEEP_S. spans: sorted [(start_s, end_s)]."""
    out = [list(s) for s in spans]
    i = 0
    while i < len(out):
        a, b = out[i]
        if b - a >= MIN_SEGMENT_S:
            i += 1
            continue
        left = a - out[i - 1][1] if i > 0 else math.inf
        right = out[i + 1][0] - b if i + 1 < len(out) else math.inf
        options = [(gap, j) for gap, j in ((left, i - 1), (right, i + 1))
                   if gap < MERGE_GAP_S and max(b, out[j][1]) - min(a, out[j][0]) <= max_segment_s]
        if options:
            _, j = min(options)
            out[j] = [min(a, out[j][0]), max(b, out[j][1])]
            del out[i]
            i = max(0, min(i, j) - 1)   # the merged one may still be short: look at it again
        elif b - a < MIN_KEEP_S:
            del out[i]
        else:
            i += 1
    return [(round(a, 3), round(b, 3)) for a, b in out]


def dialogues(spans: Sequence[tuple[float, float]], long_gap_s: float = LONG_GAP_S) -> list[list[int]]:
    """Indices of the utterances grouped into dialogues: a silence of at least long_gap_s starts a new one."""
    groups: list[list[int]] = []
    for i, (a, _) in enumerate(spans):
        if not groups or a - spans[i - 1][1] >= long_gap_s:
            groups.append([])
        groups[-1].append(i)
    return groups


# ------------------------------------------------------------------------------------------------ the script
# Moves of the length-based alignment: (sentences, utterances) per bead and its cost in nats.
_BEADS = {(1, 1): 0.0, (2, 1): 2.5, (1, 2): 2.5, (3, 1): 5.0, (1, 3): 5.0, (1, 0): 6.0, (0, 1): 6.0}
_DUR_VAR = 0.25            # variance of an utterance's duration around its expected length, s^2 per s


def split_script(text: str) -> list[str]:
    """A script or transcript -> its sentences (split after . ! ? and at line breaks), whitespace tidied."""
    import re

    parts = re.split(r"(?<=[.!?\u2026])[\"'\u201d\u2019)]*\s+|\n\s*\n|\n", text or "")
    return [" ".join(p.split()) for p in parts if p and p.strip() and any(ch.isalnum() for ch in p)]


def _split_words(sentence: str, shares: Sequence[float]) -> list[str]:
    """Cut a sentence at word boundaries into len(shares) pieces whose character counts follow shares
    (every piece gets a word while there are enough)."""
    words, k = sentence.split(), len(shares)
    if k == 1 or not words:
        return [sentence] + [""] * (k - 1)
    at = np.r_[0.0, np.cumsum([len(w) + 1 for w in words])]
    at /= at[-1]                                                  # share of the sentence before word i
    targets = np.cumsum(shares)[:-1] / float(np.sum(shares))
    bounds = [0]
    for n, c in enumerate(targets):
        left = k - 1 - n                                          # pieces still to fill after this cut
        lo = bounds[-1] + (1 if len(words) - bounds[-1] > left else 0)
        hi = max(lo, len(words) - (left if len(words) >= k else 0))
        cand = np.arange(lo, hi + 1)
        bounds.append(int(cand[np.argmin(np.abs(at[cand] - c))]))
    bounds.append(len(words))
    return [" ".join(words[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def align_script(sentences: Sequence[str], spans: Sequence[tuple[float, float]]) -> list[str]:
    """The words of each utterance, from a script of what was said (no speech recognition involved).

    Length-based alignment after Gale & Church ("A program for aligning sentences in bilingual corpora",
    Computational Linguistics 1993), with characters on one side and seconds of speech on the other: a
    monotone dynamic programme over beads of 1-3 sentences to 1-3 utterances (or a sentence left unsaid, an
    utterance not in the script), each costing the squared normalised gap between its seconds and the seconds
    its characters take at the recording's mean speaking rate, plus a penalty per bead type. A sentence
    spread over several utterances is cut at word boundaries in proportion to their durations.
    Returns one string per span ("" where the script has nothing)."""
    n, m = len(sentences), len(spans)
    if m == 0:
        return []
    if n == 0:
        return [""] * m
    chars = np.array([max(1, sum(ch.isalnum() for ch in s)) for s in sentences], np.float64)
    secs = np.array([max(1e-3, b - a) for a, b in spans], np.float64)
    rate = chars.sum() / secs.sum()                               # characters per second of speech
    cl, cs = np.r_[0.0, np.cumsum(chars)], np.r_[0.0, np.cumsum(secs)]
    best = np.full((n + 1, m + 1), np.inf)
    best[0, 0] = 0.0
    move = np.zeros((n + 1, m + 1, 2), dtype=np.int64)
    band = max(20, (max(n, m) + 4) // 5)       # cells this far off the diagonal are not searched (speed)
    for i in range(n + 1):
        centre = i * m / n
        for j in range(max(0, int(centre) - band), min(m, int(centre) + band) + 1):
            if not np.isfinite(best[i, j]):
                continue
            for (di, dj), penalty in _BEADS.items():
                a, b = i + di, j + dj
                if a > n or b > m:
                    continue
                expect, got = (cl[a] - cl[i]) / rate, cs[b] - cs[j]
                gap = (got - expect) ** 2 / (2 * _DUR_VAR * max(0.5, (got + expect) / 2))
                total = best[i, j] + gap + penalty
                if total < best[a, b]:
                    best[a, b], move[a, b] = total, (di, dj)
    if not np.isfinite(best[n, m]):   # pragma: no cover - the band always holds a path (it covers both ends)
        raise EsmrError("the script could not be matched to the utterances; check that it is what was said")
    out = [""] * m
    i, j = n, m
    while i > 0 or j > 0:
        di, dj = move[i, j]
        text = " ".join(sentences[i - di:i])
        pieces = _split_words(text, list(secs[j - dj:j])) if dj else []
        for k, piece in enumerate(pieces):
            out[j - dj + k] = piece
        i, j = i - di, j - dj
    return out


# ------------------------------------------------------------------------------------------------ smoothing
def viterbi_sections(cost: np.ndarray, starts: np.ndarray, ends: np.ndarray, min_section_s: float,
                     switch_cost: float) -> list[tuple[int, int, int]]:
    """Best split of a run of T utterances into sections of one state each (semi-Markov Viterbi).

    cost: (T, K) cost of reading utterance t as state k (weighted negative log probability); starts/ends: (T,)
    in s. Minimises sum of section costs + switch_cost per section boundary, adjacent sections in different
    states, every section's speech span (first start .. last end) >= min_section_s (a run shorter than that
    is one section). Returns [(first, last_exclusive, state)], in order. O(T^2 K)."""
    cost = np.asarray(cost, np.float64)
    n, k = cost.shape
    if n == 0:
        return []
    cum = np.vstack([np.zeros((1, k)), np.cumsum(cost, axis=0)])                # (T+1, K)
    if ends[-1] - starts[0] < min_section_s:
        state = int(np.argmin(cum[n]))
        return [(0, n, state)]
    best = np.full((n + 1, k), np.inf)                                         # best[j, s]: [0, j) ends in s
    back = np.zeros((n + 1, k), dtype=np.int64)                                # start of that last section
    for j in range(1, n + 1):
        for i in range(j - 1, -1, -1):            # section [i, j); spans only grow as i falls
            if ends[j - 1] - starts[i] < min_section_s:
                continue
            seg = cum[j] - cum[i]                                                # (K,)
            if i == 0:
                prev = np.zeros(k)
            else:
                row = best[i]
                if not np.isfinite(row).any():
                    continue
                # best previous state other than s: the smallest, or the second smallest where s is it
                order = np.argsort(row)
                prev = np.full(k, row[order[0]])
                prev[order[0]] = row[order[1]] if k > 1 else np.inf
                prev = prev + switch_cost
            total = seg + prev
            better = total < best[j]
            best[j] = np.where(better, total, best[j])
            back[j] = np.where(better, i, back[j])
    if not np.isfinite(best[n]).any():   # no split meets the minimum: one section
        return [(0, n, int(np.argmin(cum[n])))]
    out, j, s = [], n, int(np.argmin(best[n]))
    while j > 0:
        i = int(back[j, s])
        out.append((i, j, s))
        if i > 0:
            row = best[i].copy()
            row[s] = np.inf
            s = int(np.argmin(row))
        j = i
    return out[::-1]


# ------------------------------------------------------------------------------------------------ analysis
def _segment_readings(svc, clip: audio_mod.Audio, spans: list[tuple[float, float]], cfg: TimelineConfig,
                      progress: Progress, timing: dict[str, float], script_texts: list[str] | None = None
                      ) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Speech tower + MATE + words per utterance (from the aligned script, else ASR when cfg.asr, else none).
    Returns (segment dicts, arrays: probs (T, C) tower, mate_probs (T, C), z (T, D) joint embeddings, vad (T, 3),
    mate_av (T, 2), seconds (T,))."""
    sr = audio_mod.SAMPLE_RATE
    utts, texts, feats = [], [], []
    n = len(spans)
    t_asr = t_feat = 0.0
    for i, (a, b) in enumerate(spans):
        # each utterance normalised to -23 LUFS as an /analyze clip is (what the models were trained on)
        y = audio_mod._normalize(clip.samples[int(round(a * sr)): int(round(b * sr))])
        text = script_texts[i] if script_texts is not None else ""
        weight = 1.0
        if script_texts is None and cfg.asr:
            t = time.perf_counter()
            text, weight = svc.transcribe_scored(y)
            t_asr += time.perf_counter() - t
            # recognised words count as in /analyze: by the recogniser's confidence, not at all below the floor
            weight = word_weight(text, weight)
            text = text if weight > 0 else ""
        t = time.perf_counter()
        feats.append(svc.voice_features(y, text, weight))   # the clip and its channel views
        t_feat += time.perf_counter() - t
        utts.append(y)
        texts.append(text)
        how = " (with speech recognition)" if cfg.asr and script_texts is None else ""
        progress(0.1 + 0.75 * (i + 1) / n, f"reading utterance {i + 1} of {n}{how}")
    if cfg.asr and script_texts is None:
        timing["asr_ms"] = t_asr * 1e3
    timing["features_ms"] = t_feat * 1e3
    t = time.perf_counter()
    # each utterance read as /analyze reads a clip: its views pooled (Service.read_voice)
    reads = [svc.read_voice(x) for x in feats]
    z = np.concatenate([r[0] for r in reads])
    probs = np.stack([r[1] for r in reads])
    vad = np.concatenate([r[2] for r in reads])
    timing["model_ms"] = (time.perf_counter() - t) * 1e3
    progress(0.88, "MATE over the dialogue")
    t = time.perf_counter()
    mate: list[dict] = [None] * n   # type: ignore[list-item]
    for group in dialogues(spans, cfg.long_gap_s):
        reads = svc.mate.predict_dialogue([utts[i] for i in group], [texts[i] or None for i in group],
                                          context=cfg.mate_context)
        for i, r in zip(group, reads):
            mate[i] = r
    timing["mate_ms"] = (time.perf_counter() - t) * 1e3
    emotions = list(svc.model.cfg.emotions)
    mate_emotions = list(svc.mate.config.emotions)
    if sorted(mate_emotions) != sorted(emotions):
        raise EsmrError(f"MATE's emotions {mate_emotions} differ from the speech tower's {emotions}; "
                        "use checkpoints trained on the same label set")
    mate_probs = np.array([[m["probabilities"][e] for e in emotions] for m in mate], np.float64)
    source = "script" if script_texts is not None else "asr" if cfg.asr else "none"
    segments = []
    for i, ((a, b), p, v, m, text) in enumerate(zip(spans, probs, vad, mate, texts)):
        segments.append({
            "index": i, "start_s": round(a, 3), "end_s": round(b, 3),
            "emotion": {"label": emotions[int(np.argmax(p))],
                        "probabilities": {e: round(float(x), 4) for e, x in zip(emotions, p)}},
            "vad": dict(zip(("valence", "arousal", "dominance"), (round(float(x), 4) for x in v))),
            "mate": {"label": m["label"], "probabilities": {e: round(float(m["probabilities"][e]), 4) for e in emotions},
                     "arousal": round(float(m["arousal"]), 3), "valence": round(float(m["valence"]), 3),
                     "modalities": m["modalities"]},
            "transcript": text, "transcript_source": source if text or source != "script" else "none",
        })
    return segments, {"probs": probs.astype(np.float64), "mate_probs": mate_probs, "z": z, "vad": vad,
                      "seconds": np.array([b - a for a, b in spans], np.float64),
                      "mate_av": np.array([[m["arousal"], m["valence"]] for m in mate], np.float64)}


def _wmean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (x * w[:, None]).sum(0) / max(float(w.sum()), 1e-9)


def _sections(segments: list[dict], arr: dict[str, np.ndarray], emotions: list[str], cfg: TimelineConfig,
              duration_s: float) -> tuple[list[dict], list[dict], np.ndarray]:
    """Sections (without tracks) and long-silence gaps from the utterance readings; also the mixed
    probabilities (T, C) the sections were read from."""
    starts = np.array([s["start_s"] for s in segments])
    ends = np.array([s["end_s"] for s in segments])
    w = ends - starts                                                       # seconds of speech per utterance
    mix = (1.0 - cfg.mate_weight) * arr["probs"] + cfg.mate_weight * arr["mate_probs"]      # (T, C)
    cost = -np.log(mix + PROB_FLOOR) * w[:, None]
    spans = list(zip(starts, ends))
    groups = dialogues(spans, cfg.long_gap_s)
    sections, gaps = [], []
    for g, group in enumerate(groups):
        idx = np.array(group)
        runs = viterbi_sections(cost[idx], starts[idx], ends[idx], cfg.min_section_s, cfg.switch_cost)
        first, last = idx[0], idx[-1]
        lead = starts[first] - (ends[groups[g - 1][-1]] if g else 0.0)
        block_start = starts[first] - TAIL_S if g or lead >= cfg.long_gap_s else 0.0
        trail = (starts[groups[g + 1][0]] if g + 1 < len(groups) else duration_s) - ends[last]
        block_end = ends[last] + TAIL_S if g + 1 < len(groups) or trail >= cfg.long_gap_s else duration_s
        block_start, block_end = max(0.0, block_start), min(duration_s, block_end)
        if g:
            gaps.append({"start_s": round(sections[-1]["end_s"], 3), "end_s": round(block_start, 3)})
        for r, (i, j, state) in enumerate(runs):
            a, b = idx[i], idx[j - 1]
            start = block_start if r == 0 else (ends[idx[i - 1]] + starts[a]) / 2
            end = block_end if r == len(runs) - 1 else (ends[b] + starts[idx[j]]) / 2
            sel = idx[i:j]
            probs = _wmean(mix[sel], w[sel])
            vad = _wmean(arr["vad"][sel], w[sel])
            mav = _wmean(arr["mate_av"][sel], w[sel])
            sections.append({
                "index": len(sections), "start_s": round(float(start), 3), "end_s": round(float(end), 3),
                "emotion": emotions[state], "confidence": round(float(probs[state]), 4),
                "probabilities": {e: round(float(p), 4) for e, p in zip(emotions, probs)},
                "valence": round(float(vad[0]), 4), "arousal": round(float(vad[1]), 4),
                "dominance": round(float(vad[2]), 4),
                "mate_arousal": round(float(mav[0]), 3), "mate_valence": round(float(mav[1]), 3),
                "segments": [int(s) for s in sel], "speech_s": round(float(w[sel].sum()), 3),
            })
            for s in sel:
                segments[s]["section"] = len(sections) - 1
    return sections, gaps, mix


def _soundtrack(svc, sections: list[dict], arr: dict[str, np.ndarray], mix: np.ndarray, emotions: list[str],
                top_k: int) -> None:
    """Top tracks per section (in place): the section's query is the mean joint embedding of its utterances,
    each weighted by its seconds x its probability of the section's emotion, ranked as /analyze ranks a clip
    (Service.rank_music: with the section's arousal/valence); tracks of the previous section are skipped, so
    adjacent sections never share a track."""
    z = arr["z"]
    prev: set[str] = set()
    for sec in sections:
        sel = np.array(sec["segments"])
        k = emotions.index(sec["emotion"])
        w = arr["seconds"][sel] * mix[sel, k] + 1e-6
        q = l2_normalize(_wmean(z[sel], w)[None].astype(np.float32))
        vad = np.array([[sec["valence"], sec["arousal"], sec["dominance"]]])
        scores, idx = svc.rank_music(q, vad, min(len(svc.tracks), top_k + len(prev)))
        tracks = []
        for s, i in zip(scores[0], idx[0]):
            row = svc.tracks[int(i)]
            if row["id"] in prev:
                continue
            tracks.append({"id": row["id"], "title": row["title"], "artist": row["artist"], "mood": row["mood"],
                           "score": round(float(s), 4), "path": str(svc.catalog.path(row)),
                           "licence": row["licence"]})
            if len(tracks) == top_k:
                break
        sec["tracks"] = tracks
        sec["track"] = tracks[0] if tracks else None
        prev = {t["id"] for t in tracks}


def analyze_timeline(svc, source: Any, config: TimelineConfig | None = None, script: str | None = None,
                     progress: Progress | None = None, **overrides: Any) -> dict[str, Any]:
    """The emotion arc and soundtrack of a recording of up to config.max_seconds (10 minutes).

    svc: an esmr_core.service.Service; source: a path, bytes, gradio's (rate, samples) or an Audio;
    script: what was said (a voice-over script or transcript; its sentences are aligned to the utterances and
    read as their words, instead of speech recognition); overrides: TimelineConfig fields (asr=True, top_k=5,
    ...); progress(fraction, message) is called as it works.
    Returns {"duration_s", "speech_s", "segments", "sections", "gaps", "cues", "settings", "timing_ms",
    "warnings"}; AudioError / EsmrError with a message a user can act on."""
    cfg = TimelineConfig(**{**asdict(config or TimelineConfig()), **overrides}).check()
    say = progress or (lambda f, m: None)
    timing: dict[str, float] = {}
    t0 = t = time.perf_counter()
    say(0.0, "reading the recording")
    clip = load_recording(source, cfg.max_seconds)
    timing["load_ms"] = (time.perf_counter() - t) * 1e3
    say(0.05, "finding the utterances")
    t = time.perf_counter()
    spans = speech_spans(clip.samples, cfg.max_segment_s)
    timing["vad_ms"] = (time.perf_counter() - t) * 1e3
    if not spans:
        raise AudioError("no utterance long enough to read was found in the recording (only clicks or breaths); "
                         "record or upload speech of at least a second")
    script_texts = None
    script = inputs.transcript(script, MAX_SCRIPT_CHARS, "the script")
    if script:
        sentences = split_script(script)
        if not sentences:
            raise EsmrError("the script holds no words; paste what was said, or leave it empty")
        script_texts = align_script(sentences, spans)
    segments, arr = _segment_readings(svc, clip, spans, cfg, say, timing, script_texts)
    say(0.95, "sections and soundtrack")
    t = time.perf_counter()
    emotions = list(svc.model.cfg.emotions)
    sections, gaps, mix = _sections(segments, arr, emotions, cfg, clip.duration_s)
    _soundtrack(svc, sections, arr, mix, emotions, cfg.top_k)
    timing["sections_ms"] = (time.perf_counter() - t) * 1e3
    timing["total_ms"] = (time.perf_counter() - t0) * 1e3
    say(1.0, "done")
    warnings = list(clip.warnings)
    if any(g["end_s"] - g["start_s"] > 0 for g in gaps):
        warnings.append(f"{len(gaps)} silence(s) of {cfg.long_gap_s:g} s or more: the music stops there and the "
                        "next utterance starts a new dialogue")
    result = {
        "duration_s": round(clip.duration_s, 3),
        "speech_s": round(float(sum(s["end_s"] - s["start_s"] for s in segments)), 3),
        "segments": segments, "sections": sections, "gaps": gaps,
        "settings": {**asdict(cfg), "script": script_texts is not None},
        "timing_ms": {k: round(v, 1) for k, v in timing.items()},
        "warnings": warnings, "truncated": bool(clip.truncated),
    }
    result["cues"] = cue_sheet(result)
    return result


# ------------------------------------------------------------------------------------------------ listening
PREVIEW_SR = 24000         # Hz, the preview mix (music keeps more of its sound than at 16 kHz)


def excerpt(source: Any, start_s: float, end_s: float, sr: int = audio_mod.SAMPLE_RATE) -> np.ndarray:
    """(N,) float32 mono at sr: the part [start_s, end_s) of a recording file, as it sounds (no processing)."""
    if not (isinstance(start_s, (int, float)) and isinstance(end_s, (int, float)) and 0 <= start_s < end_s):
        raise EsmrError(f"an excerpt needs 0 <= start < end in seconds, got {start_s!r}..{end_s!r}")
    return audio_mod.load_music(source, sr=sr, offset_s=float(start_s), duration_s=float(end_s - start_s))


def preview_mix(source: Any, start_s: float, end_s: float, music: Any, music_db: float = -12.0,
                fade_s: float = 0.75, sr: int = PREVIEW_SR) -> np.ndarray:
    """A section as it would sound with its soundtrack: the voice of [start_s, end_s) with the track under it,
    looped to length, music_db (dB RMS) below the voice, faded in and out. (N,) float32 mono at sr in [-1, 1]."""
    voice = excerpt(source, start_s, end_s, sr)
    track = audio_mod.load_music(music, sr=sr)
    if not len(track):
        raise AudioError("the track holds no audio")
    bed = np.resize(track, len(voice)).astype(np.float64)
    def rms(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-9

    loud = voice[np.abs(voice) > 0.1 * np.abs(voice).max()] if np.abs(voice).max() > 0 else voice
    bed *= rms(loud if len(loud) else voice) / rms(bed) * 10 ** (music_db / 20)
    n = min(len(bed) // 2, int(fade_s * sr))
    if n:
        ramp = np.linspace(0.0, 1.0, n)
        bed[:n] *= ramp
        bed[-n:] *= ramp[::-1]
    mix = voice + bed
    peak = float(np.abs(mix).max())
    return (mix * (0.95 / peak if peak > 0.95 else 1.0)).astype(np.float32)


# ------------------------------------------------------------------------------------------------ cue sheet
def timecode(seconds: float) -> str:
    """Seconds -> "HH:MM:SS.mmm"."""
    ms = int(round(float(seconds) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def cue_sheet(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One cue per section: its times, emotion, arousal/valence (speech tower 0..1, MATE 1..5) and top track."""
    cues = []
    for sec in result["sections"]:
        t = sec.get("track") or {}
        cues.append({"section": sec["index"] + 1, "start": timecode(sec["start_s"]), "end": timecode(sec["end_s"]),
                     "start_s": sec["start_s"], "end_s": sec["end_s"], "emotion": sec["emotion"],
                     "arousal": sec["arousal"], "valence": sec["valence"], "mate_arousal": sec["mate_arousal"],
                     "mate_valence": sec["mate_valence"], "track": t.get("title", ""), "artist": t.get("artist", ""),
                     "track_id": t.get("id", ""), "licence": t.get("licence", ""), "score": t.get("score", 0.0),
                     "file": t.get("path", "")})
    return cues


def cue_csv(cues: Sequence[dict[str, Any]]) -> str:
    """The cue sheet as CSV text (header CUE_FIELDS)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CUE_FIELDS, lineterminator="\n")
    writer.writeheader()
    for cue in cues:
        writer.writerow({k: cue.get(k, "") for k in CUE_FIELDS})
    return buf.getvalue()


def read_cue_csv(text: str) -> list[dict[str, Any]]:
    """CSV text from cue_csv -> cues with numbers as numbers; EsmrError when it is not a cue sheet."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [f for f in ("section", "start_s", "end_s", "emotion", "track") if f not in (reader.fieldnames or [])]
    if missing:
        raise EsmrError(f"not a cue sheet: the CSV lacks the columns {missing}")
    out = []
    for n, row in enumerate(reader, 2):
        try:
            out.append({k: int(v) if k in _CUE_INT else float(v) if k in _CUE_FLOAT else v for k, v in row.items()
                        if k in CUE_FIELDS})
        except (TypeError, ValueError) as exc:
            raise EsmrError(f"cue sheet line {n}: {exc}") from None
    return out


def cue_json(cues: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(cues), ensure_ascii=False, indent=1) + "\n"


def read_cue_json(text: str) -> list[dict[str, Any]]:
    try:
        cues = json.loads(text)
    except ValueError as exc:
        raise EsmrError(f"not a cue sheet: {exc}") from None
    if not isinstance(cues, list) or not all(isinstance(c, dict) and "start_s" in c for c in cues):
        raise EsmrError("not a cue sheet: expected a JSON list of cues with start_s")
    return cues
