"""The one facade the app and the CLI share.

    svc = get_service()                      # loads checkpoints, catalogue index and map once
    svc.analyze_speech(path_or_bytes_or_(sr, array), text=None, top_k=5, asr=True) -> dict
    svc.analyze_singing(source) -> SingingAnalysis; svc.rank_songs(analysis, weights, top_k) -> dict
    svc.map_figure(result=None, labels=None, kinds=None); svc.map_point(id); svc.about_markdown()

Everything is loaded in `__init__` and read-only afterwards, so one instance is shared by every user of
the app (per-user state lives in the app's gr.State). The models run under torch.inference_mode().
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import audio as audio_mod
from . import inputs
from .data import store
from .data.manifest import load_collection
from .data.notes import name_to_midi
from .encoders.asr import word_weight
from .errors import EsmrError, ModelUnavailableError
from .paths import assets_dir, checkpoints_dir, default_catalog_dir, default_songs_dir
from .retrieval import catalog_index, channel_views
from .retrieval.map2d import Map2D
from .retrieval.moodmatch import MoodMatch
from .timeline import analyze_timeline
from .paths import REPO_ROOT
from .encoders import get_encoder
from .encoders.asr import TranscriptConfidence
from .retrieval.features import speech_vector


@dataclass
class ServiceConfig:
    checkpoint: Path = field(default_factory=lambda: checkpoints_dir() / "esmr-default")
    mate_checkpoint: Path = field(default_factory=lambda: checkpoints_dir() / "mate-default")
    catalog: Path = field(default_factory=default_catalog_dir)
    songs: Path = field(default_factory=default_songs_dir)
    reference: Path = field(default_factory=lambda: assets_dir() / "examples" / "speech")
    singing: bool = True          # load the singing recommender
    top_k: int = 5
    max_transcript_chars: int = field(default_factory=inputs.max_transcript_chars)  # typed transcript limit
    mood_match: bool = True       # use the checkpoint's moodmatch.json (if it has one) to rank the music
    channel_views: tuple[str, ...] = channel_views.VIEWS   # extra views the speech tower pools ((): the clip alone)
    map_dir: Path | None = None   # the embedding map's folder (None: CATALOG/map, where `esmr index build` puts it)



def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise ModelUnavailableError(f"{what} not found at {path}; restore it from the repository (git checkout) "
                                    "or point ESMR_CHECKPOINTS / ESMR_CATALOG / ESMR_ASSETS to another folder")
    return path


def _collection(path: Path, kind: str, what: str):
    """A collection the service needs, or a ModelUnavailableError that says what to do."""
    try:
        return load_collection(_need(path, what), kind=kind)
    except EsmrError as exc:
        raise ModelUnavailableError(f"{what}: {exc}") from None


def _catalog(path: Path):
    """The music catalogue (jsonl: a Collection; parquet: a TrackTable of the shown columns, no features)."""
    try:
        return store.open_catalog(_need(path, "music catalogue"), columns=store.DISPLAY_COLUMNS)
    except EsmrError as exc:
        raise ModelUnavailableError(f"music catalogue: {exc}") from None


def _top_k(top_k: int | None, default: int) -> int:
    return inputs.top_k(top_k, default)


class Service:
    def __init__(self, config: ServiceConfig | None = None):
        from .mate.infer import Mate
        from .retrieval.model import JointModel

        cfg = self.config = config or ServiceConfig()
        t0 = time.perf_counter()
        self.model = JointModel.from_pretrained(_need(cfg.checkpoint, "retrieval checkpoint")).eval()
        self.spec = self.model.feature_spec
        self.catalog = _catalog(cfg.catalog)
        self.tracks = self.catalog.rows    # a list of dicts (jsonl) or a lazy row view (parquet): tracks[i]
        self.index = catalog_index.load_or_fit_index(self.model, cfg.checkpoint, self.catalog)
        # emotion-aware retrieval (retrieval/moodmatch.py): cosine + agreement of the voice's arousal with each
        # track's energy; a checkpoint without moodmatch.json is searched by the cosine alone
        self.moodmatch = MoodMatch.load(cfg.checkpoint) if cfg.mood_match else None
        self.mate = Mate.from_pretrained(_need(cfg.mate_checkpoint, "MATE checkpoint"))
        self.map, self.map_items = self._load_map()
        self.singer = None
        if cfg.singing:
            from .singing.recommend import SingingRecommender

            _collection(cfg.songs, "songs", "song catalogue")
            self.singer = SingingRecommender.load(checkpoints_dir(), cfg.songs)
        self._asr_lock = threading.Lock()
        self._confidence = None   # the recogniser's confidence calibration, loaded with the recogniser
        self.load_seconds = time.perf_counter() - t0

    # ---- loading -------------------------------------------------------------------------------------------
    def _load_map(self) -> tuple[Map2D, dict[str, dict[str, Any]]]:
        """The UMAP map of this checkpoint over this catalogue (built by `esmr index build`); items by id.

        It lives with the catalogue it was built over, in CATALOG/map (the bundled one in assets/music/map), and
        records the checkpoint it was built with. Over a large catalogue the map holds a sample of it
        (catalog_index.MAP_SAMPLE tracks) and the reference voices."""
        folder = self.config.map_dir or self.config.catalog / "map"
        m = Map2D.load(folder) if (folder / "map.json").is_file() else None
        if m is None or not catalog_index.map_matches(m, self.catalog, self.config.checkpoint):
            raise ModelUnavailableError(
                f"no embedding map of this checkpoint matches the catalogue {self.config.catalog} in {folder}: run "
                f"`esmr index build --checkpoint {self.config.checkpoint} --catalog {self.config.catalog} --out "
                f"{folder}`")
        ref = None
        if (self.config.reference / "collection.json").is_file():
            ref = load_collection(self.config.reference, kind="speech")
        return m, catalog_index.map_items(m, self.catalog, ref)

    # ---- speech -> music ---------------------------------------------------------------------------------
    def _load(self, source: Any, **kw: Any) -> audio_mod.Audio:
        if isinstance(source, audio_mod.Audio):
            return source
        if isinstance(source, tuple) and len(source) == 2:
            sr, arr = source  # gradio's microphone: (rate, int16 array); from_array validates the rate
            return audio_mod.from_array(np.asarray(arr), sr, **kw)
        if source is None:
            raise audio_mod.AudioError("no audio given: record with the microphone or upload a file")
        return audio_mod.load_audio(source, **kw)

    def transcribe(self, samples: np.ndarray) -> str:
        return self.transcribe_scored(samples)[0]

    def transcribe_scored(self, samples: np.ndarray) -> tuple[str, float]:
        """English words recognised in a clip and the calibrated probability that they are usable (0..1)."""
        with self._asr_lock:
            heard = get_encoder("asr").transcribe_scored(samples)
            if self._confidence is None:
                self._confidence = TranscriptConfidence.load()
            return heard.text, self._confidence(heard)

    # ---- one voice -> reading -> music (shared by /analyze and the timeline) ----------------------------------
    def voice_features(self, samples: np.ndarray, words: str, weight: float) -> np.ndarray:
        """Speech-tower features (V, D) of a 16 kHz clip and of its channel views
        (esmr_core/retrieval/channel_views.py), the words counted at `weight` (0: voice only)."""
        return np.stack([speech_vector(v, words, self.spec, text_weight=weight)
                         for v in channel_views.views(samples, self.config.channel_views)])

    def read_voice(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features of one voice's views (V, D) -> (z (1, E) unit joint embedding, emotion probabilities (C,),
        valence/arousal/dominance (1, 3)): the views' readings pooled."""
        z, probs, vad = channel_views.pooled_reading(self.model, x)
        return z.numpy(), probs, vad

    def rank_music(self, z: np.ndarray, vad: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top k tracks for Q queries: z (Q, E) unit embeddings, vad (Q, 3) their valence/arousal/dominance ->
        (scores (Q, k), catalogue positions (Q, k)): cosine plus the energy/valence agreement of the checkpoint's
        moodmatch.json (esmr_core/retrieval/moodmatch.py), or the cosine alone without one."""
        z, vad = np.asarray(z, np.float32), np.asarray(vad, np.float64)
        if self.moodmatch is not None:
            return self.moodmatch.search(self.index, z, vad[:, 1], vad[:, 0], k, lambda i: self.tracks[i])
        return self.index.search(z, k=k)

    def analyze_speech(self, source: Any, text: str | None = None, top_k: int | None = None,
                       asr: bool = True) -> dict[str, Any]:
        """Emotion (categorical + VAD), MATE reading, transcript, top-k tracks and map position for a voice."""
        typed = inputs.transcript(text, self.config.max_transcript_chars)  # checked before any audio work
        asr = inputs.flag(asr, "asr")
        k = _top_k(top_k, self.config.top_k)
        timing: dict[str, float] = {}
        t = time.perf_counter()
        clip = self._load(source)
        timing["load_ms"] = (time.perf_counter() - t) * 1e3
        transcript, transcript_source = typed, "typed" if typed else "none"
        confidence = 1.0 if typed else 0.0
        if not typed and asr:
            t = time.perf_counter()
            transcript, confidence = self.transcribe_scored(clip.samples)
            transcript_source = "asr"
            timing["asr_ms"] = (time.perf_counter() - t) * 1e3
        # How far the words count against the voice: typed words fully; recognised words by the recogniser's
        # calibrated confidence, not at all below the floor (invented words must not outvote the voice)
        weight = word_weight(transcript, confidence)
        t = time.perf_counter()
        x = self.voice_features(clip.samples, transcript if weight > 0 else "", weight)
        timing["features_ms"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        z_np, probs, vad = self.read_voice(x)
        scores, idx = self.rank_music(z_np, vad, k)
        xy = self.map.transform(z_np)[0]
        near_xy = self.map.transform(self.index.vectors(idx[0]))  # the retrieved tracks, placed like the query
        timing["model_ms"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        mate = self.mate.predict(clip.samples, transcript if weight > 0 else None, text_weight=weight)
        mate = {**mate, "probabilities": {e: round(float(p), 4) for e, p in mate["probabilities"].items()},
                "arousal": round(float(mate["arousal"]), 3), "valence": round(float(mate["valence"]), 3)}
        timing["mate_ms"] = (time.perf_counter() - t) * 1e3
        emotions = list(self.model.cfg.emotions)
        label = emotions[int(np.argmax(probs))]
        tracks = []
        for s, i, (tx, ty) in zip(scores[0], idx[0], near_xy):
            row = self.tracks[int(i)]
            tracks.append({"id": row["id"], "title": row["title"], "artist": row["artist"], "mood": row["mood"],
                           "score": round(float(s), 4), "path": str(self.catalog.path(row)),
                           "licence": row["licence"], "map": {"x": round(float(tx), 4), "y": round(float(ty), 4)}})
        timing["total_ms"] = sum(v for k, v in timing.items())
        return {
            "emotion": {"label": label, "probabilities": {e: round(float(p), 4) for e, p in zip(emotions, probs)}},
            "vad": dict(zip(("valence", "arousal", "dominance"), (round(float(v), 4) for v in vad[0]))),
            "mate": mate,
            "transcript": transcript,
            "transcript_source": transcript_source,
            # 0..1: the share the words had in both readings (typed 1; recognised: calibrated ASR confidence)
            "transcript_confidence": round(float(confidence), 3),
            "words_weight": round(float(weight), 3),
            "tracks": tracks,
            "map": {"x": round(float(xy[0]), 4), "y": round(float(xy[1]), 4)},
            "timing_ms": {k: round(v, 1) for k, v in timing.items()},
            "warnings": list(clip.warnings),
            "duration_s": round(clip.duration_s, 3),
            "truncated": bool(clip.truncated),
        }

    # ---- long recordings -----------------------------------------------------------------------------------
    def analyze_timeline(self, source: Any, progress=None, **options: Any) -> dict[str, Any]:
        """The emotion arc of a recording of up to 10 minutes and a soundtrack that follows it: utterances,
        sections, cue sheet (esmr_core.timeline.analyze_timeline; options: script, asr, top_k, min_section_s, ...)."""
        return analyze_timeline(self, source, progress=progress, **options)

    # ---- map -----------------------------------------------------------------------------------------------
    def map_figure(self, result: dict[str, Any] | None = None, labels=None, kinds=None):
        q = (result["map"]["x"], result["map"]["y"]) if result else None
        qlabel = result["emotion"]["label"] if result else None
        hl = [t["id"] for t in result["tracks"]] if result else ()
        # retrieved tracks outside the map's sample (large catalogues) are drawn where the query's placement puts them
        extra = [{**t["map"], "label": t["mood"], "name": f'{t["title"]} ({t["artist"]})', "id": t["id"]}
                 for t in (result["tracks"] if result else ()) if t["id"] not in self.map_items and "map" in t]
        return self.map.figure(query_xy=q, query_label=qlabel, labels=labels, kinds=kinds, highlight_ids=hl,
                               extra_points=extra)

    def map_point(self, item_id: str) -> dict[str, Any]:
        """A map point, or any catalogue track by id (large catalogues show only a sample on the map)."""
        if item_id in self.map_items:
            return self.map_items[item_id]
        row = catalog_index.find_track(self.catalog, str(item_id)) if isinstance(item_id, str) else None
        if row is None:
            raise EsmrError(f"no item {item_id!r} on the map")
        return catalog_index.track_item(self.catalog, row)

    # ---- singing -> songs ----------------------------------------------------------------------------------
    def _singer(self):
        if self.singer is None:
            raise ModelUnavailableError("the singing recommender is not loaded")
        return self.singer

    def analyze_singing(self, source: Any):
        clip = self._load(source, require_voice=False)
        return self._singer().analyze(clip.samples)

    def rank_songs(self, analysis: Any, weights: dict[str, float] | None = None,
                   top_k: int | None = None) -> dict[str, Any]:
        """Rank songs for an analysed singing clip (no audio work): {"range", "duration_s", "songs": [...]},
        each song with absolute paths of its backing track and of the guide vocal nearest the singer's register."""
        from .singing.recommend import result_json

        singer = self._singer()
        weights = inputs.weights(weights, names=list(singer.default_weights()))
        out = result_json(analysis, singer.rank(analysis, weights=weights, top_k=_top_k(top_k, self.config.top_k)))
        rows = {r["id"]: r for r in singer.rows}
        mid = (out["range"]["low_midi"] + out["range"]["high_midi"]) / 2
        for song in out["songs"]:
            row = rows[song["id"]]
            song["backing"] = str(singer.songs_dir / row["backing"])
            guide = min(row["guides"], key=lambda g: abs(
                (name_to_midi(g["low_note"]) + name_to_midi(g["high_note"])) / 2 - mid))
            song["guide"] = str(singer.songs_dir / guide["path"])
            song["guide_voice"] = guide["voice"]
        return out

    def singing_default_weights(self) -> dict[str, float]:
        return dict(self._singer().default_weights())

    # ---- about ----------------------------------------------------------------------------------------------
    def about_markdown(self) -> str:
        """What each model is, trained on what, with what measured results (the model cards), and the credits."""
        from collections import Counter

        parts = ["## The models\n\nEach section is the model card shipped in the checkpoint's folder."]
        cards = [self.config.checkpoint, self.config.mate_checkpoint,
                 *sorted(p for p in checkpoints_dir().iterdir() if p.is_dir())]
        seen: set[Path] = set()
        for folder in cards:
            card = folder / "README.md"
            if card.is_file() and folder.resolve() not in seen:
                seen.add(folder.resolve())
                parts.append(card.read_text(encoding="utf-8"))
        licences = Counter(store.value_counts(self.catalog, "licence"))
        credit = ["## Music, songs and credits",
                  f"**Music catalogue** (`{_shown(self.catalog.root)}`): {len(self.catalog)} excerpts from "
                  f"{len(store.value_counts(self.catalog, 'source'))} sources; licences: "
                  + ", ".join(f"{k} {v}" for k, v in licences.most_common())
                  + ". Every track's authors and licence: `CREDITS.md` in that folder."]
        if self.singer is not None:
            credit.append(f"**Songs** (`{_shown(self.singer.songs_dir)}`): {len(self.singer.rows)} public-domain songs rendered "
                          "with FluidSynth (FluidR3_GM soundfont, MIT); `CREDITS.md` in that folder.")
        credit.append("**Emotion coordinates**: NRC Valence, Arousal, and Dominance Lexicon v1 (Saif M. Mohammad, "
                      "ACL 2018), free for research and non-commercial use; only ~50 emotion words are bundled.")
        credit.append("**Project licence**: GPL-3.0-or-later. Synthetic example voices and singers: this project.")
        parts.append("\n\n".join(credit))
        return "\n\n---\n\n".join(parts)


def _shown(path: Path) -> str:
    """A path as a reader of the About page knows it: relative to the repository when inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


_SERVICE: Service | None = None
_SERVICE_LOCK = threading.Lock()


def get_service(config: ServiceConfig | None = None) -> Service:
    """The process-wide service (created on first call; thread-safe)."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = Service(config)
        return _SERVICE


def build_map(checkpoint: Path, catalog: Path, reference: Path | None, out: Path | None = None,
              progress: bool = True, *, index_out: Path | None = None, backend: str = "auto",
              map_sample: int = catalog_index.MAP_SAMPLE) -> Map2D:
    """Fit the UMAP map of a checkpoint's joint space over the catalogue's music (at most `map_sample` tracks)
    and the reference speech clips, and save it in `<catalog>/map` (or `out`); with `index_out`, also save
    the catalogue's search index there (catalog_index.build_index_and_map). Run again after changing the
    checkpoint or catalogue."""
    m, _ = catalog_index.build_index_and_map(Path(checkpoint), Path(catalog), reference,
                                             Path(out) if out else Path(catalog) / "map", index_out,
                                             backend=backend, map_sample=map_sample, progress=progress)
    return m
