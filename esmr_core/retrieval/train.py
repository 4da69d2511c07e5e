"""Training of the joint speech-music model on cached frozen-encoder features (docs/methods.md sections 1 and 2).

`esmr train --config FILE [--out runs/NAME] [--seed N]` -> a run folder:
  config.json       the resolved TrainConfig + feature spec
  metrics.jsonl     one line per epoch: mean loss terms, learning rate, validation metrics
  results.json      best epoch, validation and test metrics of the kept model
  checkpoint/       config.json + model.safetensors + README.md (model card)

Batches follow Doh et al.: speech drawn class-balanced; each speech's positive is a music clip of the mood with
the highest label similarity to its emotion (ties drawn at random). AdamW, linear warm-up then cosine decay,
early stopping on the validation split's MRR (never the test split). Same seed -> same metrics.
The emotion head reads the joint speech embedding through a stop-gradient: it is trained, but never shapes
the space, so the retrieval ablation compares the retrieval losses alone.
"""
from __future__ import annotations

import copy
import json
import logging
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..emotion import EMOTIONS, MUSIC_MOODS, label_similarity
from ..errors import EsmrError
from ..files import write_json
from ..logs import progress as progress_bar
from ..paths import default_catalog_dir
from .config import JointConfig, TrainConfig
from .data import TrainData, load_data, resolve_dir
from .evaluate import evaluate_arrays
from .features import text_columns
from .losses import Objective, distillation_targets
from .model import JointModel
from ..nn.momentum import ema_update

log = logging.getLogger(__name__)


def _standardiser(x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std < 1e-6, 1.0, std)
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(std.astype(np.float32))


def build_model(cfg: TrainConfig, data: TrainData, train_idx: np.ndarray) -> JointModel:
    jc = JointConfig(speech_dim=data.speech_x.shape[1], music_dim=data.music_x.shape[1], embed_dim=cfg.embed_dim,
                     hidden_dim=cfg.hidden_dim, dropout=cfg.dropout, momentum=cfg.momentum,
                     momentum_m=cfg.momentum_m, queue_size=cfg.queue_size, space=cfg.space)
    model = JointModel(jc, data.spec)
    with torch.no_grad():
        model.speech.mean[:], model.speech.std[:] = _standardiser(data.speech_x[train_idx])
        model.music.mean[:], model.music.std[:] = _standardiser(data.music_x)
        if cfg.momentum:
            ema_update(model.music_m, model.music, 0.0)   # the momentum tower starts as an exact copy
    return model


class BatchSampler:
    """Class-balanced speech + best-mood positive music (Doh et al.)."""

    def __init__(self, cfg: TrainConfig, data: TrainData, train_idx: np.ndarray, rng: np.random.Generator):
        self.rng, self.bs = rng, cfg.batch_size
        self.idx = train_idx
        labels = data.speech_labels[train_idx]
        counts = {lab: int((labels == lab).sum()) for lab in set(labels)}
        p = np.array([1.0 / counts[lab] for lab in labels])
        self.p = p / p.sum()
        self.moods = [m for m in MUSIC_MOODS if m in set(data.music_moods)]
        sim = label_similarity(list(EMOTIONS), self.moods, cfg.space)  # (7, n_moods)
        self.targets = {e: [self.moods[j] for j in np.flatnonzero(np.isclose(sim[i], sim[i].max()))]
                        for i, e in enumerate(EMOTIONS)}
        self.by_mood = {m: np.flatnonzero(data.music_moods == m) for m in self.moods}
        self.labels = data.speech_labels

    def sample(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(speech rows (B,), music rows (B,), target mood per speech (B,))."""
        # with replacement: drawing without it would return nearly every row of a small set, not balanced ones
        s = self.rng.choice(self.idx, size=self.bs, replace=True, p=self.p)
        moods = [str(self.rng.choice(self.targets[self.labels[i]])) for i in s]
        m = np.array([self.rng.choice(self.by_mood[mood]) for mood in moods])
        return s, m, moods


def _lr_lambda(warmup: int, total: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
    return f


def train_step(model: JointModel, objective: Objective, batch: tuple, data: TrainData, cfg: TrainConfig,
               gen: torch.Generator) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Forward one batch: (loss terms, not yet backpropagated; the batch tensors incl. momentum embeddings)."""
    s, m, moods = batch
    mood_ids = {mood: i for i, mood in enumerate(model.cfg.moods)}
    xs, xm = torch.from_numpy(data.speech_x[s]), torch.from_numpy(data.music_x[m])
    if model.training and (cfg.text_dropout > 0 or cfg.text_weight_aug > 0):
        u = torch.rand(len(s), generator=gen)  # (B,)
        drop = u < cfg.text_dropout
        # a further share sees its words at a random weight in [0, 1] (partly trusted recognised words)
        scaled = (u >= cfg.text_dropout) & (u < cfg.text_dropout + cfg.text_weight_aug)
        w = torch.rand(len(s), generator=gen)[:, None]
        for a, b in text_columns(data.spec):
            xs[drop, a:b] = 0.0
            xs[scaled, a:b] = xs[scaled, a:b] * w[scaled]
    zs, zm = model.encode_speech(xs), model.encode_music(xm)  # (B, D) each
    target = torch.tensor([mood_ids[x] for x in moods])  # (B,) target mood of each speech
    music_mood = torch.tensor([mood_ids[x] for x in data.music_moods[m]])  # (B,)
    pos_mask = target[:, None] == music_mood[None, :]  # (B, B)
    label_sim = torch.from_numpy(label_similarity(list(data.speech_labels[s]), list(data.music_moods[m]),
                                                  cfg.space)).float()  # (B, B) in [0, 1]
    logits, vad = model.emotion_from_embedding(zs.detach())
    out = {"speech": zs, "music": zm, "pos_mask": pos_mask, "label_sim": label_sim, "emotion_logits": logits,
           "emotion": torch.tensor([EMOTIONS.index(x) for x in data.speech_labels[s]]),
           "vad_pred": vad, "vad": torch.from_numpy(data.speech_vad[s])}
    if cfg.momentum:
        zm_m = model.encode_music_momentum(xm)  # (B, D), no gradient
        valid = model.queue_labels >= 0
        queue, q_labels = model.queue[valid].clone(), model.queue_labels[valid].clone()  # (K', D), (K',)
        q_pos = target[:, None] == q_labels[None, :]  # (B, K')
        zs_d = zs.detach()
        out |= {"queue": queue, "queue_pos_mask": q_pos,
                "s2m_targets": distillation_targets(zs_d @ torch.cat([zm_m, queue]).T,
                                                    torch.cat([pos_mask, q_pos], 1), cfg.alpha, cfg.temperature),
                "m2s_targets": distillation_targets(zm_m @ zs_d.T, pos_mask.T, cfg.alpha, cfg.temperature),
                "music_m": zm_m, "music_mood": music_mood}
    return objective(out, gen), out


def fit(cfg: TrainConfig, data: TrainData, out_dir: str | Path | None = None, progress: bool = False
        ) -> tuple[JointModel, dict[str, Any]]:
    """Train with early stopping on validation MRR. Returns (best model in eval mode, results dict)."""
    train_idx, val_idx = data.subset("train"), data.subset("val")
    if len(train_idx) < 2 or len(val_idx) == 0:
        raise EsmrError("the speech collection needs rows in split 'train' (>= 2) and 'val'")
    np_rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = build_model(cfg, data, train_idx)
    objective = Objective(cfg.loss_config())
    sampler = BatchSampler(cfg, data, train_idx, np_rng)
    steps = max(1, math.ceil(len(train_idx) / cfg.batch_size))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg.warmup_epochs * steps, cfg.epochs * steps))
    out_dir = Path(out_dir) if out_dir else None
    metrics = open(out_dir / "metrics.jsonl", "w", encoding="utf-8") if out_dir else None
    best, best_state, best_epoch, since = -1.0, None, 0, 0
    epochs = progress_bar(range(1, cfg.epochs + 1), f"train {cfg.name}", progress)
    try:
        for epoch in epochs:
            model.train()
            sums: dict[str, float] = {}
            for _ in range(steps):
                terms, out = train_step(model, objective, sampler.sample(), data, cfg, gen)
                opt.zero_grad(set_to_none=True)
                terms["loss"].backward()
                opt.step()
                sched.step()
                if cfg.momentum:
                    model.momentum_update()
                    model.enqueue(out["music_m"], out["music_mood"])
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) / steps
            val = evaluate_arrays(model, data, val_idx, cfg.space)
            row = {"epoch": epoch, "lr": sched.get_last_lr()[0], **{f"train_{k}": v for k, v in sums.items()},
                   **{f"val_{k}": v for k, v in val.items()}}
            if metrics:
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()
            if val["mrr"] > best + 1e-9:
                best, best_epoch, since = val["mrr"], epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                since += 1
                if since >= cfg.patience:
                    break
    finally:
        if metrics:
            metrics.close()
    model.load_state_dict(best_state)
    model.eval()
    # reported numbers use one relevance space for every model (EVAL_SPACE), so configs compare
    results: dict[str, Any] = {"best_epoch": best_epoch, "val": evaluate_arrays(model, data, val_idx)}
    test_idx = data.subset("test")
    if len(test_idx):
        results["test"] = evaluate_arrays(model, data, test_idx)
    return model, results


def run(cfg: TrainConfig, out_dir: str | Path, data: TrainData | None = None, progress: bool = True
        ) -> dict[str, Any]:
    """Train from a config into a run folder (see module docstring); returns results."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if data is None:
        speech = [resolve_dir(d) for d in cfg.speech] if isinstance(cfg.speech, list) else resolve_dir(cfg.speech)
        data = load_data(speech, resolve_dir(cfg.catalog, default_catalog_dir()), cfg.modality,
                         progress=progress, drop_speech_features=cfg.drop_speech_features)
    write_json(out_dir / "config.json", {**asdict(cfg), "feature_spec": data.spec})
    model, results = fit(cfg, data, out_dir, progress)
    results["n_train"], results["n_music"] = int(len(data.subset("train"))), int(len(data.music_moods))
    write_json(out_dir / "results.json", results)
    log.info("best epoch %s: val MRR %.3f", results["best_epoch"], results["val"]["mrr"])
    ckpt = out_dir / "checkpoint"
    model.save_pretrained(ckpt, meta={"train_config": asdict(cfg), "results": results},
                          card=model_card(cfg, results, data.spec))
    return results


def model_card(cfg: TrainConfig, results: dict[str, Any], spec: dict[str, Any] | None = None) -> str:
    """README.md model card of a joint-model checkpoint: data, metrics, limits, licence."""
    def fmt(m: dict[str, float]) -> str:
        keys = ["mrr", "p@5", "ndcg@5", "emotion_accuracy", "emotion_macro_f1", "ccc_v", "ccc_a", "ccc_d"]
        return " | ".join(f"{m[k]:.3f}" if k in m else "-" for k in keys)

    lines = [
        f"# esmr joint speech-music model: {cfg.name}", "",
        "Maps a voice (and optionally its words) and music clips into one emotion space; a speech query",
        "retrieves music by cosine similarity (Doh et al., ICASSP 2023; VAD-guided contrastive extension).", "",
        "## Data",
        f"- speech: `{cfg.speech}` (7 emotions; split train/val/test by whole voice; "
        f"{results.get('n_train', '?')} training clips): TTS sentences whose words and prosody carry the emotion, "
        "and real human voices (Debian asterisk prompt voices, KDE volunteers) made emotional by rule with a "
        "vocoder and passed through random channels (docs/datasets.md)",
        "- speech inputs: " + (", ".join(e["name"] + (" without " + ", ".join(e["drop"]) if e.get("drop") else "")
                                         for e in spec["speech"]) if spec else "see `feature_spec` in config.json"),
        f"- music: `{cfg.catalog or 'assets/music'}` ({results.get('n_music', '?')} catalogue clips with mood tags "
        "derived from valence/energy)",
        f"- features: modality `{cfg.modality}` from frozen encoders (see `feature_spec` in config.json)",
        f"- losses: {json.dumps(cfg.losses)}; label similarity in {cfg.space}; momentum: {cfg.momentum}",
        f"- transcript dropout: {cfg.text_dropout} (share of training clips seen without their words, so the model "
        "also answers queries without a transcript)", "",
        "## Metrics (best epoch " + str(results.get("best_epoch")) + ", chosen on validation MRR)", "",
        "| split | MRR | P@5 | NDCG@5 | emotion acc | macro-F1 | CCC V | CCC A | CCC D |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for split in ("val", "test"):
        if split in results:
            lines.append(f"| {split} | {fmt(results[split])} |")
    lines += [
        "", "Relevant music = the catalogue mood closest (label similarity, VAD) to the speech emotion;",
        "NDCG@5 uses graded label similarity in [0, 1]. Emotion head: reads the joint embedding (stop-gradient).", "",
        "## Limits",
        "- No real emotional speech was available: the real voices it learned from are neutral recordings made",
        "  emotional by rule, so it hears the textbook cues (pitch level and range, tempo, vocal effort), not all a",
        "  person uses; judge it by the real-voice benchmark (`make realvoice`, bench/realvoice.json), and retrain",
        "  on a real corpus (IEMOCAP, RAVDESS, ...) with `esmr train` where you have one.",
        "- The catalogue's mood tags come from an automatic valence/energy model, not from listeners.",
        "- English text features only (all-MiniLM-L6-v2).", "",
        "## Licence",
        "GPL-3.0-or-later (the project's licence). Trained on synthetic speech, real voices under CC-BY(-SA),",
        "GPL and BSD-style licences (credited in docs/datasets.md) and the bundled catalogue.",
        "Emotion coordinates: NRC VAD Lexicon (Mohammad 2018).", "",
    ]
    return "\n".join(lines)
