"""The bootstrap emotional-speech corpus: the training data of the default models, synthesised offline.

What it is
  Sentences written for this project (`resources/sentence_bank.json`: >= 40 per emotion whose wording carries
  the emotion, plus a lexically neutral subset spoken with every emotion, as RAVDESS does) are rendered by
  espeak-ng (many voices, both sexes, English accents and non-English voices reading English) and piper (the
  joe voice, pitch-shifted into pseudo-speakers), each clip with a per-emotion prosody profile.

Prosody (docs note)
  The profiles (`resources/prosody_profiles.json`) follow the published acoustic correlates of vocal emotion:
  Juslin & Laukka (2003), Psychological Bulletin 129(5), 770-814, Table 7 -- anger and happiness fast, loud,
  high and variable F0; sadness slow, soft, low and flat F0; fear fast with high but less variable F0; for
  disgust Murray & Arnott (1993, JASA 93(2)) and Banse & Scherer (1996) -- slower, lower F0, softer; for
  surprise Cahn (1990) -- high F0, wide range. Every clip draws its rate, pitch, range and gain uniformly
  within its emotion's ranges (seeded by clip id), so no two clips share settings; each row records them.
  Synthetic prosody is a caricature of human emotional speech: a model trained only on it learns these cues
  (rate, F0 level/range, level) and the sentence wording, not the voice quality cues real speakers add.

Splits
  Voices are partitioned train/val/test (VOICES below) and, per emotion, sentences too (70/15/15, seeded).
  A clip is rendered only when its sentence's split equals its voice's split, so the test split holds unseen
  sentences spoken by unseen voices. Lexically neutral sentences follow the same rule.

Output: a "speech" collection (esmr_core.data.manifest) with 16 kHz mono FLAC clips under clips/.

Real voices
  The same collection also holds a real-voice part (esmr_core.data.realvoices: real human speech from Debian
  packages made emotional by rule, rows with tts="real", clips under real/); `bootstrap(only=...)` builds one
  part and keeps the other's rows.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from ..emotion import EMOTIONS, vad
from ..errors import EsmrError
from ..paths import RESOURCES_DIR
from . import realvoices, tts
from .manifest import Collection, load_collection, new_collection
from .profiles import bank_hash, load_prosody_profiles, load_sentence_bank, seeded_rng  # noqa: F401 (API)
from .realvoices import is_real, real_info

SPLITS = ("train", "val", "test")
SENTENCE_FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}
# Voices rendering each (sentence, emotion) pair: one piper voice + this many espeak voices of the split.
ESPEAK_PER_SENTENCE = {"train": 5, "val": 3, "test": 3}
MAX_SHIFT_ST = 7.0  # |voice offset + emotion pitch| cap for piper: larger phase-vocoder shifts sound artificial


@dataclass(frozen=True)
class Voice:
    """One speaker of the corpus. spec: espeak-ng voice name ("en-us+f2") or piper model ("joe").
    semitones: constant pitch shift making a piper pseudo-speaker (0 for espeak)."""

    name: str
    tts: str          # "espeak" | "piper"
    spec: str
    sex: str          # "M" | "F" (of the variant as espeak-ng lists it)
    accent: str
    split: str
    semitones: float = 0.0


# No espeak variant (m1..m8, f1..f5, named variants) appears in two splits: the variant sets the voice quality.
VOICES: tuple[Voice, ...] = (
    Voice("espeak-en-us-m1", "espeak", "en-us+m1", "M", "en-US", "train"),
    Voice("espeak-en-us-f1", "espeak", "en-us+f1", "F", "en-US", "train"),
    Voice("espeak-en-gb-m2", "espeak", "en-gb+m2", "M", "en-GB", "train"),
    Voice("espeak-en-gb-f2", "espeak", "en-gb+f2", "F", "en-GB", "train"),
    Voice("espeak-en-sc-m3", "espeak", "en-gb-scotland+m3", "M", "en-GB-scotland", "train"),
    Voice("espeak-en-rp-f3", "espeak", "en-gb-x-rp+f3", "F", "en-GB-x-rp", "train"),
    Voice("espeak-en-029-m4", "espeak", "en-029+m4", "M", "en-029", "train"),
    Voice("espeak-en-nyc-annie", "espeak", "en-us-nyc+Annie", "F", "en-US-nyc", "train"),
    Voice("espeak-de-m5", "espeak", "de+m5", "M", "de (German reading English)", "train"),
    Voice("espeak-en-us-alex", "espeak", "en-us+Alex", "M", "en-US", "train"),
    Voice("piper-joe", "piper", "joe", "M", "en-US", "train", 0.0),
    Voice("piper-joe-low", "piper", "joe", "M", "en-US", "train", -2.5),
    Voice("espeak-en-us-m6", "espeak", "en-us+m6", "M", "en-US", "val"),
    Voice("espeak-en-gb-f4", "espeak", "en-gb+f4", "F", "en-GB", "val"),
    Voice("espeak-es-andy", "espeak", "es+Andy", "M", "es (Spanish reading English)", "val"),
    Voice("espeak-en-lanc-belinda", "espeak", "en-gb-x-gbclan+belinda", "F", "en-GB-x-gbclan", "val"),
    Voice("piper-joe-high", "piper", "joe", "M", "en-US", "val", 2.5),
    Voice("espeak-en-us-m7", "espeak", "en-us+m7", "M", "en-US", "test"),
    Voice("espeak-en-wm-f5", "espeak", "en-gb-x-gbcwmd+f5", "F", "en-GB-x-gbcwmd", "test"),
    Voice("espeak-ko-m8", "espeak", "ko+m8", "M", "ko (Korean reading English)", "test"),
    Voice("espeak-en-us-andrea", "espeak", "en-us+Andrea", "F", "en-US", "test"),
    Voice("piper-joe-deep", "piper", "joe", "M", "en-US", "test", -4.0),
)


@dataclass
class ClipSpec:
    """Everything needed to render one clip; settings are drawn at planning time, so a clip is the same
    whichever worker renders it."""

    id: str
    sentence_id: str
    text: str
    label: str
    voice: str
    split: str
    lexically_neutral: bool
    settings: dict[str, Any] = field(default_factory=dict)




# ---- splits and plan ----------------------------------------------------------------------------------
def split_sentences(bank: dict[str, Any], seed: int = 0) -> dict[str, str]:
    """sentence_id -> split; each emotion's sentences (and the lexically neutral set) are split 70/15/15."""
    groups = {**bank["emotions"], "lexically_neutral": bank["lexically_neutral"]}
    out: dict[str, str] = {}
    for name, items in groups.items():
        ids = [s["id"] for s in items]
        order = seeded_rng(seed, f"split:{name}").permutation(len(ids))
        n_val = max(1, round(SENTENCE_FRACTIONS["val"] * len(ids)))
        n_test = max(1, round(SENTENCE_FRACTIONS["test"] * len(ids)))
        for rank, idx in enumerate(order):
            out[ids[idx]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return out


def draw_settings(label: str, voice: Voice, rng: np.random.Generator,
                  profiles: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """One clip's prosody: common fields rate (x), pitch_st (semitones), range (x), gain_db (dB) plus the
    engine's own parameters (espeak: espeak_wpm, espeak_p, espeak_range_pct; piper: length_scale,
    noise_scale, noise_w_scale, semitones = voice offset + pitch_st)."""
    prof = profiles[label]
    u = {k: float(rng.uniform(*prof[k])) for k in ("rate", "pitch_st", "range", "gain_db", "noise_scale",
                                                     "noise_w_scale")}
    s: dict[str, Any] = {"rate": round(u["rate"], 4), "pitch_st": round(u["pitch_st"], 3),
                         "range": round(u["range"], 4), "gain_db": round(u["gain_db"], 3)}
    if voice.tts == "espeak":
        s.update(espeak_wpm=round(tts.ESPEAK_BASE_WPM * u["rate"], 1), espeak_p=tts.espeak_pitch_param(u["pitch_st"]),
                 espeak_range_pct=round(100 * u["range"], 1), semitones=0.0)
    else:  # piper: no pitch or range control -> pitch shift after synthesis; range not applied
        shift = float(np.clip(voice.semitones + u["pitch_st"], -MAX_SHIFT_ST, MAX_SHIFT_ST))
        s.update(length_scale=round(1.0 / u["rate"], 4), noise_scale=round(u["noise_scale"], 4),
                 noise_w_scale=round(u["noise_w_scale"], 4), semitones=round(shift, 3), range_applied=False)
    return s


def plan_clips(seed: int = 0, bank: dict[str, Any] | None = None, voices: tuple[Voice, ...] = VOICES,
               profiles: dict | None = None, limit: int | None = None) -> list[ClipSpec]:
    """All clips of the corpus (or `limit` of them, spread over emotions and engines), deterministic in seed."""
    bank = bank or load_sentence_bank()
    profiles = profiles or load_prosody_profiles()
    splits = split_sentences(bank, seed)
    by_name = {v.name: v for v in voices}
    jobs: list[tuple[dict, str, bool]] = [(s, e, False) for e, items in bank["emotions"].items() for s in items]
    jobs += [(s, e, True) for s in bank["lexically_neutral"] for e in EMOTIONS]
    plan: list[ClipSpec] = []
    for sent, label, lexneu in jobs:
        split = splits[sent["id"]]
        rng = seeded_rng(seed, f"voices:{sent['id']}:{label}")
        pipers = [v for v in voices if v.split == split and v.tts == "piper"]
        espeaks = [v for v in voices if v.split == split and v.tts == "espeak"]
        chosen = [pipers[rng.integers(len(pipers))]] if pipers else []
        k = min(ESPEAK_PER_SENTENCE[split], len(espeaks))
        chosen += [espeaks[i] for i in sorted(rng.choice(len(espeaks), size=k, replace=False))]
        for voice in chosen:
            cid = f"{sent['id']}-{label}-{voice.name}"
            plan.append(ClipSpec(id=cid, sentence_id=sent["id"], text=sent["text"], label=label, voice=voice.name,
                                 split=split, lexically_neutral=lexneu,
                                 settings=draw_settings(label, by_name[voice.name], seeded_rng(seed, cid), profiles)))
    if limit is not None and limit < len(plan):
        plan = _spread(plan, limit, by_name, seed)
    return plan


def _spread(plan: list[ClipSpec], limit: int, voices: dict[str, Voice], seed: int) -> list[ClipSpec]:
    """`limit` clips taken round-robin over (label, engine) groups, so a small run covers both engines."""
    groups: dict[tuple[str, str], list[ClipSpec]] = {}
    for c in plan:
        groups.setdefault((c.label, voices[c.voice].tts), []).append(c)
    rng = seeded_rng(seed, "limit")
    queues = [[g[i] for i in rng.permutation(len(g))] for _, g in sorted(groups.items())]
    out: list[ClipSpec] = []
    while len(out) < limit:
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out


# ---- rendering ----------------------------------------------------------------------------------------
def render_audio(spec: ClipSpec, voice: Voice) -> np.ndarray:
    """Synthesise one clip. Returns (T,) float32 at 16 kHz, level REFERENCE_DBFS + gain_db."""
    s = spec.settings
    if voice.tts == "espeak":
        y, sr = tts.synth_espeak(spec.text, voice.spec, rate_wpm=s["espeak_wpm"], pitch=s["espeak_p"],
                                 range_pct=s["espeak_range_pct"])
    elif voice.tts == "piper":
        y, sr = tts.synth_piper(spec.text, length_scale=s["length_scale"], noise_scale=s["noise_scale"],
                                noise_w_scale=s["noise_w_scale"])
        y = tts.shift_pitch(y, sr, s["semitones"])
    else:
        raise EsmrError(f"unknown TTS engine {voice.tts!r} for voice {voice.name}")
    return tts.finish(y, sr, s["gain_db"])


def render_clip(spec: ClipSpec, out_dir: str | Path) -> dict[str, Any]:
    """Render `spec` to out_dir/clips/<id>.flac (16 kHz mono, 16-bit) and return its manifest row."""
    voice = {v.name: v for v in VOICES}[spec.voice]
    y = render_audio(spec, voice)
    rel = Path("clips") / f"{spec.id}.flac"
    path = Path(out_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, tts.TARGET_SR, format="FLAC", subtype="PCM_16")
    v, a, d = (float(x) for x in vad(spec.label))
    row = asdict(spec)
    row.update(path=rel.as_posix(), valence=v, arousal=a, dominance=d, tts=voice.tts, sex=voice.sex,
               accent=voice.accent, duration_s=round(len(y) / tts.TARGET_SR, 3))
    return row


def _render_in_worker(args: tuple[ClipSpec, str]) -> dict[str, Any]:
    return render_clip(*args)


def _worker_init() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"


def bootstrap(out: str | Path, *, seed: int = 0, workers: int = 2, limit: int | None = None,
              command: str | None = None, progress: Callable[[int, int], None] | None = None,
              only: str | None = None, raw_dir: str | Path = "data/raw", debs_dir: str | Path = "data/debs") -> Collection:
    """Build the corpus into folder `out` (a "speech" collection) and return it.

    workers: processes rendering clips (1 = in this process). limit: render only that many clips (for tests).
    progress(done, total) is called as clips finish.
    only: None builds both parts, "synthetic" the TTS part (real-voice rows already there are kept), "real" the
    real-voice part (esmr_core.data.realvoices; synthetic rows kept), whose Debian packages are unpacked under
    raw_dir (downloaded into debs_dir when missing).
    """
    if only not in (None, "synthetic", "real"):
        raise EsmrError(f"unknown corpus part {only!r}; choose 'synthetic' or 'real' (or neither for both)")
    out = Path(out)
    if (out / "collection.json").exists() and load_collection(out).meta.get("builder") != "esmr corpus bootstrap":
        raise EsmrError(f"{out} holds another collection; choose an empty folder for the corpus")
    if only == "real":
        return realvoices.build(out, raw_dir=raw_dir, debs_dir=debs_dir, seed=seed, workers=workers, limit=limit,
                                command=command, progress=progress)
    tts.espeak_binary()  # fail early with the install hint
    plan = plan_clips(seed=seed, limit=limit)
    t0 = time.time()
    rows: list[dict[str, Any]] = []
    if workers <= 1:
        for i, spec in enumerate(plan, 1):
            rows.append(render_clip(spec, out))
            if progress:
                progress(i, len(plan))
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                 initializer=_worker_init) as pool:
            for i, row in enumerate(pool.map(_render_in_worker, [(s, str(out)) for s in plan], chunksize=4), 1):
                rows.append(row)
                if progress:
                    progress(i, len(plan))
    keep = {f"{r['id']}.flac" for r in rows}
    for stale in (out / "clips").glob("*.flac"):  # clips of an earlier, different build
        if stale.name not in keep:
            stale.unlink()
    coll = new_collection(
        out, "speech", name="bootstrap-emotional-speech", builder="esmr corpus bootstrap", seed=seed,
        sentence_bank_sha256=bank_hash(), limit=limit, command=command or f"esmr corpus bootstrap --out {out} "
        f"--seed {seed} --workers {workers}" + (f" --limit {limit}" if limit else ""),
        voices=[asdict(v) for v in VOICES], labels=list(EMOTIONS), sample_rate=tts.TARGET_SR,
        build_seconds=round(time.time() - t0, 1),
        note="synthetic speech (espeak-ng + piper joe); prosody per Juslin & Laukka 2003; see esmr_core.data.corpus")
    real_rows: list[dict[str, Any]] = []
    if (out / "collection.json").exists():  # keep the real-voice part (read just before writing)
        old = load_collection(out)
        real_rows = [r for r in old.rows if realvoices.is_real(r)]
        if "real_voices" in old.meta:
            coll.meta["real_voices"] = old.meta["real_voices"]
    coll.rows = sorted(rows + real_rows, key=lambda r: r["id"])
    coll.save()
    if only is None:
        coll = realvoices.build(out, raw_dir=raw_dir, debs_dir=debs_dir, seed=seed, workers=workers, limit=limit,
                                progress=progress)
    return coll


# ---- summary ------------------------------------------------------------------------------------------
def corpus_info(coll: Collection) -> dict[str, Any]:
    """Counts per split, label, voice, engine and split x label; total hours; the real-voice part's own counts."""
    rows = coll.rows
    per_split_label: dict[str, dict[str, int]] = {}
    for r in rows:
        per_split_label.setdefault(r.get("split", "?"), Counter())[r["label"]] += 1
    hours = sum(float(r.get("duration_s", 0.0)) for r in rows) / 3600
    return {
        "root": str(coll.root), "kind": coll.kind, "clips": len(rows), "hours": round(hours, 3),
        "per_split": dict(Counter(r.get("split", "?") for r in rows)),
        "per_label": dict(Counter(r["label"] for r in rows)),
        "per_voice": dict(Counter(r["voice"] for r in rows)),
        "per_tts": dict(Counter(r.get("tts", "?") for r in rows)),
        "per_split_label": {k: dict(v) for k, v in per_split_label.items()},
        "lexically_neutral": sum(bool(r.get("lexically_neutral")) for r in rows),
        "seed": coll.meta.get("seed"), "sentence_bank_sha256": coll.meta.get("sentence_bank_sha256"),
        **({"real_voices": real_info(coll)} if any(is_real(r) for r in rows) else {}),
    }
