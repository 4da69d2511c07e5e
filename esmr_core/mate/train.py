"""MATE around the network: data preparation, losses, training, k-fold evaluation and the inference wrapper.

Method: METHODS.md section 4 (seeds/003, the KAIST "MATE" slides). Loss
    L = lambda * KL(e_target || e_pred) + (1 - lambda) * (MSE(arousal) + MSE(valence))
or, class-balanced (Cui, Jia, Lin, Song, Belongie, "Class-Balanced Loss Based on Effective Number of Samples",
CVPR 2019), a per-sample weight (1 - beta) / (1 - beta^n_j) of the sample's class j times a BCE emotion term.
Arousal and valence targets on 1..5 are 1 + 4x from a corpus's values x in [0, 1].
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..emotion import EMOTIONS
from ..errors import AudioError, EsmrError, ModelUnavailableError
from ..metrics import ccc  # concordance correlation coefficient, population moments
from .model import MateConfig, MateModel, crop_or_pad
from ..paths import cache_dir, checkpoints_dir


@dataclass
class TrainConfig:
    lam: float = 0.75                 # lambda: weight of the emotion term (1 - lambda on arousal + valence MSE)
    class_balanced: bool = False      # Cui et al. weights + BCE emotion term instead of KL
    beta: float = 0.99                # class-balancing beta (0.9 .. 0.999)
    epochs: int = 12
    batch_size: int = 32
    lr: float = 2e-3                  # AdamW, cosine decay to 0
    weight_decay: float = 1e-4
    text_weight_aug: float = 0.0      # share of training utterances whose words get a random trust weight in
    #                                   [0, 1] (recognised words are weighted by the recogniser's confidence)
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        if set(d) - known:
            raise EsmrError(f"unknown MATE train keys {sorted(set(d) - known)}; known: {sorted(known)}")
        return cls(**d)


def load_config(path: str | Path) -> tuple[MateConfig, TrainConfig, dict]:
    """Read a MATE config JSON: {"model": {...MateConfig}, "train": {...TrainConfig}, "speech": dir?}."""
    path = Path(path)
    if not path.is_file():
        raise EsmrError(f"MATE config {path} not found; see esmr_core/configs/mate.json for an example")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        d.pop("_comment", None)
        return MateConfig.from_dict(d.get("model", {})), TrainConfig.from_dict(d.get("train", {})), d
    except (ValueError, TypeError) as exc:
        raise EsmrError(f"bad MATE config {path}: {exc}") from None


# ------------------------------------------------------------------------------------------- text encoder
def get_text_encoder(name: str):
    """An object with encode_texts(list[str]) -> (N, E) float32 from esmr_core.encoders (MiniLM: unit rows,
    zeros for empty texts)."""
    try:
        from ..encoders import get_encoder
    except ImportError:  # registry not there: the MiniLM encoder class directly
        if name != "minilm":
            raise ModelUnavailableError(f"text encoder {name!r} needs esmr_core.encoders.get_encoder") from None
        from ..encoders.text import MiniLMEncoder

        return MiniLMEncoder()
    return get_encoder(name)


# --------------------------------------------------------------------------------------------------- data
@dataclass
class MateData:
    """Cached inputs of a speech collection. N utterances, M mel bands, C emotions, E text size."""

    ids: list[str]
    mels: list[np.ndarray]        # N x (M, T_i) float32 log-mel, T_i <= max_frames
    text: np.ndarray              # (N, E) float32 sentence vectors
    has_text: np.ndarray          # (N,) bool
    targets: np.ndarray           # (N, C) emotion distribution (soft when the corpus gives votes)
    arousal: np.ndarray           # (N,) 1..5
    valence: np.ndarray           # (N,) 1..5
    groups: np.ndarray            # (N,) sentence groups for the folds
    splits: np.ndarray            # (N,) "train" / "val" / "test" / ""
    lexically_neutral: np.ndarray  # (N,) bool

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labels(self) -> np.ndarray:
        return self.targets.argmax(1)


def emotion_target(row: dict, emotions: Sequence[str] = EMOTIONS) -> np.ndarray:
    """(C,) target distribution: normalised `label_votes` {emotion: count} when present, else one-hot `label`."""
    t = np.zeros(len(emotions), np.float32)
    votes = row.get("label_votes")
    if votes:
        for lab, n in votes.items():
            if lab in emotions:
                t[emotions.index(lab)] += float(n)
    if t.sum() <= 0:
        if row["label"] not in emotions:
            raise EsmrError(f"row {row.get('id')}: label {row['label']!r} is not one of {list(emotions)}")
        t[emotions.index(row["label"])] = 1.0
    return t / t.sum()


def _load_samples(path: Path, sr: int) -> np.ndarray:
    try:
        from ..audio import load_audio
    except ImportError:
        load_audio = None
    if load_audio is not None:
        return np.asarray(load_audio(path, require_voice=False).samples, np.float32)  # as the app's front end
    import librosa
    import soundfile as sf

    y, fs = sf.read(str(path), dtype="float32", always_2d=True)
    y = y.mean(1)
    return librosa.resample(y, orig_sr=fs, target_sr=sr) if fs != sr else y


@torch.no_grad()
def mels_of(samples: np.ndarray, cfg: MateConfig, logmel=None) -> np.ndarray:
    """16 kHz mono samples (L,) -> (M, T) float32 log-mel, centre-cropped to cfg.max_seconds."""
    from .model import LogMel

    y = crop_or_pad(np.asarray(samples, np.float32), int(cfg.max_seconds * cfg.sample_rate))
    if y.size < cfg.n_fft:
        raise AudioError(f"clip too short for MATE ({y.size} samples); record at least 0.1 s of speech")
    logmel = logmel or LogMel(cfg)
    return logmel(torch.from_numpy(y)[None])[0].numpy()


def prepare_data(speech_dir: str | Path | list, cfg: MateConfig, *, use_cache: bool = True,
                 verbose: bool = False) -> MateData:
    """Log-mels and text vectors of every row of a speech collection (or of several, rows pooled in order),
    cached under cache_dir()/mate."""
    from ..data.manifest import load_collection

    if isinstance(speech_dir, (list, tuple)):
        parts = [prepare_data(d, cfg, use_cache=use_cache, verbose=verbose) for d in speech_dir]
        if not parts:
            raise EsmrError("no speech collection given")
        return MateData(ids=[i for p in parts for i in p.ids], mels=[m for p in parts for m in p.mels],
                        **{f: np.concatenate([getattr(p, f) for p in parts])
                           for f in ("text", "has_text", "targets", "arousal", "valence", "groups", "splits",
                                     "lexically_neutral")})
    from .model import LogMel

    try:
        coll = load_collection(speech_dir, "speech")
    except (FileNotFoundError, ValueError) as exc:
        raise EsmrError(f"cannot read the speech collection: {exc}") from None
    if not coll.rows:
        raise EsmrError(f"speech collection {speech_dir} is empty")
    key = hashlib.sha1(json.dumps([coll.rows, cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels,
                                   cfg.max_seconds, cfg.text_encoder], sort_keys=True).encode()).hexdigest()[:16]
    cache = cache_dir() / "mate" / f"{key}.npz"
    rows = coll.rows
    if use_cache and cache.is_file():
        z = np.load(cache, allow_pickle=False)
        mel_all, offsets, text = z["mels"], z["offsets"], z["text"]
    else:
        logmel, mels, t0 = LogMel(cfg), [], time.time()
        for i, row in enumerate(rows):
            mels.append(mels_of(_load_samples(coll.path(row), cfg.sample_rate), cfg, logmel))
            if verbose and (i + 1) % 200 == 0:
                print(f"  mels {i + 1}/{len(rows)} ({time.time() - t0:.0f} s)", flush=True)
        texts = [str(r.get("text") or "") for r in rows]
        text = get_text_encoder(cfg.text_encoder).encode_texts(texts).astype(np.float32)
        offsets = np.cumsum([0] + [m.shape[1] for m in mels])
        mel_all = np.concatenate(mels, axis=1).astype(np.float32)
        if use_cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp.npz")
            np.savez(tmp, mels=mel_all, offsets=offsets, text=text)
            tmp.replace(cache)
    if text.shape[1] != cfg.text_dim:
        raise EsmrError(f"text encoder {cfg.text_encoder!r} gives {text.shape[1]}-d vectors but the config says "
                        f"text_dim={cfg.text_dim}; fix text_dim in the config")
    mels = [mel_all[:, offsets[i]:offsets[i + 1]] for i in range(len(rows))]
    return MateData(
        ids=[r["id"] for r in rows], mels=mels, text=text,
        has_text=np.array([bool(str(r.get("text") or "").strip()) for r in rows]),
        targets=np.stack([emotion_target(r, cfg.emotions) for r in rows]),
        arousal=np.array([1 + 4 * float(r["arousal"]) for r in rows], np.float32),
        valence=np.array([1 + 4 * float(r["valence"]) for r in rows], np.float32),
        groups=np.array([str(r.get("sentence_id", r.get("text", r["id"]))) for r in rows]),
        splits=np.array([str(r.get("split", "")) for r in rows]),
        lexically_neutral=np.array([bool(r.get("lexically_neutral", False)) for r in rows]),
    )


def collate(data: MateData, idx: Sequence[int]) -> dict[str, torch.Tensor]:
    """A batch of single utterances: mels (n, M, T_max) zero-padded, lengths, text, has_text, targets."""
    idx = np.asarray(idx)
    lens = np.array([data.mels[i].shape[1] for i in idx])
    mels = np.zeros((len(idx), data.mels[idx[0]].shape[0], lens.max()), np.float32)
    for j, i in enumerate(idx):
        mels[j, :, :lens[j]] = data.mels[i]
    return {"mels": torch.from_numpy(mels), "lengths": torch.from_numpy(lens),
            "text": torch.from_numpy(data.text[idx]), "has_text": torch.from_numpy(data.has_text[idx]),
            "targets": torch.from_numpy(data.targets[idx]), "arousal": torch.from_numpy(data.arousal[idx]),
            "valence": torch.from_numpy(data.valence[idx])}


# ------------------------------------------------------------------------------------------------- losses
def class_balanced_weights(counts: Sequence[int], beta: float) -> np.ndarray:
    """Cui et al. 2019: w_j = (1 - beta) / (1 - beta^n_j), rescaled so the weights sum to the number of classes.
    Classes with n_j = 0 get weight 0."""
    n = np.asarray(counts, np.float64)
    w = np.where(n > 0, (1.0 - beta) / (1.0 - np.power(beta, np.maximum(n, 1))), 0.0)
    return w / w.sum() * len(n) if w.sum() > 0 else w


def mate_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], lam: float,
              class_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Named loss terms. out: model outputs with S = 1 squeezed or not; batch: targets (n, C), arousal/valence (n,).

    class_weights None: emotion term = KL(target || softmax(logits)), batch mean.
    class_weights (C,): emotion term = per-sample weight (sum_j t_j w_j) x BCE(sigmoid(logits), target) summed
    over classes (Cui et al.'s class-balanced sigmoid loss)."""
    logits = out["logits"].reshape(-1, out["logits"].shape[-1])
    t = batch["targets"]
    if class_weights is None:
        emo = F.kl_div(F.log_softmax(logits, -1), t, reduction="batchmean")
    else:
        w = t @ class_weights                                                      # (n,)
        bce = F.binary_cross_entropy_with_logits(logits, t, reduction="none").sum(-1)
        emo = (w * bce).mean()
    a = F.mse_loss(out["arousal"].reshape(-1), batch["arousal"])
    v = F.mse_loss(out["valence"].reshape(-1), batch["valence"])
    return {"emotion_loss": emo, "arousal_loss": a, "valence_loss": v,
            "loss": lam * emo + (1.0 - lam) * (a + v)}


# ------------------------------------------------------------------------------------------ train / predict
def length_batches(idx: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list:
    """Shuffled batches of similar-length utterances (less padding): shuffle, sort within windows of 16 batches
    by length, cut into batches, shuffle the batches."""
    perm, batches = rng.permutation(idx), []
    win = batch_size * 16
    for w in range(0, len(perm), win):
        part = perm[w:w + win]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[s:s + batch_size] for s in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def fit(data: MateData, idx: Sequence[int], cfg: MateConfig, tcfg: TrainConfig,
        verbose: bool = False, device: str = "cpu") -> tuple[MateModel, list[float]]:
    """Train a fresh MateModel on utterances idx. Returns (model on CPU, eval mode; mean loss per epoch)."""
    torch.manual_seed(tcfg.seed)
    rng = np.random.default_rng(tcfg.seed)
    gen = torch.Generator().manual_seed(tcfg.seed + 1)   # text-weight draws only: the model's own RNG stays as it was
    idx = np.asarray(idx)
    model = MateModel(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    steps = tcfg.epochs * int(np.ceil(len(idx) / tcfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tcfg.lr, total_steps=max(steps, 1), pct_start=0.1)
    cw = None
    if tcfg.class_balanced:
        counts = np.bincount(data.labels[idx], minlength=len(cfg.emotions))
        cw = torch.tensor(class_balanced_weights(counts, tcfg.beta), dtype=torch.float32, device=device)
    history = []
    lengths = np.array([m.shape[1] for m in data.mels])
    for epoch in range(tcfg.epochs):
        model.train()
        total = 0.0
        for chunk in length_batches(idx, lengths, tcfg.batch_size, rng):
            batch = {k: v.to(device) for k, v in collate(data, chunk).items()}
            if len(batch["lengths"]) < 2:      # BatchNorm needs two samples
                continue
            has = batch["has_text"].float()
            if tcfg.text_weight_aug > 0:
                n = len(has)
                scaled = torch.rand(n, generator=gen) < tcfg.text_weight_aug
                has = torch.where(scaled, has * torch.rand(n, generator=gen), has)
            out = model(batch["mels"], batch["lengths"], batch["text"], has)
            loss = mate_loss(out, batch, tcfg.lam, cw)["loss"]
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(batch["lengths"])
        history.append(total / len(idx))
        if verbose:
            print(f"  epoch {epoch + 1}/{tcfg.epochs} loss {history[-1]:.4f}", flush=True)
    return model.cpu().eval(), history


@torch.no_grad()
def predict_data(model: MateModel, data: MateData, idx: Sequence[int], use_text: bool = True,
                 batch_size: int = 64) -> dict[str, np.ndarray]:
    """probs (n, C), arousal (n,), valence (n,) for utterances idx; use_text=False hides every transcript."""
    model.eval()
    outs = []
    idx = np.asarray(idx)
    for s in range(0, len(idx), batch_size):
        b = collate(data, idx[s:s + batch_size])
        has = b["has_text"] if use_text else torch.zeros_like(b["has_text"])
        outs.append(model(b["mels"], b["lengths"], b["text"], has))
    return {k: torch.cat([o[k].reshape(-1, *o[k].shape[2:]) for o in outs]).numpy()
            for k in ("probs", "arousal", "valence")}


# ------------------------------------------------------------------------------------------------ metrics
def score(pred: dict[str, np.ndarray], data: MateData, idx: Sequence[int]) -> dict[str, float]:
    """Recall / precision / F1 (macro and weighted over the classes present), accuracy, CCC(A), CCC(V)."""
    from sklearn.metrics import precision_recall_fscore_support

    y, p = data.labels[idx], pred["probs"].argmax(1)
    res: dict[str, float] = {"n": float(len(idx)), "accuracy": float((y == p).mean())}
    for avg in ("macro", "weighted"):
        pr, rc, f1, _ = precision_recall_fscore_support(y, p, labels=np.unique(y), average=avg, zero_division=0)
        res.update({f"recall_{avg}": float(rc), f"precision_{avg}": float(pr), f"f1_{avg}": float(f1)})
    res["ccc_arousal"] = ccc(pred["arousal"], data.arousal[idx])
    res["ccc_valence"] = ccc(pred["valence"], data.valence[idx])
    return res


def group_folds(groups: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """(N,) fold id per utterance; all utterances of a group (sentence) share a fold."""
    uniq = np.unique(groups)
    if len(uniq) < k:
        raise EsmrError(f"{len(uniq)} sentence groups cannot make {k} folds; use --folds {max(2, len(uniq))} or less")
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {uniq[j]: n % k for n, j in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


def cross_validate(data: MateData, cfg: MateConfig, tcfg: TrainConfig, k: int = 5,
                   verbose: bool = False, device: str = "cpu") -> dict[str, Any]:
    """k-fold CV by sentence group. Per fold: scores on all test items, on the lexically neutral ones, and
    (with a text branch) with every transcript hidden. Returns {"folds": [...], "mean": {...}, "std": {...}}."""
    fold = group_folds(data.groups, k, tcfg.seed)
    results = []
    for f in range(k):
        tr, te = np.where(fold != f)[0], np.where(fold == f)[0]
        t0 = time.time()
        model, hist = fit(data, tr, cfg, tcfg, device=device)
        r = {f"all_{m}": v for m, v in score(predict_data(model, data, te), data, te).items()}
        ln = te[data.lexically_neutral[te]]
        if len(ln):
            r.update({f"neutral_text_{m}": v for m, v in score(predict_data(model, data, ln), data, ln).items()})
        if cfg.use_text and cfg.use_audio:
            r.update({f"no_text_{m}": v for m, v in score(predict_data(model, data, te, use_text=False),
                                                         data, te).items()})
        r["final_train_loss"], r["seconds"] = hist[-1] if hist else float("nan"), time.time() - t0
        results.append(r)
        if verbose:
            print(f"  fold {f + 1}/{k}: F1 {r['all_f1_macro']:.3f} CCC(A) {r['all_ccc_arousal']:.3f} "
                  f"CCC(V) {r['all_ccc_valence']:.3f} ({r['seconds']:.0f} s)", flush=True)
    keys = [key for key in results[0] if all(key in r for r in results)]
    return {"folds": results, "mean": {key: float(np.mean([r[key] for r in results])) for key in keys},
            "std": {key: float(np.std([r[key] for r in results])) for key in keys},
            "config": {"model": cfg.to_dict(), "train": asdict(tcfg), "folds": k}}


# ------------------------------------------------------------------------------------------ inference
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

    def text_vector(self, text: str) -> np.ndarray:
        if self._text_encoder is None:
            self._text_encoder = get_text_encoder(self.config.text_encoder)
        return np.asarray(self._text_encoder.encode_texts([text]), np.float32)[0]

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
            tvec = torch.from_numpy(self.text_vector(text))[None] if use else torch.zeros(1, cfg.text_dim)
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
        read with the preceding ones as its context (the seed's dialogue setting; `predict` is a dialogue of one).

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
                if self._text_encoder is None:
                    self._text_encoder = get_text_encoder(cfg.text_encoder)
                vecs = np.asarray(self._text_encoder.encode_texts([t for t, u in zip(texts, use) if u]), np.float32)
                tvec[torch.tensor(use)] = torch.from_numpy(vecs)
            has = torch.tensor(use)
        elif not cfg.use_audio:  # pragma: no cover - MateConfig forbids it
            raise EsmrError("this MATE model has no input branch")
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
