"""Singing clip -> songs to sing, with the key to sing them in and the reasons.

    rec = SingingRecommender.load(checkpoints_dir(), default_songs_dir())
    analysis = rec.analyze(samples16k)           # pitch range, embeddings, per-song factors (the slow part)
    songs = rec.rank(analysis, weights, top_k=5) # cheap: re-rank with other weights without re-analysing

Factors per song, each in [0, 1]:
  range       duration-weighted share of the melody inside the singer's range at the best transposition (a key
              change of +-6 semitones, plus any octave displacement: the key name stays the same)
  timbre      (1 + cos) / 2 of SSCL-timbre embeddings, clip vs the closest guide vocal of the song
  expression  same with SSCL-expression
  voice       same with resemblyzer's d-vector
  mood        same with TJAE's latent
score = sum_f w_f * factor_f / sum_f w_f. The defaults come from the grid search of evaluate.py (docs/singing.md).
Method: docs/methods.md section 3.

The guide vocals' embeddings are derived from the song catalogue and the encoders, so they live with the catalogue
(assets/songs/guides.npz, written by `esmr sing index`) and record the files they were made from (the catalogue's
manifest, each encoder's weights): a file made with other encoders is not used; the recommender then computes them
once into the user's cache.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio import load_music
from ..data.manifest import load_collection
from ..data.notes import midi_to_name, name_to_midi
from ..encoders import get_encoder
from ..errors import AudioError, EsmrError, ModelUnavailableError
from ..files import atomic_write, file_sha256
from ..paths import cache_dir
from . import features as fx
from . import pitch as P
from .model import TJAE, MoCo, embed_mel

log = logging.getLogger(__name__)

FACTORS = ("range", "timbre", "expression", "voice", "mood")
EMBEDDERS = ("timbre", "expression", "voice", "mood")      # factor name -> embedding of the same name
FACTOR_TEXT = {"timbre": "timbre", "expression": "singing expression", "voice": "voice (speaker embedding)",
               "mood": "overall mood"}
# Chosen by the grid search of `esmr sing evaluate` on the validation singers (docs/singing.md): best
# P@5 + voice-match@5 (range fixed at 1, others in {0, .25, .5, 1}; ties -> smaller total weight).
DEFAULT_WEIGHTS: dict[str, float] = {"range": 1.0, "timbre": 0.5, "expression": 0.25, "voice": 0.0, "mood": 1.0}
GUIDES_FILE = "guides.npz"        # in the song catalogue's folder (and, computed at load, in the user's cache)
MODEL_DIRS = ("sscl-timbre", "sscl-expression", "tjae")   # under the checkpoints folder
MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


def default_weights() -> dict[str, float]:
    return dict(DEFAULT_WEIGHTS)


def transpose_key(key: str, shift: int) -> str:
    """"C major" + 2 -> "D major"; "F# minor" - 1 -> "F minor". Unknown formats are returned unchanged."""
    parts = str(key).split()
    if len(parts) != 2:
        return key
    try:
        pc = (name_to_midi(parts[0] + "4") + int(shift)) % 12
    except EsmrError:
        return key
    names = MINOR_NAMES if parts[1].lower() == "minor" else MAJOR_NAMES
    return f"{names[pc]} {parts[1]}"


@dataclass
class SingingAnalysis:
    """Everything rank_songs needs; computed once per clip."""

    range: P.VoiceRange
    embeddings: dict[str, np.ndarray]              # factor name -> (D,) unit vector
    songs: list[dict[str, Any]] = field(default_factory=list)  # per song: id, title, key, factors, transpose, ...
    duration_s: float = 0.0


class Embedders:
    """The four clip embeddings: SSCL timbre/expression, resemblyzer, TJAE. embed(samples16k) -> dict."""

    def __init__(self, checkpoints: str | Path):
        root = Path(checkpoints)
        self.sscl_timbre = MoCo.from_pretrained(root / "sscl-timbre").encoder_q
        self.sscl_expression = MoCo.from_pretrained(root / "sscl-expression").encoder_q
        self.tjae = TJAE.from_pretrained(root / "tjae")
        # which weights the embeddings come from: recorded in (and checked against) the guide embeddings file
        self.weights_sha256 = {d: file_sha256(root / d / "model.safetensors") for d in MODEL_DIRS}

    def embed(self, samples16k: np.ndarray, only: tuple[str, ...] = EMBEDDERS) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with torch.inference_mode():
            mel = fx.logmel(samples16k)
            if "timbre" in only:
                out["timbre"] = embed_mel(self.sscl_timbre, mel)
            if "expression" in only:
                out["expression"] = embed_mel(self.sscl_expression, mel)
            if "mood" in only:
                out["mood"] = self.tjae.embed(mel)
        if "voice" in only:
            out["voice"] = np.asarray(get_encoder("timbre").encode(samples16k), dtype=np.float32)
        return out


def guides_fingerprint(songs_dir: Path, embedders: Embedders) -> str:
    """What a guide embeddings file was made from: sha256 of the catalogue's manifest and of each encoder's
    weights, as a JSON object (sorted keys)."""
    return json.dumps({"manifest.jsonl": file_sha256(songs_dir / "manifest.jsonl"), **embedders.weights_sha256},
                      sort_keys=True)


def read_guides(path: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    """The guide embeddings in `path` when it exists and was made from the same catalogue and encoders, else None."""
    if not path.is_file():
        return None
    data = dict(np.load(path, allow_pickle=False))
    if str(data.get("fingerprint", "")) != fingerprint:
        log.info(f"{path} was made from another song catalogue or other singing encoders; not used "
                 "(run `esmr sing index` to rewrite it)")
        return None
    return data


def compute_guides(embedders: Embedders, songs_dir: Path, rows: list[dict]) -> dict[str, np.ndarray]:
    """{"keys": (G,) "song_id|voice", "<factor>": (G, D), "fingerprint": ()} for every guide vocal."""
    keys, embs = [], {k: [] for k in EMBEDDERS}
    for i, row in enumerate(rows):
        for g in row.get("guides", []):
            e = embedders.embed(load_music(songs_dir / g["path"], sr=fx.SR))
            keys.append(f"{row['id']}|{g['voice']}")
            for k in EMBEDDERS:
                embs[k].append(e[k])
        if i % 10 == 0:
            log.info(f"guide embeddings: {i + 1}/{len(rows)} songs")
    return {"keys": np.asarray(keys), "fingerprint": np.asarray(guides_fingerprint(songs_dir, embedders)),
            **{k: np.stack(v).astype(np.float32) for k, v in embs.items()}}


def write_guides(path: Path, data: dict[str, np.ndarray]) -> Path:
    """Write guide embeddings (compressed .npz), atomically."""
    def save(tmp: str) -> None:
        with open(tmp, "wb") as fh:   # a file object: np.savez would append ".npz" to a name
            np.savez_compressed(fh, **data)

    return atomic_write(path, save)


def guide_embeddings(embedders: Embedders, songs_dir: Path, rows: list[dict],
                     cache: Path | None = None) -> dict[str, np.ndarray]:
    """The guide embeddings of the catalogue in songs_dir for these encoders: songs_dir/guides.npz when it was made
    from them, else `cache` when it was, else computed (and written to `cache`, when given and writable)."""
    fp = guides_fingerprint(songs_dir, embedders)
    for path in (songs_dir / GUIDES_FILE, cache):
        data = read_guides(path, fp) if path is not None else None
        if data is not None:
            return data
    data = compute_guides(embedders, songs_dir, rows)
    if cache is not None:
        try:
            write_guides(cache, data)
        except OSError as exc:
            log.warning(f"could not cache the guide embeddings in {cache}: {exc}")
    return data


def song_factors(vrange: P.VoiceRange, emb: dict[str, np.ndarray], rows: list[dict],
                 guides: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per song: range fit at the best transposition and similarity factors vs the song's guides."""
    keys = [str(k) for k in guides["keys"]]
    sims = {f: (guides[f] @ emb[f] + 1.0) / 2.0 for f in EMBEDDERS}          # (G,) each
    out = []
    for row in rows:
        pitches, durs = P.melody_arrays(row["melody"])   # the whole song: what the person will sing
        shift, octave, fit = P.best_transposition(pitches, durs, vrange.low_midi, vrange.high_midi)
        total = shift + 12 * octave
        idx = [i for i, k in enumerate(keys) if k.split("|", 1)[0] == row["id"]]
        # share of the melody inside the range, reduced when a note lies far outside it (however brief)
        factors, closest = {"range": fit * P.excursion_penalty(pitches, vrange.low_midi, vrange.high_midi, total)}, {}
        for f in EMBEDDERS:
            if idx:
                j = max(idx, key=lambda i: sims[f][i])
                factors[f], closest[f] = float(sims[f][j]), keys[j].split("|", 1)[1]
            else:
                factors[f], closest[f] = 0.0, ""
        out.append({"id": row["id"], "title": row.get("title", row["id"]), "key": row.get("key", ""),
                    "transpose_semitones": int(shift), "octave": int(octave),
                    "melody_range": [midi_to_name(int(pitches.min()) + total), midi_to_name(int(pitches.max()) + total)],
                    "factors": factors, "closest_guide": closest,
                    "guides": {g["voice"]: g.get("patch", g["voice"]) for g in row.get("guides", [])}})
    return out


def check_weights(weights: dict[str, float] | None) -> dict[str, float]:
    w = default_weights() if weights is None else {**{f: 0.0 for f in FACTORS}, **weights}
    bad = [k for k in w if k not in FACTORS]
    if bad:
        raise EsmrError(f"unknown weight(s) {bad}; use {list(FACTORS)}")
    try:
        w = {k: float(v) for k, v in w.items()}
    except (TypeError, ValueError):
        raise EsmrError(f"weights must be numbers, got {weights}") from None
    if any((not np.isfinite(v)) or v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise EsmrError("weights must be finite, >= 0, and not all zero")
    return {k: float(v) for k, v in w.items()}


def _reasons(song: dict, w: dict[str, float], means: dict[str, float]) -> list[str]:
    f, shift, octave = song["factors"], song["transpose_semitones"], song["octave"]
    how = "in the original key" if shift == 0 else f"at {shift:+d} semitones"
    if octave:
        how += f", {abs(octave)} octave{'s' if abs(octave) > 1 else ''} {'lower' if octave < 0 else 'higher'}"
    reasons = [f"sing in {transpose_key(song['key'], shift)} ({how})",
               f"fits your range {100 * f['range']:.0f}% {how}"]
    # strongest similarity factor: the largest weighted advantage over the catalogue average
    gains = {k: w[k] * (f[k] - means[k]) for k in EMBEDDERS if w[k] > 0}
    if gains:
        k = max(gains, key=gains.get)
        if gains[k] > 0:
            voice = song["closest_guide"][k]
            patch = song["guides"].get(voice, voice)
            reasons.append(f"{FACTOR_TEXT[k]} close to the {voice.split('-')[0]} {patch} guide "
                           f"({f[k]:.2f} vs catalogue mean {means[k]:.2f})")
    best = max((w[k] * (f[k] - means[k]), k) for k in FACTORS if w[k] > 0)[1]
    reasons.insert(0, f"strongest factor: {best}")
    return reasons


def rank_songs(analysis: SingingAnalysis, weights: dict[str, float] | None = None, top_k: int = 5) -> list[dict]:
    """Top-k songs for an analysis under `weights` (missing factors = 0). No audio is touched."""
    w = check_weights(weights)
    total = sum(w.values())
    if not analysis.songs:
        return []
    means = {k: float(np.mean([s["factors"][k] for s in analysis.songs])) for k in FACTORS}
    scored = []
    for s in analysis.songs:
        score = sum(w[k] * s["factors"][k] for k in FACTORS) / total
        scored.append((-score, abs(s["transpose_semitones"]), s["id"], score, s))
    scored.sort(key=lambda t: t[:3])
    out = []
    for _, _, _, score, s in scored[: max(1, int(top_k))]:
        out.append({"id": s["id"], "title": s["title"], "key": transpose_key(s["key"], s["transpose_semitones"]),
                    "original_key": s["key"], "transpose_semitones": s["transpose_semitones"], "octave": s["octave"],
                    "melody_range": s["melody_range"], "range_fit": round(s["factors"]["range"], 4),
                    "score": round(float(score), 4),
                    "factors": {k: round(float(v), 4) for k, v in s["factors"].items()},
                    "reasons": _reasons(s, w, means)})
    return out


class SingingRecommender:
    """Loads the singing encoders and the song catalogue once; thread-safe for reading afterwards."""

    def __init__(self, embedders: Embedders, songs_dir: Path, rows: list[dict], guides: dict[str, np.ndarray]):
        self.embedders, self.songs_dir, self.rows, self.guides = embedders, songs_dir, rows, guides

    @classmethod
    def load(cls, checkpoints_dir: str | Path, songs_dir: str | Path) -> "SingingRecommender":
        songs_dir = Path(songs_dir)
        try:
            rows = load_collection(songs_dir, "songs").rows
        except (FileNotFoundError, ValueError) as exc:
            raise ModelUnavailableError(f"no song catalogue: {exc}; build it with: esmr songs build") from None
        if not rows:
            raise ModelUnavailableError(f"the song catalogue in {songs_dir} is empty; run: esmr songs build")
        emb = Embedders(checkpoints_dir)
        guides = guide_embeddings(emb, songs_dir, rows, cache_dir() / "singing" / GUIDES_FILE)
        return cls(emb, songs_dir, rows, guides)

    def analyze(self, samples16k: np.ndarray, *, check_singing: bool = True) -> SingingAnalysis:
        """(T,) float32 at 16 kHz (10-30 s of singing) -> SingingAnalysis. AudioError for speech, silence,
        too short clips or no pitch."""
        y = np.asarray(samples16k, dtype=np.float32).reshape(-1)
        if y.size == 0 or not np.isfinite(y).all():
            raise AudioError("the recording is empty or damaged; record 10-30 s of singing again")
        f0, voiced = P.pitch_track(y)
        vrange = P.estimate_range(f0, voiced, len(y) / fx.SR, check_singing=check_singing)
        emb = self.embedders.embed(y)
        return SingingAnalysis(vrange, emb, song_factors(vrange, emb, self.rows, self.guides), len(y) / fx.SR)

    def rank(self, analysis: SingingAnalysis, weights: dict[str, float] | None = None, top_k: int = 5) -> list[dict]:
        return rank_songs(analysis, weights, top_k)

    @staticmethod
    def default_weights() -> dict[str, float]:
        return default_weights()


def result_json(analysis: SingingAnalysis, songs: list[dict]) -> dict:
    """The `esmr sing recommend PATH --json` object."""
    return {"range": analysis.range.as_dict(), "duration_s": round(analysis.duration_s, 2), "songs": songs}


__all__ = ["SingingRecommender", "SingingAnalysis", "rank_songs", "default_weights", "transpose_key",
           "FACTORS", "result_json"]
