"""Readers that turn a user's local copy of a public emotion corpus into a project collection (manifest).

No audio is copied or decoded: rows hold absolute paths to the user's files. Each reader returns an
`ImportResult` (rows + counts of what was skipped and why); `import_dataset` writes it as a collection.

Speech rows (manifest.REQUIRED["speech"] plus): dataset, raw_label, speaker, gender ("F"/"M"/None), fold,
vad_source ("ratings" = the corpus's own dimensional ratings, "label" = NRC-VAD coordinates of the label,
"ratings_va" = valence/arousal rated, dominance from the label). valence/arousal/dominance are in [0, 1].
Music rows (manifest.REQUIRED["music"] plus): dataset, split, moods, va_source.

Layouts follow the official releases:
  IEMOCAP   Busso et al. 2008, sail.usc.edu/iemocap  (Session{1..5}/dialog/EmoEvaluation/*.txt, sentences/wav)
  RAVDESS   Livingstone & Russo 2018, zenodo 1188976 (Actor_XX/MM-VV-EE-II-SS-RR-AA.wav)
  CREMA-D   Cao et al. 2014, github.com/CheyneyComputerScience/CREMA-D (AudioWAV/1001_DFA_ANG_XX.wav)
  KEMDy19/20  ETRI, nanum.etri.re.kr (annotation/*.csv with a two-row header, wav/Session*/...wav + .txt)
  AudioSet  Gemmeke et al. 2017 (segments CSV + class_labels_indices.csv; audio downloaded by the user)
  Soundtracks360  Eerola & Vuoskoski 2011, osf.io/p6vkg (Set1/Set2 NNN.mp3 + mean_ratings_set{1,2}.csv)
"""
from __future__ import annotations

import csv
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..files import AUDIO_EXTENSIONS
from .. import emotion
from ..errors import EsmrError
from .manifest import Collection, new_collection



@dataclass
class ImportResult:
    """What a reader found: `rows` for the manifest, `skipped` = {reason: count}, `meta` for collection.json."""

    kind: str
    rows: list[dict[str, Any]]
    skipped: Counter = field(default_factory=Counter)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Drop repeated ids (a corpus unpacked twice under one root), keeping the first, and count them."""
        seen: set[str] = set()
        kept = []
        for row in self.rows:
            if row["id"] in seen:
                self.skipped["duplicate (same clip found twice)"] += 1
            else:
                seen.add(row["id"])
                kept.append(row)
        self.rows = kept


# ---------------------------------------------------------------------------------------------- helpers
def _root(root: str | Path, corpus: str, expect: str) -> Path:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise EsmrError(f"{path} is not a folder; give the folder of your {corpus} copy (expected {expect})")
    return path.resolve()


def _not_like(corpus: str, root: Path, expect: str) -> EsmrError:
    return EsmrError(f"this does not look like a {corpus} folder: expected {expect} under {root}")


def _walk(root: Path, exts: Iterable[str] = AUDIO_EXTENSIONS) -> Iterable[Path]:
    """Files under root with one of the extensions (case-insensitive); hidden files and '._' forks skipped."""
    exts = tuple(exts)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.lower().endswith(exts):
                yield Path(dirpath) / name


def _unit(x: float, lo: float, hi: float) -> float:
    """Rescale a rating on lo..hi to [0, 1] (clipped), 4 decimals."""
    return round(min(1.0, max(0.0, (float(x) - lo) / (hi - lo))), 4)


def _label_vad(word: str) -> tuple[float, float, float]:
    v, a, d = emotion.vad(word)
    return round(float(v), 4), round(float(a), 4), round(float(d), 4)


def _bucket(key: str) -> int:
    """A stable pseudo-random bucket 0..99 of a string (crc32), for splits that survive re-imports."""
    return zlib.crc32(key.encode("utf-8")) % 100


def _hash_split(key: str, valid: int = 10, test: int = 10) -> str:
    b = _bucket(key)
    return "test" if b < test else "val" if b < test + valid else "train"


def _read_text(path: Path) -> str:
    """Small text file in UTF-8 (with or without BOM) or CP949 (Korean Windows, KEMDy20)."""
    data = path.read_bytes()
    for enc in ("utf-8-sig", "cp949"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(_read_text(path).splitlines()))


def _map(dataset: str, raw: str) -> str | None:
    """emotion.map_label, with labels missing from the table treated as unused (None)."""
    try:
        return emotion.map_label(dataset, raw)
    except KeyError:
        return None


def _speech_row(dataset: str, uid: str, path: Path, label: str, raw: str, vad: tuple[float, float, float],
                vad_source: str, text: str, speaker: str, gender: str | None, split: str, fold: int,
                **extra: Any) -> dict[str, Any]:
    return {"id": f"{dataset}-{uid}", "path": str(path), "label": label, "raw_label": raw,
            "valence": vad[0], "arousal": vad[1], "dominance": vad[2], "vad_source": vad_source,
            "text": text, "voice": speaker, "speaker": speaker, "gender": gender, "split": split,
            "fold": fold, "dataset": dataset, **extra}


def _probe_duration(path: Path, nominal: float) -> tuple[float, bool]:
    """(duration in seconds, measured?) from the file header via soundfile; `nominal` when unreadable."""
    try:
        import soundfile as sf

        info = sf.info(str(path))
        if info.samplerate > 0 and info.frames > 0:
            return round(info.frames / info.samplerate, 3), True
    except Exception:  # noqa: BLE001 - any unreadable header falls back to the documented length
        pass
    return nominal, False


# ---------------------------------------------------------------------------------------------- IEMOCAP
_IEMOCAP_EXPECT = "Session1..Session5/dialog/EmoEvaluation/*.txt and Session*/sentences/wav/<dialog>/<utt>.wav"
_IEMOCAP_TURN = re.compile(r"^\[(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\]\s+(Ses\d\d\S+)\s+(\w+)\s+"
                           r"\[\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*\]")
_IEMOCAP_TRANSCRIPT = re.compile(r"^(Ses\d\d\S+)\s+\[[^\]]*\]:\s*(.*)$")
# Evaluators' category names (the "C-E1:\tNeutral state;\t()" lines) -> the 3-letter codes of the turn line.
_IEMOCAP_NAMES = {"neutral state": "neu", "neutral": "neu", "frustration": "fru", "anger": "ang",
                  "sadness": "sad", "happiness": "hap", "excited": "exc", "surprise": "sur", "fear": "fea",
                  "disgust": "dis", "other": "oth"}


def _iemocap_votes(lines: list[str]) -> dict[str, int]:
    """{project emotion: number of evaluators naming it} from a turn's "C-..." lines."""
    votes: Counter = Counter()
    for line in lines:
        picked = set()
        for name in line.split(":", 1)[1].split("(")[0].split(";"):
            code = _IEMOCAP_NAMES.get(name.strip().lower())
            label = _map("iemocap", code) if code else None
            if label:
                picked.add(label)
        votes.update(picked)
    return dict(sorted(votes.items()))


def read_iemocap(root: str | Path) -> ImportResult:
    """IEMOCAP full release. Labels via emotion.map_label("iemocap"); exc->happy, fru->angry, oth/xxx dropped.

    valence/arousal/dominance: the evaluators' mean ratings on 1..5 rescaled by (x-1)/4. fold = session-1
    (leave-one-session-out); split: Session5 test, speaker Ses04F val, the rest train.
    """
    base = _root(root, "IEMOCAP", _IEMOCAP_EXPECT)
    sessions = sorted(p for p in base.glob("Session[1-5]") if (p / "dialog" / "EmoEvaluation").is_dir())
    if not sessions:
        raise _not_like("IEMOCAP", base, _IEMOCAP_EXPECT)
    rows, skipped = [], Counter()
    for sess in sessions:
        n = int(sess.name[-1])
        texts = {}
        for tpath in sorted((sess / "dialog" / "transcriptions").glob("Ses*.txt")):
            for line in _read_text(tpath).splitlines():
                m = _IEMOCAP_TRANSCRIPT.match(line.strip())
                if m:
                    texts[m.group(1)] = m.group(2).strip()
        for epath in sorted((sess / "dialog" / "EmoEvaluation").glob("Ses*.txt")):
            blocks: list[tuple[re.Match, list[str]]] = []
            for line in _read_text(epath).splitlines():
                m = _IEMOCAP_TURN.match(line.strip())
                if m:
                    blocks.append((m, []))
                elif blocks and line.startswith("C-"):
                    blocks[-1][1].append(line)
            for m, vote_lines in blocks:
                start, end, utt, raw = float(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
                label = _map("iemocap", raw)
                if label is None:
                    skipped[f"label {raw} not used"] += 1
                    continue
                wav = sess / "sentences" / "wav" / utt.rsplit("_", 1)[0] / f"{utt}.wav"
                if not wav.is_file():
                    skipped["missing wav"] += 1
                    continue
                g = utt.rsplit("_", 1)[1][0].upper()
                speaker = f"{utt[:5]}{g}"
                split = "test" if n == 5 else "val" if speaker == "Ses04F" else "train"
                vad = tuple(_unit(float(m.group(i)), 1.0, 5.0) for i in (5, 6, 7))
                rows.append(_speech_row(
                    "iemocap", utt, wav, label, raw, vad, "ratings", texts.get(utt, ""), speaker, g, split,
                    n - 1, session=n, duration_s=round(end - start, 3), label_votes=_iemocap_votes(vote_lines),
                    improvised="_impro" in utt))
    return ImportResult("speech", rows, skipped, {
        "citation": "Busso et al., IEMOCAP: Interactive emotional dyadic motion capture database, LRE 2008",
        "split_rule": "fold = session-1; Session5 test, speaker Ses04F val, rest train"})


# ---------------------------------------------------------------------------------------------- RAVDESS
_RAVDESS_EXPECT = "Actor_XX/MM-VV-EE-II-SS-RR-AA.wav (e.g. Actor_01/03-01-05-01-01-01-01.wav)"
_RAVDESS_FILE = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.wav$", re.IGNORECASE)
_RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
                     "07": "disgust", "08": "surprised"}
_RAVDESS_STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
_RAVDESS_MODALITY = {"01": "full-AV", "02": "video-only", "03": "audio-only"}


def read_ravdess(root: str | Path) -> ImportResult:
    """RAVDESS speech (vocal channel 01; song files are skipped). VAD = NRC-VAD of the raw emotion word.

    split by actor: 01-20 train, 21-22 val, 23-24 test (one male, one female each); fold = (actor-1)//4.
    """
    base = _root(root, "RAVDESS", _RAVDESS_EXPECT)
    rows, skipped, seen = [], Counter(), 0
    for path in _walk(base, (".wav",)):
        m = _RAVDESS_FILE.match(path.name)
        if not m or not re.fullmatch(r"Actor_\d\d", path.parent.name):
            continue
        seen += 1
        modality, channel, emo, intensity, statement, rep, actor_s = m.groups()
        if channel != "01":
            skipped["song (vocal channel 02)"] += 1
            continue
        raw = _RAVDESS_EMOTIONS.get(emo)
        if raw is None:
            skipped[f"unknown emotion code {emo}"] += 1
            continue
        if path.stat().st_size == 0:
            skipped["empty file"] += 1
            continue
        actor = int(actor_s)
        split = "train" if actor <= 20 else "val" if actor <= 22 else "test"
        rows.append(_speech_row(
            "ravdess", path.stem, path, emotion.map_label("ravdess", emo), raw, _label_vad(raw), "label",
            _RAVDESS_STATEMENTS.get(statement, ""), f"Actor_{actor_s}", "M" if actor % 2 else "F", split,
            (actor - 1) // 4, intensity="strong" if intensity == "02" else "normal", repetition=int(rep),
            lexically_neutral=True,
            modality=_RAVDESS_MODALITY.get(modality, modality)))
    if not seen:
        raise _not_like("RAVDESS", base, _RAVDESS_EXPECT)
    return ImportResult("speech", rows, skipped, {
        "citation": "Livingstone & Russo, The Ryerson Audio-Visual Database of Emotional Speech and Song "
                    "(RAVDESS), PLoS ONE 2018; CC BY-NC-SA 4.0",
        "split_rule": "actors 01-20 train, 21-22 val, 23-24 test; fold = (actor-1)//4"})


# ---------------------------------------------------------------------------------------------- CREMA-D
_CREMA_EXPECT = "AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav (e.g. AudioWAV/1001_DFA_ANG_XX.wav)"
_CREMA_FILE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})\.wav$")
CREMA_SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened", "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about", "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold", "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment", "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before", "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
_CREMA_LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}


def _crema_demographics(base: Path) -> dict[str, dict[str, str]]:
    path = next((p for p in _walk(base, (".csv",)) if p.name.lower() == "videodemographics.csv"), None)
    if path is None:
        return {}
    rows = _read_csv(path)
    if not rows:
        return {}
    head = [h.strip() for h in rows[0]]
    return {r[0].strip(): dict(zip(head, (c.strip() for c in r))) for r in rows[1:] if r}


def read_crema_d(root: str | Path) -> ImportResult:
    """CREMA-D audio. Gender/age from VideoDemographics.csv when present. VAD = NRC-VAD of the label.

    split by actor n = id-1001: n % 10 == 9 test, n % 10 == 8 val, else train; fold = n % 5.
    """
    base = _root(root, "CREMA-D", _CREMA_EXPECT)
    demo = _crema_demographics(base)
    rows, skipped, seen = [], Counter(), 0
    for path in _walk(base, (".wav",)):
        m = _CREMA_FILE.match(path.name)
        if not m:
            continue
        seen += 1
        actor, sentence, emo, level = m.groups()
        label = _map("crema-d", emo)
        if label is None:
            skipped[f"unknown emotion {emo}"] += 1
            continue
        if path.stat().st_size == 0:
            skipped["empty file"] += 1
            continue
        n = int(actor) - 1001
        split = "test" if n % 10 == 9 else "val" if n % 10 == 8 else "train"
        info = demo.get(actor, {})
        sex = info.get("Sex", "").lower()
        gender = "F" if sex.startswith("f") else "M" if sex.startswith("m") else None
        extra = {"age": int(info["Age"])} if info.get("Age", "").isdigit() else {}
        rows.append(_speech_row(
            "crema-d", path.stem, path, label, emo, _label_vad(label), "label", CREMA_SENTENCES.get(sentence, ""),
            actor, gender, split, n % 5, intensity=_CREMA_LEVELS.get(level, level), sentence=sentence,
            lexically_neutral=True, **extra))
    if not seen:
        raise _not_like("CREMA-D", base, _CREMA_EXPECT)
    return ImportResult("speech", rows, skipped, {
        "citation": "Cao et al., CREMA-D: Crowd-sourced Emotional Multimodal Actors Dataset, IEEE TAC 2014; "
                    "Open Database License",
        "split_rule": "n = actor-1001: n%10==9 test, n%10==8 val, else train; fold = n%5"})


# ---------------------------------------------------------------------------------------------- KEMDy19/20
_KEMDY_EXPECT = {
    "kemdy19": "annotation/Session01_F_res.csv (+ _M_res.csv) and wav/Session01/Sess01_impro01/<segment>.wav + .txt",
    "kemdy20": "annotation/Sess01_eval.csv and wav/Session01/<segment>.wav + .txt",
}
_KEMDY_SESSIONS = {"kemdy19": 20, "kemdy20": 40}
_KEMDY_SEGMENT = re.compile(r"^Sess(\d+)_\S+$")


def _kemdy_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a KEMDy annotation CSV (two header rows: names, then Emotion/Valence/Arousal sub-columns).

    Returns [{segment, emotion (raw, may hold 'a;b'), valence, arousal (1..5 strings), votes [raw,...]}].
    """
    table = _read_csv(path)
    head_i = next((i for i, r in enumerate(table[:5]) if "Segment ID" in (c.strip() for c in r)), None)
    if head_i is None:
        raise EsmrError(f"{path}: no 'Segment ID' column; is this a KEMDy annotation file?")
    head = [c.strip() for c in table[head_i]]
    seg_c, tot_c = head.index("Segment ID"), head.index("Total Evaluation")
    vote_cs = [i for i, c in enumerate(head) if c.startswith("Eval")] or list(range(tot_c + 3, len(head), 3))
    out = []
    for r in table[head_i + 1:]:
        if len(r) <= tot_c + 2 or not _KEMDY_SEGMENT.match(r[seg_c].strip()):
            continue
        votes = [v.strip() for i in vote_cs if i < len(r) for v in r[i].split(";") if v.strip()]
        out.append({"segment": r[seg_c].strip(), "emotion": r[tot_c].strip(), "valence": r[tot_c + 1],
                    "arousal": r[tot_c + 2], "votes": votes})
    return out


def _clean_kemdy_text(text: str) -> str:
    """ETRI transcription marks removed: noise/filler tags like 'l/', 'b/', 'o/', 'n/', '*', '+';
    dual transcriptions '(orthographic)/(pronounced)' keep the orthographic part."""
    text = re.sub(r"\(([^()]*)\)/\([^()]*\)", r"\1", text)
    text = re.sub(r"(?<![A-Za-z])[a-zA-Z]/", " ", text)
    text = re.sub(r"[*+/]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _read_kemdy(root: str | Path, dataset: str) -> ImportResult:
    corpus, expect = dataset.upper().replace("KEMDY", "KEMDy"), _KEMDY_EXPECT[dataset]
    base = _root(root, corpus, expect)
    files = sorted(p for p in _walk(base, (".csv",)) if p.parent.name.lower() == "annotation")
    if not files:
        raise _not_like(corpus, base, expect)
    audio = {p.stem: p for p in _walk(base, (".wav",))}
    per_fold = _KEMDY_SESSIONS[dataset] // 5
    rows, skipped, done = [], Counter(), set()
    for path in files:
        file_gender = re.search(r"_([FM])_", path.name)  # KEMDy19: one file per speaker's perspective
        for rec in _kemdy_table(path):
            seg = rec["segment"]
            last = seg.rsplit("_", 1)[1] if dataset == "kemdy19" else seg.split("_")[2]
            gender = (last[0] if dataset == "kemdy19" else last[-1]).upper()
            if file_gender and file_gender.group(1) != gender or seg in done:
                continue  # KEMDy19 rates each speaker's segments in that speaker's own file
            done.add(seg)
            raws = [e.strip() for e in rec["emotion"].split(";") if e.strip()]
            votes = Counter(lab for lab in (_map("kemdy", v) for v in rec["votes"]) if lab)
            labels = [lab for lab in (_map("kemdy", e) for e in raws) if lab]
            if not labels:
                skipped[f"label {rec['emotion'] or '(empty)'} not used"] += 1
                continue
            label = max(labels, key=lambda lab: (votes.get(lab, 0), -labels.index(lab)))
            try:
                val, aro = _unit(rec["valence"], 1, 5), _unit(rec["arousal"], 1, 5)
            except ValueError:
                skipped["no valence/arousal"] += 1
                continue
            wav = audio.get(seg)
            if wav is None:
                skipped["missing wav"] += 1
                continue
            txt = wav.with_suffix(".txt")
            text = _clean_kemdy_text(_read_text(txt)) if txt.is_file() else ""
            n = int(_KEMDY_SEGMENT.match(seg).group(1))
            fold = min(4, (n - 1) // per_fold)
            split = "test" if fold == 4 else "val" if n == 4 * per_fold else "train"
            speaker = f"Sess{n:02d}{gender}" if dataset == "kemdy19" else last
            rows.append(_speech_row(
                dataset, seg, wav, label, rec["emotion"], (val, aro, _label_vad(label)[2]), "ratings_va",
                text, speaker, gender, split, fold, session=n, label_votes=dict(sorted(votes.items())),
                multi_label=len(labels) > 1))
    return ImportResult("speech", rows, skipped, {
        "citation": f"ETRI, Korean Emotion Multimodal Database {corpus} (nanum.etri.re.kr); research licence",
        "split_rule": f"sessions in 5 consecutive folds of {per_fold}; fold 4 test, session {4 * per_fold} val",
        "language": "ko"})


def read_kemdy19(root: str | Path) -> ImportResult:
    """KEMDy19: 20 sessions (2 actors each). Soft targets `label_votes` from the 10 annotators' emotions;
    valence/arousal 1..5 -> [0, 1], dominance from the label. Multi-label totals ('a;b') keep the
    most-voted label. Folds: sessions 1-4, 5-8, ... ; fold 4 test, session 16 val."""
    return _read_kemdy(root, "kemdy19")


def read_kemdy20(root: str | Path) -> ImportResult:
    """KEMDy20 (v1.1): 40 sessions of two participants; as read_kemdy19 (folds of 8 sessions, session 32 val).
    Transcripts are CP949 text files beside the wavs."""
    return _read_kemdy(root, "kemdy20")


# ---------------------------------------------------------------------------------------------- AudioSet
_AUDIOSET_EXPECT = ("class_labels_indices.csv, one or more *_segments.csv and the audio you downloaded, "
                    "one file per YouTube id (e.g. --PJHxphWEs.wav or Y--PJHxphWEs.flac)")


# Ontology ids of the mood classes (AudioSet ontology.json). The released 527-class vocabulary
# (class_labels_indices.csv) lacks "Funny music", so segment files never carry /t/dd00032 as a label.
AUDIOSET_MOOD_MIDS = {"/t/dd00031": "Happy music", "/t/dd00032": "Funny music", "/t/dd00033": "Sad music",
                      "/t/dd00034": "Tender music", "/t/dd00035": "Exciting music", "/t/dd00036": "Angry music",
                      "/t/dd00037": "Scary music"}


def _audioset_audio(folder: Path) -> dict[str, Path]:
    """YouTube id -> file; accepts '<id>.ext', 'Y<id>.ext' and '<id>_<start>[_<end>].ext' names."""
    index: dict[str, Path] = {}
    for p in _walk(folder):
        stem = p.stem
        keys = [stem]
        if len(stem) == 12 and stem[0] == "Y":
            keys.append(stem[1:])
        if len(stem) > 12 and re.fullmatch(r"_[\d._-]+", stem[11:]):
            keys.append(stem[:11])
        for k in keys:
            index.setdefault(k, p)
    return index


def read_audioset_mood(root: str | Path, segments: Iterable[str | Path] | None = None,
                       labels: str | Path | None = None, audio: str | Path | None = None) -> ImportResult:
    """AudioSet mood subset (7 classes, emotion.AUDIOSET_MOOD) as a music collection.

    segments: CSV files (default: every *segments*.csv under root); labels: class_labels_indices.csv
    (default: found under root; the mood ids are built in too, AUDIOSET_MOOD_MIDS); audio: folder of the
    downloaded files (default: root). Rows with no mood label or no downloaded file are skipped and
    counted. mood = the first mood label of the row (all in `moods`); valence/energy = NRC-VAD of the mood.
    split: eval_segments -> test; others train with a stable 10% val (by YouTube id).
    """
    base = _root(root, "AudioSet", _AUDIOSET_EXPECT)
    label_path = Path(labels).expanduser() if labels else next(
        (p for p in _walk(base, (".csv",)) if p.name == "class_labels_indices.csv"), None)
    seg_paths = [Path(s).expanduser() for s in segments] if segments else [
        p for p in _walk(base, (".csv",)) if "segments" in p.name.lower()]
    if not seg_paths:
        raise _not_like("AudioSet", base, _AUDIOSET_EXPECT)
    for p in seg_paths + ([label_path] if labels else []):
        if not p.is_file():
            raise EsmrError(f"{p} not found; give the AudioSet CSV files you downloaded")
    moods_by_mid = {mid: emotion.map_label("audioset-mood", name) for mid, name in AUDIOSET_MOOD_MIDS.items()}
    if label_path is not None:  # the user's class list wins where it names a mood class
        for r in _read_csv(label_path)[1:]:
            if len(r) >= 3 and _map("audioset-mood", r[2].strip()):
                moods_by_mid[r[1].strip()] = emotion.map_label("audioset-mood", r[2].strip())
    files = _audioset_audio(Path(audio).expanduser() if audio else base)
    rows, skipped, seen = [], Counter(), set()
    for seg_path in seg_paths:
        is_eval = "eval" in seg_path.name.lower()
        for line in _read_text(seg_path).splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            r = next(csv.reader([line], skipinitialspace=True))
            if len(r) < 4:
                skipped["malformed line"] += 1
                continue
            ytid, start, end, mids = r[0].strip(), float(r[1]), float(r[2]), r[3].split(",")
            moods = list(dict.fromkeys(moods_by_mid[m.strip()] for m in mids if m.strip() in moods_by_mid))
            if not moods:
                skipped["no mood label"] += 1
                continue
            if ytid in seen:
                skipped["duplicate YouTube id"] += 1
                continue
            path = files.get(ytid)
            if path is None:
                skipped["not downloaded"] += 1
                continue
            seen.add(ytid)
            v, a, _ = _label_vad(moods[0])
            rows.append({
                "id": f"audioset-{ytid}", "title": ytid, "artist": "", "path": str(path),
                "licence": "YouTube video (your own copy); labels AudioSet CC BY 4.0",
                "duration_s": round(end - start, 3), "start_s": start, "end_s": end, "mood": moods[0],
                "moods": moods, "valence": v, "energy": a, "va_source": "label", "dataset": "audioset-mood",
                "split": "test" if is_eval else _hash_split(ytid, valid=10, test=0),
                "url": f"https://www.youtube.com/watch?v={ytid}&t={int(start)}s"})
    return ImportResult("music", rows, skipped, {
        "citation": "Gemmeke et al., Audio Set: An ontology and human-labeled dataset for audio events, ICASSP 2017",
        "split_rule": "eval_segments test; others train with 10% val by crc32(YouTube id)"})


# ---------------------------------------------------------------------------------------------- Soundtracks360
_ST_EXPECT = "mean_ratings_set1.csv / mean_ratings_set2.csv and the Set1 / Set2 folders of 001.mp3 ..."
_ST_SCALES = ("valence", "energy", "tension", "anger", "fear", "happy", "sad", "tender", "beauty", "liking")


def read_soundtracks360(root: str | Path) -> ImportResult:
    """Film-soundtrack excerpts of Eerola & Vuoskoski (2011): Set 1 (360) and/or Set 2 (110), ~15 s each.

    Ratings are means on 1..9, rescaled by (x-1)/8. mood: the TARGET emotion's base word (ANGER_HIGH ->
    ANGER) through emotion.SOUNDTRACKS360; targets outside that table (SURPRISE, 'HIGH VALENCE',
    'TENSION POS HIGH', ...) take emotion.mood_from_va(valence, energy). Set 2 rows keep `link` (the
    same excerpt's Set 1 number); splits hash the Set 1 number so both copies land in the same split.
    """
    base = _root(root, "Soundtracks360", _ST_EXPECT)
    all_files = list(_walk(base, (".csv", ".xls", ".xlsx") + AUDIO_EXTENSIONS))
    ratings = [p for p in all_files if re.fullmatch(r"mean_ratings_set[12]\.csv", p.name.lower())]
    if not ratings:
        if any(p.name.lower().startswith("mean_ratings") for p in all_files):
            raise EsmrError("found mean_ratings as a spreadsheet; save it as CSV (mean_ratings_set1.csv) first")
        raise _not_like("Soundtracks360", base, _ST_EXPECT)
    rows, skipped = [], Counter()
    for rpath in sorted(ratings):
        set_no = rpath.name.lower()[-5]
        in_set = re.compile(rf"set[ _-]?{set_no}", re.IGNORECASE)
        audio = {int(p.stem): p for p in all_files if p.suffix.lower() in AUDIO_EXTENSIONS and p.stem.isdigit()
                 and any(in_set.match(part) for part in p.relative_to(base).parts[:-1])}
        table = _read_csv(rpath)
        head = [h.strip().lower() for h in table[0]]
        for r in table[1:]:
            if not r or not r[0].strip().isdigit():
                continue
            rec = dict(zip(head, (c.strip() for c in r)))
            num, target = int(rec["number"]), rec.get("target", "")
            path = audio.get(num)
            if path is None:
                skipped["missing audio"] += 1
                continue
            try:
                scores = {k: float(rec[k]) for k in _ST_SCALES if rec.get(k)}
                val, eng = _unit(scores["valence"], 1, 9), _unit(scores["energy"], 1, 9)
            except (KeyError, ValueError):
                skipped["no valence/energy rating"] += 1
                continue
            mood = _map("soundtracks360", target.split("_")[0].strip().upper())
            source = "target" if mood else "ratings"
            mood = mood or emotion.mood_from_va(val, eng)
            link = int(rec["link"]) if rec.get("link", "").isdigit() else None
            duration, measured = _probe_duration(path, 15.0)
            title = f"{rec['soundtrack']} (set {set_no} #{num:03d})" if rec.get("soundtrack") else \
                f"Soundtracks set {set_no} #{num:03d}"
            rows.append({
                "id": f"soundtracks360-set{set_no}-{num:03d}", "title": title, "artist": "", "path": str(path),
                "licence": "research use only (Eerola & Vuoskoski 2011; your own copy)",
                "duration_s": duration, "duration_measured": measured, "mood": mood, "moods": [mood],
                "mood_source": source, "target": target, "valence": val, "energy": eng, "va_source": "ratings",
                "ratings_1_9": scores, "set": int(set_no), "link": link, "dataset": "soundtracks360",
                "split": _hash_split(f"set1-{num}" if set_no == "1" else f"set1-{link}" if link
                                     else f"set2-{num}")})
    return ImportResult("music", rows, skipped, {
        "citation": "Eerola & Vuoskoski, A comparison of the discrete and dimensional models of emotion in "
                    "music, Psychology of Music 39(1), 2011",
        "split_rule": "crc32 of the Set 1 number: 80/10/10"})


# ---------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Adapter:
    name: str
    kind: str  # "speech" | "music"
    reader: Callable[..., ImportResult]
    expect: str  # the layout the reader looks for, shown by `esmr dataset list`
    options: tuple[str, ...] = ()  # extra keyword arguments of the reader


ADAPTERS: dict[str, Adapter] = {a.name: a for a in (
    Adapter("iemocap", "speech", read_iemocap, _IEMOCAP_EXPECT),
    Adapter("ravdess", "speech", read_ravdess, _RAVDESS_EXPECT),
    Adapter("crema-d", "speech", read_crema_d, _CREMA_EXPECT),
    Adapter("kemdy19", "speech", read_kemdy19, _KEMDY_EXPECT["kemdy19"]),
    Adapter("kemdy20", "speech", read_kemdy20, _KEMDY_EXPECT["kemdy20"]),
    Adapter("audioset-mood", "music", read_audioset_mood, _AUDIOSET_EXPECT, ("segments", "labels", "audio")),
    Adapter("soundtracks360", "music", read_soundtracks360, _ST_EXPECT),
)}


def get_adapter(name: str) -> Adapter:
    key = name.strip().lower().replace("_", "-")
    key = {"cremad": "crema-d", "audioset": "audioset-mood", "soundtracks": "soundtracks360"}.get(key, key)
    if key not in ADAPTERS:
        raise EsmrError(f"no adapter for {name!r}; known corpora: {', '.join(ADAPTERS)}")
    return ADAPTERS[key]


def import_dataset(name: str, root: str | Path, out: str | Path, *, overwrite: bool = False,
                   **options: Any) -> tuple[Collection, ImportResult]:
    """Read corpus `name` from `root` and save it as a collection in `out` (collection.json + manifest.jsonl)."""
    adapter = get_adapter(name)
    bad = sorted(k for k, v in options.items() if v is not None and k not in adapter.options)
    if bad:
        raise EsmrError(f"option(s) {bad} do not apply to {adapter.name}")
    out = Path(out).expanduser()
    if (out / "collection.json").exists() and not overwrite:
        raise EsmrError(f"{out} already holds a collection; choose another --out or pass --force to replace it")
    result = adapter.reader(root, **{k: v for k, v in options.items() if v is not None})
    if not result.rows:
        why = ", ".join(f"{n} {r}" for r, n in result.skipped.most_common()) or "nothing matched"
        raise EsmrError(f"found the {adapter.name} layout under {root} but no usable clip ({why})")
    coll = new_collection(out, adapter.kind, name=out.name, dataset=adapter.name,
                          source_root=str(Path(root).expanduser().resolve()), skipped=dict(result.skipped),
                          **result.meta)
    coll.rows = sorted(result.rows, key=lambda r: r["id"])
    coll.save()
    return coll, result
