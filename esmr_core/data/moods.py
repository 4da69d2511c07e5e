"""Evidence about a music track's mood that does not come from vibenet: audio descriptors and mood words in titles.

Descriptors (`describe`, one mono excerpt -> a dict of named numbers) are the cues that music-psychology studies
find behind perceived emotion (Gabrielsson & Lindström 2010; Juslin & Laukka 2004; Eerola, Friberg & Bresin 2013):
tempo, mode and key clarity, loudness and its range, spectral brightness, onset density. Key and mode follow the
Krumhansl-Kessler (1982) key profiles correlated with the mean chroma vector, as MIRtoolbox's `mirkey`,
`mirkeyclarity` and `mirmode` do (Lartillot & Toiviainen 2007); reimplemented here with librosa.

`title_moods` reads the moods that a source's own title names ("Victory", "Funeral", "Ghost Forest", "Battle
Theme"): the word lists below, matched on whole words of the title and of the file name (camelCase and
snake_case split; a long keyword also matches the start of a compound such as "ghostforest").
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
from ..emotion import MUSIC_MOODS, coords
from ..emotion import MUSIC_MOODS

DESCRIPTOR_SR = 22050          # Hz
DESCRIPTOR_VERSION = "1"       # bump when a descriptor's definition changes (rows carry it)
DESCRIPTORS = ("tempo_bpm", "mode", "key_clarity", "loudness_lufs", "dynamic_range_db", "centroid_hz",
               "onset_rate")
UNITS = {"tempo_bpm": "BPM", "mode": "r(major) - r(minor)", "key_clarity": "max r", "loudness_lufs": "LUFS",
         "dynamic_range_db": "dB (p90-p10 of 1 s loudness)", "centroid_hz": "Hz", "onset_rate": "onsets/s"}

# Krumhansl & Kessler (1982) probe-tone ratings, C major and C minor.
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def key_profile_correlations(chroma_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of a 12-bin mean chroma with the 12 rotations of each key profile: (major (12,),
    minor (12,)); index = tonic pitch class (0 = C)."""
    c = np.asarray(chroma_mean, dtype=np.float64)

    def corr(profile: np.ndarray) -> np.ndarray:
        rots = np.stack([np.roll(profile, k) for k in range(12)])          # (12 keys, 12 bins)
        a = rots - rots.mean(1, keepdims=True)
        b = c - c.mean()
        return (a @ b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b) + 1e-12)

    return corr(_KK_MAJOR), corr(_KK_MINOR)


def describe(y: np.ndarray, sr: int = DESCRIPTOR_SR) -> dict[str, float | str]:
    """Descriptors of mono float audio `y` at `sr` Hz (a 30 s excerpt takes ~1 s on one core).

    tempo_bpm: librosa's tempo estimate from the onset envelope (octave errors possible);
    mode: best major minus best minor key-profile correlation (> 0 major-like, MIRtoolbox `mirmode`);
    key_clarity: the best correlation over the 24 keys (low = atonal, chromatic or noisy);
    key: the best key's name, e.g. "A minor";
    loudness_lufs: integrated loudness (ITU-R BS.1770, pyloudnorm) of the excerpt as the package has it;
    dynamic_range_db: p90 - p10 of the loudness of 1 s windows (gated at -70 LUFS), a loudness-range measure;
    centroid_hz: mean spectral centroid (brightness);
    onset_rate: detected onsets per second (note density / articulation).
    """
    import librosa
    import pyloudnorm

    y = np.asarray(y, dtype=np.float32)
    dur = len(y) / sr
    hop = 512
    onset_env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset_env, sr=sr, hop_length=hop))[0])
    onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=sr, hop_length=hop)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, n_fft=4096, hop_length=2048)
    major, minor = key_profile_correlations(chroma.mean(axis=1))
    best_major, best_minor = int(np.argmax(major)), int(np.argmax(minor))
    if major[best_major] >= minor[best_minor]:
        key = f"{PITCH_CLASSES[best_major]} major"
    else:
        key = f"{PITCH_CLASSES[best_minor]} minor"
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr, n_fft=2048, hop_length=hop)[0]
    meter = pyloudnorm.Meter(sr)
    x = y.astype(np.float64)
    lufs = float(meter.integrated_loudness(x)) if dur >= 0.5 else -np.inf
    win = sr
    short = []
    for start in range(0, max(len(x) - win, 0) + 1, win // 2):
        seg = x[start:start + win]
        ms = float(np.mean(seg ** 2)) if seg.size else 0.0
        short.append(-0.691 + 10 * np.log10(ms + 1e-12))                # unweighted BS.1770-style level
    short = np.array([s for s in short if s > -70.0])
    dyn = float(np.percentile(short, 90) - np.percentile(short, 10)) if short.size >= 3 else 0.0
    return {"tempo_bpm": round(tempo, 2), "mode": round(float(major[best_major] - minor[best_minor]), 4),
            "key_clarity": round(float(max(major[best_major], minor[best_minor])), 4), "key": key,
            "loudness_lufs": round(lufs, 2) if np.isfinite(lufs) else -70.0,
            "dynamic_range_db": round(dyn, 2), "centroid_hz": round(float(np.mean(centroid)), 1),
            "onset_rate": round(len(onsets) / max(dur, 1e-6), 3), "version": DESCRIPTOR_VERSION}


def describe_file(path, sr: int = DESCRIPTOR_SR) -> dict[str, float | str]:
    """`describe` of an audio file (downmixed, resampled to `sr`)."""
    import soundfile as sf
    import soxr

    y, native = sf.read(str(path), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if native != sr:
        y = soxr.resample(y, native, sr).astype(np.float32)
    return describe(y, sr)


# ---------------------------------------------------------------------------------------------- titles
# Words in a title that name a mood -> the moods that word is compatible with. A battle theme may be angry or
# exciting, a victory theme happy or exciting; agreement means the assigned mood is one of the set.
TITLE_WORDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("victory", "victorious", "triumph", "triumphant", "win", "winner", "won", "wonrace"): ("happy", "exciting"),
    ("celebration", "celebrate", "party", "happy", "joy", "joyful", "fiesta", "festival", "fair", "cheer",
     "cheerful", "sunny", "jolly", "carnival", "christmas"): ("happy", "funny"),
    ("funny", "silly", "circus", "clown", "comic", "goofy", "wacky", "bouncy", "toy"): ("funny", "happy"),
    ("sad", "sadness", "funeral", "lament", "sorrow", "mourning", "tears", "elegy", "requiem", "lose", "lost",
     "lostrace", "loss", "defeat", "tragic", "tragedy", "melancholy", "despair", "farewell", "grief"): ("sad",),
    ("love", "lullaby", "tender", "romance", "romantic", "sweet", "gentle"): ("tender", "calm"),
    ("calm", "calmrace", "ambient", "ambience", "ambiphonic", "peace", "peaceful", "serene", "tranquil",
     "breeze", "meditation", "quiet", "relax", "sleep", "dream", "contemplation", "contemplations"):
        ("calm", "tender"),
    ("race", "racing", "chase", "sprint", "speed", "action", "rush", "adventure", "prix", "spunky",
     "spunkyrace", "upbeat"): ("exciting", "happy"),
    ("battle", "war", "fight", "combat", "attack", "assault", "rage", "fury", "boss", "bossattack", "army",
     "siege", "hyperbattle", "techbattle", "invasion", "hellforce"): ("angry", "exciting"),
    ("horror", "ghost", "ghosts", "haunted", "halloween", "fear", "evil", "hell", "demon", "sinister", "creepy",
     "nightmare", "terror", "threat", "tension", "suspicion", "intrigue", "eerie", "dread", "zombie", "spooky",
     "dark"): ("scary", "sad"),
}
_WORD_MOODS = {w: moods for words, moods in TITLE_WORDS.items() for w in words}
_PREFIX_MIN = 4        # keywords this long also match the start of a compound word ("ghostforest")


def _words(text: str) -> list[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)                    # HellFortressEntrance
    return [w for w in re.split(r"[^a-z]+", text.lower()) if w]


def title_moods(*texts: str) -> tuple[str, ...]:
    """Moods compatible with every mood word found in the texts (title, file name), in MUSIC_MOODS order of
    first appearance; () when no text names a mood, or when the words disagree (no common mood)."""
    found: list[tuple[str, ...]] = []
    for text in texts:
        for w in _words(text or ""):
            moods = _WORD_MOODS.get(w)
            if moods is None:
                moods = next((m for k, m in _WORD_MOODS.items()
                              if len(k) >= _PREFIX_MIN and w.startswith(k) and len(w) > len(k) + 2), None)
            if moods is not None:
                found.append(moods)
    if not found:
        return ()
    common = [m for m in found[0] if all(m in f for f in found[1:])]
    return tuple(common)


def descriptor_matrix(rows: Sequence[dict], names: Sequence[str] = DESCRIPTORS) -> np.ndarray:
    """(N, len(names)) float matrix of the rows' `descriptors` dicts."""
    return np.array([[float(r["descriptors"][n]) for n in names] for r in rows], dtype=np.float64)


# ---------------------------------------------------------------------------------------------- assignment
def mood_distances(valence: Sequence[float], arousal: Sequence[float],
                   moods: Sequence[str] | None = None) -> np.ndarray:
    """(N, M) Euclidean distances from calibrated (valence, arousal) points in [0, 1]^2 to the moods'
    NRC-VAD (valence, arousal) coordinates."""
    pts = coords(list(moods or MUSIC_MOODS), "VA")                        # (M, 2)
    va = np.stack([np.asarray(valence, np.float64), np.asarray(arousal, np.float64)], axis=1)   # (N, 2)
    return np.linalg.norm(va[:, None, :] - pts[None, :, :], axis=2)


def balanced_assignment(cost: np.ndarray, floor: int, slack: float) -> tuple[np.ndarray, dict[int, int]]:
    """Column per row minimising the total cost subject to every column getting at least `floor` rows, where a
    row may only take a column within `slack` of its own cheapest one (its nearest mood, or one nearly as near).

    Returns (column index per row (N,), {column: rows missing to reach the floor}) -- a column that cannot
    reach the floor with the rows allowed to move into it stays short instead of taking implausible rows.

    Exact min-cost flow by successive shortest paths (Ahuja, Magnanti & Orlin 1993, ch. 9): start from every row
    at its cheapest column (the optimum without floors); while a column is short, find the cheapest chain of
    moves that carries one row from a column above the floor into it -- a shortest path (Bellman-Ford) over
    the M columns, where going from column x to y costs the least cost increase of moving one of x's rows to
    y (negative for a row moving back) -- and apply it. At most M * floor paths of O(N M) work each, so a
    million rows take seconds.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    floor = max(0, min(int(floor), n // max(m, 1)))
    allowed = cost <= cost.min(axis=1, keepdims=True) + slack + 1e-12
    out = cost.argmin(axis=1)
    counts = np.bincount(out, minlength=m)
    unreachable: set[int] = set()
    rows = np.arange(n)
    while True:
        short = [j for j in range(m) if counts[j] < floor and j not in unreachable]
        if not short:
            break
        delta = np.where(allowed, cost - cost[rows, out][:, None], np.inf)      # (N, M) cost of each move
        edge = np.full((m, m), np.inf)                                          # cheapest move x -> y
        via = np.full((m, m), -1)                                               # ... and its row
        for x in range(m):
            members = np.flatnonzero(out == x)
            if members.size:
                best = members[delta[members].argmin(axis=0)]                  # (M,) a row of x per y
                edge[x], via[x] = delta[best, np.arange(m)], best
        np.fill_diagonal(edge, np.inf)
        dist = np.where(counts > floor, 0.0, np.inf)                            # sources: columns above floor
        pred = np.full(m, -1)
        for _ in range(m):                                                      # Bellman-Ford over m nodes
            cand = dist[:, None] + edge                                         # (x, y)
            x_best = cand.argmin(axis=0)
            better = cand[x_best, np.arange(m)] < dist - 1e-15
            if not better.any():
                break
            dist = np.where(better, cand[x_best, np.arange(m)], dist)
            pred = np.where(better, x_best, pred)
        target = min(short, key=lambda j: dist[j])
        if not np.isfinite(dist[target]):
            unreachable.update(short)                                          # no allowed chain reaches them
            continue
        path = [target]
        while pred[path[-1]] >= 0 and len(path) <= m:
            path.append(int(pred[path[-1]]))
        path.reverse()                                                          # source column ... target
        for x, y in zip(path[:-1], path[1:]):
            out[via[x, y]] = y
        counts[path[0]] -= 1
        counts[path[-1]] += 1
    assert allowed[rows, out].all()
    counts = np.bincount(out, minlength=m)
    return out, {j: int(floor - counts[j]) for j in range(m) if counts[j] < floor}


MOOD_FLOOR = 20      # every mood gets at least this many tracks where the evidence allows (at most half an equal
                     # share, so small catalogues are not forced)
MOOD_SLACK = 0.1     # ... but a track only moves to a mood at most this much farther (VA units) than its nearest
VALENCE_CUES = ("mode", "key_clarity")    # descriptors averaged into valence with vibenet's valence


def calibrated_va(rows: Sequence[dict]) -> tuple[np.ndarray, np.ndarray, bool]:
    """(valence (N,), arousal (N,), descriptors used) in (0, 1) for catalogue rows.

    arousal = within-catalogue percentile of vibenet energy. valence = percentile of vibenet valence, or, when
    every row carries descriptors, the percentile of the mean of three percentiles: vibenet valence, mode and key
    clarity (major, tonally clear music reads as more positive: Gabrielsson & Lindström 2010). On the bundled
    catalogue vibenet's valence alone does not separate tracks whose titles name positive moods from those naming
    negative ones (docs/catalog.md), mode and key clarity do.
    """
    val = percentile_ranks([r["valence_raw"] for r in rows])
    aro = percentile_ranks([r["energy_raw"] for r in rows])
    described = bool(rows) and all("descriptors" in r for r in rows)
    if described:
        cues = [val] + [percentile_ranks([float(r["descriptors"][c]) for r in rows]) for c in VALENCE_CUES]
        val = percentile_ranks(np.mean(cues, axis=0))
    return val, aro, described


def assign_moods(rows: list[dict], floor: int | None = None, slack: float = MOOD_SLACK) -> dict:
    """Set valence, energy (calibrated, see calibrated_va) and mood of every row; returns a summary.

    mood = the nearest NRC-VAD mood in (valence, arousal), except that a mood with fewer than `floor` tracks takes
    tracks that are nearly as near to it as to their own nearest mood (within `slack`), those whose moves add the
    least distance in total (balanced_assignment). Without the floor the NRC coordinates leave happy (squeezed between
    exciting and funny) and scary (beyond angry) almost no room: 0.6 % and 2.4 % of the unit square (mood_areas).
    """
    if not rows:
        return {"moved": 0, "short": {}, "descriptors": False}
    val, aro, described = calibrated_va(rows)
    floor = min(MOOD_FLOOR, len(rows) // (2 * len(MUSIC_MOODS))) if floor is None else floor
    dist = mood_distances(val, aro)
    choice, short = balanced_assignment(dist, floor, slack)
    for r, v, e, j in zip(rows, val, aro, choice):
        r["valence"], r["energy"] = round(float(v), 4), round(float(e), 4)
        r["mood"] = MUSIC_MOODS[int(j)]
    return {"moved": int((choice != dist.argmin(axis=1)).sum()), "floor": floor, "descriptors": described,
            "short": {MUSIC_MOODS[j]: n for j, n in short.items()}}


def mood_areas(grid: int = 400) -> dict[str, float]:
    """Share of the unit (valence, arousal) square whose nearest NRC-VAD mood is each mood: what the nearest-mood
    rule gives each mood when calibrated values fill the square evenly."""
    g = (np.arange(grid) + 0.5) / grid
    v, a = np.meshgrid(g, g)
    near = mood_distances(v.ravel(), a.ravel()).argmin(axis=1)
    return {m: round(float(np.mean(near == j)), 4) for j, m in enumerate(MUSIC_MOODS)}


def percentile_ranks(values: Sequence[float]) -> np.ndarray:
    """Within-set percentile of each value, (rank + 0.5) / n in (0, 1); ties share their mean rank."""
    from scipy.stats import rankdata
    v = np.asarray(values, dtype=np.float64)
    return (rankdata(v) - 0.5) / max(len(v), 1)
