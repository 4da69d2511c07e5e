"""Synthetic long recordings for the timeline: passages of one emotion each, the voices taking turns.

    rec = synth_passages(seed=0)            # calm -> angry -> happy, 4 held-out sentences each, 4 voices
    rec.samples (N,) float32 at 16 kHz, rec.joins (s), rec.script (one sentence a line), rec.labels

Each sentence is rendered like a bootstrap-corpus clip (esmr_core.data.corpus: espeak-ng or piper with the
emotion's prosody profile, settings drawn from the seed); sentences and voices come from the test split, so the
default models never heard them. "Calm" is a profile of its own: slower, softer, lower and flatter than neutral
(Juslin & Laukka 2003: low activation, as tenderness), read on the lexically plain "neutral" sentences.
Between sentences `gap_s` of silence, between passages `join_gap_s`; a join is the middle of that pause.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from .profiles import seeded_rng
from .corpus import (VOICES, ClipSpec, Voice, draw_settings, load_prosody_profiles, load_sentence_bank,
                     render_audio, split_sentences)

SR = 16000
CALM = {"rate": [0.84, 0.90], "pitch_st": [-1.5, -0.5], "range": [0.6, 0.8], "gain_db": [-4.0, -2.0],
        "noise_scale": [0.5, 0.6], "noise_w_scale": [0.6, 0.75]}   # keys and units of prosody_profiles.json
PASSAGES = (("calm", "neutral"), ("angry", "angry"), ("happy", "happy"))   # (prosody, sentences of)
# Held-out voices: piper's deep pseudo-speaker and a new one (+1.5 semitones, never used in training), two espeak
# test voices; VOICE_SETS for the evaluation.
VOICE_CYCLE = ("piper-joe-deep", "espeak-en-us-andrea", "piper-joe-up", "espeak-en-us-m7")
VOICE_SETS = {"mixed": VOICE_CYCLE, "piper": ("piper-joe-deep", "piper-joe-up"),
              "espeak": ("espeak-en-wm-f5", "espeak-en-us-m7", "espeak-ko-m8")}


@dataclass
class Passages:
    samples: np.ndarray                    # (N,) float32 mono at 16 kHz
    joins: list[float]                     # s, the middle of the pause between two passages
    script: str                            # the sentences, one a line, in order
    labels: list[str]                      # the passages' prosody, in order
    sentences: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SR


def _voices():
    voices = {v.name: v for v in VOICES}
    voices["piper-joe-up"] = Voice("piper-joe-up", "piper", "joe", "M", "en-US", "test", 1.5)
    return voices


def synth_passages(seed: int = 0, passages: Sequence[tuple[str, str]] = PASSAGES,
                   voices: Sequence[str] = VOICE_CYCLE, per_passage: int = 4, gap_s: float = 0.4,
                   join_gap_s: float = 0.9, edge_s: float = 0.5, exact: bool = False) -> Passages:
    """Render the passages: each `per_passage` test-split sentences of its group (taken cyclically from
    `seed`), the voices in turn (each passage starting one voice later). exact: the neural voice without its
    sampling noise (piper's VITS sampler takes no seed), so that the same call gives the same samples."""
    bank, profiles = load_sentence_bank(), {**load_prosody_profiles(), "calm": CALM}
    splits = split_sentences(bank)
    by_name = _voices()
    parts, joins, sentences = [np.zeros(int(edge_s * SR), np.float32)], [], []
    for k, (prosody, group) in enumerate(passages):
        pool = [s for s in bank["emotions"][group] if splits[s["id"]] == "test"]
        chosen = [pool[(seed + i) % len(pool)] for i in range(per_passage)]
        if k:
            parts.append(np.zeros(int(join_gap_s * SR), np.float32))
            joins.append(sum(len(p) for p in parts) / SR - join_gap_s / 2)
        for i, sent in enumerate(chosen):
            voice = by_name[voices[(i + k) % len(voices)]]
            spec = ClipSpec(id=f"tl-{sent['id']}-{voice.name}", sentence_id=sent["id"], text=sent["text"],
                            label=prosody, voice=voice.name, split="test", lexically_neutral=False,
                            settings=draw_settings(prosody, voice, seeded_rng(seed, sent["id"] + voice.name), profiles))
            if exact and "noise_scale" in spec.settings:
                spec.settings.update(noise_scale=0.0, noise_w_scale=0.0)
            if i:
                parts.append(np.zeros(int(gap_s * SR), np.float32))
            parts.append(render_audio(spec, voice))
            sentences.append(sent["text"])
    parts.append(np.zeros(int(edge_s * SR), np.float32))
    return Passages(np.concatenate(parts), joins, "\n".join(sentences), [p for p, _ in passages], sentences)
