"""Training MATE (docs/methods.md section 4): `fit` trains a fresh model on chosen utterances, `cross_validate`
runs the k-fold protocol by sentence group, and `run` is the training run behind `esmr mate train` and the
shipped checkpoints/mate-default: it trains on a corpus's training rows, scores the held-out ones and writes the
checkpoint (config.json + model.safetensors + README.md model card) and metrics.json.

    from esmr_core.mate.config import load_config
    from esmr_core.mate.train import run
    run(load_config("esmr_core/configs/mate.json"), "runs/mate-default")
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..config import from_dict
from ..errors import EsmrError
from ..files import write_json
from .config import TrainConfig
from .data import MateData, collate, prepare_data
from .evaluate import group_folds, held_out_scores, predict_data, score
from .augment import ChannelAugParams, LogMelChannelAug, consistency_loss
from .losses import class_balanced_weights, mate_loss
from .model import MateModel

log = logging.getLogger(__name__)


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


def fit(cfg: TrainConfig, data: MateData, idx: Sequence[int], device: str = "cpu") -> tuple[MateModel, list[float]]:
    """Train a fresh MateModel(cfg.model) on utterances idx. Returns (model on CPU, eval mode; mean loss per epoch)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + 1)   # text-weight draws only: the model's own RNG stays as it was
    idx = np.asarray(idx)
    model = MateModel(cfg.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * int(np.ceil(len(idx) / cfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(steps, 1), pct_start=0.1)
    cw = None
    if cfg.class_balanced:
        counts = np.bincount(data.labels[idx], minlength=len(cfg.model.emotions))
        cw = torch.tensor(class_balanced_weights(counts, cfg.beta), dtype=torch.float32, device=device)
    history = []
    lengths = np.array([m.shape[1] for m in data.mels])
    channel = None
    if cfg.channel_aug > 0 or cfg.consistency > 0:
        channel = LogMelChannelAug(cfg.model, from_dict(ChannelAugParams, dict(cfg.channel_aug_params),
                                                        "channel_aug_params"))
    aug_rng = np.random.default_rng(cfg.seed + 2)   # channel draws only: the default recipe's draws are unchanged
    for epoch in range(cfg.epochs):
        model.train()
        total = 0.0
        for chunk in length_batches(idx, lengths, cfg.batch_size, rng):
            batch = {k: v.to(device) for k, v in collate(data, chunk).items()}
            if len(batch["lengths"]) < 2:      # BatchNorm needs two samples
                continue
            has = batch["has_text"].float()
            if cfg.text_weight_aug > 0:
                n = len(has)
                scaled = torch.rand(n, generator=gen) < cfg.text_weight_aug
                has = torch.where(scaled, has * torch.rand(n, generator=gen), has)
            mels = batch["mels"]
            if channel is not None and cfg.channel_aug > 0:
                mels = channel(mels, batch["lengths"], aug_rng, p=cfg.channel_aug)
            rng_state = torch.get_rng_state() if cfg.consistency > 0 else None
            out = model(mels, batch["lengths"], batch["text"], has)
            loss = mate_loss(out, batch, cfg.lam, cw)["loss"]
            if cfg.consistency > 0:
                # the same dropout and text-dropout draws for the second reading, so the two readings differ
                # by the channel alone (the CPU generator; on a GPU the dropout masks would differ)
                torch.set_rng_state(rng_state)
                out_aug = model(channel(batch["mels"], batch["lengths"], aug_rng, p=1.0), batch["lengths"],
                                batch["text"], has)
                loss = loss + cfg.consistency * consistency_loss(out, out_aug, cfg.consistency_av)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(batch["lengths"])
        history.append(total / len(idx))
        log.info("MATE epoch %d/%d loss %.4f", epoch + 1, cfg.epochs, history[-1])
    return model.cpu().eval(), history


def train_settings(cfg: TrainConfig) -> dict[str, Any]:
    """The training settings of a config without the model config (a checkpoint keeps that in "config")."""
    return {k: v for k, v in asdict(cfg).items() if k != "model"}


def cross_validate(cfg: TrainConfig, data: MateData, k: int = 5, device: str = "cpu") -> dict[str, Any]:
    """k-fold CV by sentence group. Per fold: scores on all test items, on the lexically neutral ones, and
    (with both branches) with every transcript hidden. Returns {"folds": [...], "mean": {...}, "std": {...},
    "config": {...}}."""
    fold = group_folds(data.groups, k, cfg.seed)
    results = []
    for f in range(k):
        tr, te = np.where(fold != f)[0], np.where(fold == f)[0]
        t0 = time.time()
        model, hist = fit(cfg, data, tr, device=device)
        r = {f"all_{m}": v for m, v in score(predict_data(model, data, te), data, te).items()}
        ln = te[data.lexically_neutral[te]]
        if len(ln):
            r.update({f"neutral_text_{m}": v for m, v in score(predict_data(model, data, ln), data, ln).items()})
        if cfg.model.use_text and cfg.model.use_audio:
            r.update({f"no_text_{m}": v for m, v in score(predict_data(model, data, te, use_text=False),
                                                         data, te).items()})
        r["final_train_loss"], r["seconds"] = hist[-1] if hist else float("nan"), time.time() - t0
        results.append(r)
        log.info("MATE fold %d/%d: F1 %.3f CCC(A) %.3f CCC(V) %.3f (%.0f s)", f + 1, k, r["all_f1_macro"],
                 r["all_ccc_arousal"], r["all_ccc_valence"], r["seconds"])
    keys = [key for key in results[0] if all(key in r for r in results)]
    return {"folds": results, "mean": {key: float(np.mean([r[key] for r in results])) for key in keys},
            "std": {key: float(np.std([r[key] for r in results])) for key in keys},
            "config": {"model": asdict(cfg.model), "train": train_settings(cfg), "folds": k}}


def checkpoint_config(checkpoint: str | Path) -> TrainConfig:
    """The TrainConfig a checkpoint was trained with: its model config and the settings in meta["train"]."""
    payload, _ = MateModel.read_payload(checkpoint)
    meta = payload.get("meta") or {}
    train = dict(meta.get("train") or {})
    if meta.get("speech") and "speech" not in train:   # checkpoints before the training run kept it beside
        train["speech"] = meta["speech"]
    return from_dict(TrainConfig, {**train, "model": payload["config"]}, f"training settings of {checkpoint}")


def split_rows(cfg: TrainConfig, data: MateData) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(rows trained on, {split: held-out rows}): cfg.train_splits, else every row outside the test split (all
    rows when there is none); held out: the test split and, when not trained on, the val split."""
    test = np.flatnonzero(data.splits == "test")
    if cfg.train_splits is not None:
        train = np.flatnonzero(np.isin(data.splits, cfg.train_splits))
    else:
        train = np.flatnonzero(data.splits != "test") if len(test) else np.arange(len(data))
    held = {s: np.flatnonzero(data.splits == s) for s in ("val", "test")}
    return train, {s: i for s, i in held.items() if len(i) and not np.isin(i, train).any()}


def run(cfg: TrainConfig, out_dir: str | Path, data: MateData | None = None, device: str = "cpu") -> dict[str, Any]:
    """Train on cfg.speech's training rows, score the held-out rows, write the checkpoint folder out_dir
    (config.json, model.safetensors, README.md) and out_dir/metrics.json. Returns {"metrics", "n_train",
    "n_test", "loss_history"}."""
    out_dir = Path(out_dir)
    if data is None:
        log.info("preparing MATE features of %s ...", cfg.speech)
        data = prepare_data(cfg.speech, cfg.model)
    train, held = split_rows(cfg, data)
    if not len(train):
        raise EsmrError(f"no training rows in {cfg.speech} (train_splits {cfg.train_splits})")
    log.info("training MATE on %d utterances, holding out %s", len(train),
             ", ".join(f"{s} {len(i)}" for s, i in held.items()) or "none")
    t0 = time.time()
    model, hist = fit(cfg, data, train, device=device)
    metrics: dict[str, dict[str, float]] = {}
    for split in ("test", "val"):
        if split in held:
            metrics.update(held_out_scores(model, data, held[split], split))
    result = {"n_train": int(len(train)), "n_test": int(len(held.get("test", []))),
              "loss_history": [round(h, 5) for h in hist], "seconds": round(time.time() - t0, 1),
              "metrics": metrics}
    meta = {"train": train_settings(cfg), **result}
    model.save_pretrained(out_dir, meta=meta, card=model_card(cfg, result))
    write_json(out_dir / "metrics.json", metrics)
    for name, m in metrics.items():
        log.info("%s: F1(macro) %.3f acc %.3f CCC(A) %.3f CCC(V) %.3f (n=%d)", name, m["f1_macro"], m["accuracy"],
                 m["ccc_arousal"], m["ccc_valence"], int(m["n"]))
    log.info("saved %s", out_dir)
    return result


def model_card(cfg: TrainConfig, result: dict[str, Any]) -> str:
    """README.md of a checkpoint written by run: what it reads, how it was trained, its held-out scores."""
    m = cfg.model
    inputs = " + ".join((["audio (log-mel CNN)"] if m.use_audio else []) +
                        ([f"transcript ({m.text_encoder}, {m.text_dim}-d, frozen)"] if m.use_text else []))
    lines = [
        "---", "license: gpl-3.0-or-later",
        "tags: [speech-emotion-recognition, multimodal, audio, text, arousal, valence]", "---", "# MATE checkpoint", "",
        "Multimodal audio + text emotion recognition (docs/methods.md section 4; code: `esmr_core/mate/`).",
        f"Reads {inputs}; 7 emotion probabilities ({', '.join(m.emotions)}) and arousal, valence on 1..5.", "",
        "## Training", "",
        f"Speech collection `{cfg.speech}`, rows of splits {cfg.train_splits or 'all but test'} "
        f"({result['n_train']} utterances); {cfg.epochs} epochs, AdamW lr {cfg.lr} one-cycle, batch {cfg.batch_size}, "
        f"lambda {cfg.lam}, {'class-balanced BCE' if cfg.class_balanced else 'KL'} emotion loss, "
        f"text weight augmentation {cfg.text_weight_aug}, channel augmentation {cfg.channel_aug}, consistency "
        f"weight {cfg.consistency}, seed {cfg.seed}. All settings: config.json `meta.train`.",
        "", "## Held-out scores", "",
        "| set | n | F1 (macro) | accuracy | CCC(A) | CCC(V) |", "|---|---|---|---|---|---|",
    ]
    for name, s in result["metrics"].items():
        lines.append(f"| {name} | {int(s['n'])} | {s['f1_macro']:.3f} | {s['accuracy']:.3f} | "
                     f"{s['ccc_arousal']:.3f} | {s['ccc_valence']:.3f} |")
    lines += ["", "## Licence", "", "GPL-3.0-or-later (the project's licence).", ""]
    return "\n".join(lines)
