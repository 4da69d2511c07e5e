"""MATE: shapes, the 1..5 range, class-balanced weights, CCC, loss terms, config, persistence, training, CLI,
the shipped checkpoint (format 2; an old flat config.json is refused)."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from esmr_core.emotion import EMOTIONS, vad
from esmr_core.errors import AudioError, EsmrError, ModelUnavailableError
from esmr_core.mate.config import MateConfig, TrainConfig, load_config
from esmr_core.mate.data import emotion_target, prepare_data
from esmr_core.mate.evaluate import evaluate_checkpoint, group_folds
from esmr_core.mate.infer import Mate
from esmr_core.mate.losses import class_balanced_weights, mate_loss
from esmr_core.mate.model import MateModel
from esmr_core.mate.train import cross_validate, fit
from esmr_core.metrics import ccc
from esmr_core.paths import PACKAGE_DIR, checkpoints_dir

TINY = dict(cnn_channels=(4, 8), audio_dim=16, lstm_hidden=16, n_mels=24, max_seconds=2.0)
SENTENCES = {  # emotion -> two sentences whose words carry the emotion
    "angry": ["I am furious with you", "This makes me so mad"],
    "happy": ["What a wonderful happy day", "I am delighted and glad"],
    "sad": ["I feel so sad and lonely", "Everything is hopeless and grim"],
    "fear": ["I am terrified of the dark", "Something scary is coming"],
}
PITCH = {"angry": 260.0, "happy": 220.0, "sad": 110.0, "fear": 300.0}


def _voice(f0: float, loud: float, seed: int, seconds: float = 1.0, sr: int = 16000) -> np.ndarray:
    """A harmonic 'voice' with vibrato and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / sr
    y = sum(np.sin(h * phase) / h for h in range(1, 6)) * loud
    return (y * np.hanning(t.size) ** 0.2 + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A tiny speech collection: 4 emotions x 2 sentences x 3 voices, plus lexically neutral rows."""
    from esmr_core.data.manifest import new_collection

    root = tmp_path_factory.mktemp("speech")
    coll = new_collection(root, "speech", name="mate-test")
    n = 0
    for emo, sents in SENTENCES.items():
        v, a, d = vad(emo)
        for s_i, text in enumerate(sents + ["The table is in the room"]):
            for voice in range(3):
                y = _voice(PITCH[emo] * (1 + 0.1 * voice), 0.8 if emo in ("angry", "fear") else 0.3, n)
                sf.write(root / f"{n}.flac", y, 16000)
                coll.rows.append({"id": f"u{n}", "path": f"{n}.flac", "label": emo, "valence": float(v),
                                  "arousal": float(a), "dominance": float(d), "text": text, "voice": f"v{voice}",
                                  "split": "test" if voice == 2 else "train", "sentence_id": f"{emo}-{s_i}",
                                  "lexically_neutral": s_i == 2})
                n += 1
    coll.rows[0]["label_votes"] = {"angry": 3, "disgust": 1}
    coll.save()
    return root


@pytest.fixture(scope="module")
def data(corpus, tmp_path_factory):
    import os

    os.environ["ESMR_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    return prepare_data(corpus, MateConfig(**TINY))


def test_forward_shapes_and_affect_range():
    torch.manual_seed(0)
    cfg = MateConfig(**TINY)
    model = MateModel(cfg).eval()
    b, s = 2, 3
    mels = torch.randn(b * s, cfg.n_mels, 50)
    out = model(mels, torch.tensor([50, 40, 30, 50, 20, 10]), torch.randn(b * s, cfg.text_dim),
                torch.tensor([1, 0, 1, 1, 1, 0], dtype=torch.bool), seq_lengths=torch.tensor([3, 2]), seq_shape=(b, s))
    assert out["logits"].shape == (b, s, 7) and out["probs"].shape == (b, s, 7)
    assert out["arousal"].shape == (b, s) and out["valence"].shape == (b, s)
    assert torch.allclose(out["probs"].sum(-1), torch.ones(b, s), atol=1e-5)
    # 4 * sigmoid + 1 stays in [1, 5] even for huge pre-activations
    with torch.no_grad():
        model.affect_head[-1].bias.fill_(1e4)
        hi = model(mels, torch.full((6,), 50), None, None)
        model.affect_head[-1].bias.fill_(-1e4)
        lo = model(mels, torch.full((6,), 50), None, None)
    assert torch.allclose(hi["valence"], torch.full_like(hi["valence"], 5.0))
    assert torch.allclose(lo["arousal"], torch.full_like(lo["arousal"], 1.0))
    assert model.wave_to_mels(torch.randn(2, 16000)).shape == (2, cfg.n_mels, 16000 // cfg.hop_length + 1)


def test_ablation_configs_change_inputs():
    a = MateModel(MateConfig(**TINY, use_text=False))
    t = MateModel(MateConfig(**TINY, use_audio=False))
    f = MateModel(MateConfig(**TINY, emotion_to_affect=False))
    assert a.lstm.input_size == 16 and t.lstm.input_size == 384
    assert f.affect_head[0].in_features == 16 and MateModel(MateConfig(**TINY)).affect_head[0].in_features == 23
    with pytest.raises(ValueError):
        MateConfig(use_audio=False, use_text=False)


def test_class_balanced_weights_formula():
    counts = [100, 10, 1, 0]
    w = class_balanced_weights(counts, 0.99)
    raw = np.array([(1 - 0.99) / (1 - 0.99 ** n) for n in counts[:3]] + [0.0])
    assert np.allclose(w, raw / raw.sum() * 4)
    assert w[2] > w[1] > w[0] > 0 and w[3] == 0 and math.isclose(w.sum(), 4)
    assert np.allclose(class_balanced_weights([5, 5, 5], 0.9), 1.0)   # balanced -> all ones


def test_ccc():
    rng = np.random.default_rng(0)
    x = rng.normal(3, 1, 200)
    assert ccc(x, x) == pytest.approx(1.0)
    assert ccc(x, x + 1.0) < 0.7                      # a bias is penalised (Pearson would say 1)
    assert ccc(x, np.full_like(x, 3.0)) == pytest.approx(0.0)
    y = rng.normal(2, 2, 200)
    want = 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
    assert ccc(x, y) == pytest.approx(want)


def test_loss_terms():
    t = torch.tensor([[0.7, 0.3, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1.0, 0, 0]])
    batch = {"targets": t, "arousal": torch.tensor([2.0, 4.0]), "valence": torch.tensor([1.0, 5.0])}
    exact = {"logits": torch.log(t + 1e-12), "arousal": torch.tensor([2.0, 4.0]), "valence": torch.tensor([1.0, 5.0])}
    terms = mate_loss(exact, batch, 0.75)
    assert set(terms) == {"emotion_loss", "arousal_loss", "valence_loss", "loss"}
    assert terms["emotion_loss"].item() == pytest.approx(0.0, abs=1e-5)
    off = {"logits": torch.zeros(2, 7), "arousal": torch.tensor([3.0, 4.0]), "valence": torch.tensor([1.0, 3.0])}
    terms = mate_loss(off, batch, 0.75)
    kl = np.mean([sum(p * math.log(p * 7) for p in row if p > 0) for row in t.tolist()])
    assert terms["emotion_loss"].item() == pytest.approx(kl, rel=1e-5)
    assert terms["arousal_loss"].item() == pytest.approx(0.5) and terms["valence_loss"].item() == pytest.approx(2.0)
    assert terms["loss"].item() == pytest.approx(0.75 * kl + 0.25 * 2.5, rel=1e-5)
    # class-balanced: per-sample weight times BCE summed over classes
    w = torch.tensor([2.0, 1, 1, 1, 0.5, 1, 1])
    cb = mate_loss(off, batch, 0.5, w)
    bce = math.log(2) * 7                                   # sigmoid(0) = 0.5 against any 0/1-mix target
    assert cb["emotion_loss"].item() == pytest.approx(np.mean([0.7 * 2 + 0.3, 0.5]) * bce, rel=1e-5)


def test_emotion_targets_soft_and_one_hot():
    soft = emotion_target({"label": "angry", "label_votes": {"angry": 3, "fear": 1}})
    assert soft[EMOTIONS.index("angry")] == pytest.approx(0.75) and soft.sum() == pytest.approx(1)
    hard = emotion_target({"label": "sad"})
    assert hard[EMOTIONS.index("sad")] == 1.0 and hard.sum() == 1.0


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(1)
    model = MateModel(MateConfig(**TINY, emotion_to_affect=False)).eval()
    model.save_pretrained(tmp_path / "ck", meta={"note": "x"})
    again = MateModel.from_pretrained(tmp_path / "ck")
    assert again.config == model.config
    x = (torch.randn(3, 24, 40), torch.tensor([40, 30, 20]), torch.randn(3, 384), torch.tensor([True, False, True]))
    with torch.no_grad():
        for k, v in model(*x).items():
            assert torch.equal(v, again(*x)[k])
    payload = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert payload["format"] == 2 and payload["model_type"] == "mate" and payload["meta"] == {"note": "x"}
    assert payload["encoders"] == [{"name": "minilm", "version": "1", "dim": 384}]   # the text encoder, checked
    audio_only = MateModel(MateConfig(**TINY, use_text=False))
    assert audio_only.encoders() == []
    payload["config"]["lstm_hidden"] = 32                   # weights no longer fit: strict load must refuse
    (tmp_path / "ck" / "config.json").write_text(json.dumps(payload))
    with pytest.raises(RuntimeError, match="size mismatch"):
        MateModel.from_pretrained(tmp_path / "ck")
    with pytest.raises(ModelUnavailableError, match="esmr mate train"):
        MateModel.from_pretrained(tmp_path / "missing")


def test_loading_checks_the_text_encoder_version(tmp_path):
    MateModel(MateConfig(**TINY)).save_pretrained(tmp_path / "ck")
    payload = json.loads((tmp_path / "ck" / "config.json").read_text())
    payload["encoders"][0]["version"] = "0"
    (tmp_path / "ck" / "config.json").write_text(json.dumps(payload))
    with pytest.raises(ModelUnavailableError, match="encoder minilm v0"):
        MateModel.from_pretrained(tmp_path / "ck")


def test_shipped_checkpoint_is_format_2_and_an_old_flat_config_is_refused(tmp_path):
    ckpt = checkpoints_dir() / "mate-default"
    payload = json.loads((ckpt / "config.json").read_text())
    assert payload["format"] == 2 and payload["model_type"] == "mate"
    assert payload["encoders"] == [{"name": "minilm", "version": "1", "dim": 384}]
    model = MateModel.from_pretrained(ckpt)
    assert model.config == MateConfig(**payload["config"]) and not model.training
    old = tmp_path / "old"                                  # the layout before format 2: config fields at the top
    old.mkdir()
    shutil.copy(ckpt / "model.safetensors", old / "model.safetensors")
    (old / "config.json").write_text(json.dumps({"model_type": "mate", **payload["config"], "meta": payload["meta"]}))
    with pytest.raises(ModelUnavailableError, match="scripts/convert_checkpoints.py"):
        MateModel.from_pretrained(old)


def test_load_config_is_strict_and_holds_the_model_config(tmp_path):
    cfg = load_config(PACKAGE_DIR / "configs" / "mate.json")
    assert isinstance(cfg.model, MateConfig) and cfg.model.text_encoder == "minilm" and cfg.train_splits == ["train"]
    assert load_config(PACKAGE_DIR / "configs" / "mate.json", epochs=3, seed=None).epochs == 3
    krbert = load_config(PACKAGE_DIR / "configs" / "mate-krbert.json")
    assert krbert.model.text_dim == 768 and krbert.class_balanced
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"epochs": 2, "epoch": 3}))
    with pytest.raises(EsmrError, match="epoch"):
        load_config(bad)
    bad.write_text(json.dumps({"model": {"lstm_hiden": 3}}))
    with pytest.raises(EsmrError, match="lstm_hiden"):
        load_config(bad)
    with pytest.raises(EsmrError, match="not found"):
        load_config(tmp_path / "missing.json")


def test_prepare_data(data):
    n = 4 * 3 * 3
    assert len(data) == n and len(data.mels) == n and data.text.shape == (n, 384)
    assert data.mels[0].shape[0] == 24 and data.has_text.all()
    assert np.all((data.arousal >= 1) & (data.arousal <= 5)) and data.lexically_neutral.sum() == 12
    assert data.targets[0, EMOTIONS.index("disgust")] == pytest.approx(0.25)
    folds = group_folds(data.groups, 3)
    for f in range(3):                                       # a sentence never sits on both sides
        assert not set(data.groups[folds == f]) & set(data.groups[folds != f])


def test_training_lowers_loss_and_cross_validation(data):
    tc = TrainConfig(model=MateConfig(**TINY), epochs=15, batch_size=8, lr=1e-2)
    model, hist = fit(tc, data, np.arange(len(data)))
    assert len(hist) == 15 and hist[-1] < 0.6 * hist[0] and not model.training
    res = cross_validate(TrainConfig(model=MateConfig(**TINY), epochs=2, batch_size=8), data, k=2)
    assert len(res["folds"]) == 2
    assert sum(f["all_n"] for f in res["folds"]) == len(data)   # every utterance is tested exactly once
    for key in ("all_f1_macro", "all_recall_macro", "all_precision_macro", "all_ccc_arousal", "all_ccc_valence",
                "neutral_text_f1_macro", "no_text_f1_macro"):
        assert key in res["mean"] and key in res["std"]
        assert res["mean"][key] == pytest.approx(np.mean([f[key] for f in res["folds"]]))
    tc_cb = TrainConfig(model=MateConfig(**TINY, use_audio=False), epochs=3, batch_size=8, class_balanced=True,
                        beta=0.9)
    _, hist_cb = fit(tc_cb, data, np.arange(len(data)))
    assert len(hist_cb) == 3 and all(np.isfinite(hist_cb))


def test_cli_train_and_wrapper(corpus, data, tmp_path):
    from esmr_core.cli import main

    cfg_path = tmp_path / "mate-tiny.json"
    tiny = {"model": {**TINY, "cnn_channels": [4, 8]}, "epochs": 2, "batch_size": 8}
    cfg_path.write_text(json.dumps(tiny))
    out = tmp_path / "run"
    assert main(["mate", "train", "--config", str(cfg_path), "--speech", str(corpus), "--out", str(out)]) == 0
    meta = json.loads((out / "config.json").read_text())["meta"]
    assert meta["n_train"] == 24 and meta["n_test"] == 12 and meta["train"]["epochs"] == 2
    assert set(meta["metrics"]) == {"test", "test_lexically_neutral", "test_audio_only"}
    assert meta["metrics"]["test_lexically_neutral"]["n"] == 4
    assert json.loads((out / "metrics.json").read_text()) == meta["metrics"]
    assert "test_audio_only" in (out / "README.md").read_text()
    held = evaluate_checkpoint(out, corpus, "test")            # the checkpoint scores as the run scored it
    assert held["test"]["f1_macro"] == pytest.approx(meta["metrics"]["test"]["f1_macro"])
    assert main(["mate", "evaluate", "--checkpoint", str(out), "--speech", str(corpus), "--held-out", "test"]) == 0
    mate = Mate.from_pretrained(out)
    y = _voice(200, 0.5, 0)
    with_text, no_text = mate.predict(y, "I am furious"), mate.predict(y, "  ")
    assert with_text["modalities"] == ["audio", "text"] and no_text["modalities"] == ["audio"]
    assert set(with_text["probabilities"]) == set(EMOTIONS)
    assert sum(with_text["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert 1 <= with_text["valence"] <= 5 and with_text["label"] in EMOTIONS
    with pytest.raises(AudioError):
        mate.predict(np.zeros((2, 100), np.float32))
    assert main(["mate", "evaluate", "--checkpoint", str(tmp_path / "nothing")]) == 2
    with pytest.raises(EsmrError, match="esmr corpus bootstrap"):
        prepare_data(tmp_path / "no-corpus", MateConfig(**TINY))


def test_default_checkpoint_reads_the_transcript():
    """Done-when: the same recording with a furious vs a delighted transcript -> valence differs by >= 1.0."""
    ckpt = checkpoints_dir() / "mate-default"
    assert (ckpt / "model.safetensors").stat().st_size < 10_000_000
    mate = Mate.from_pretrained(ckpt)
    y = _voice(180, 0.5, 7, seconds=3.0)
    furious = mate.predict(y, "I am absolutely furious, this is outrageous and I hate it!")
    delighted = mate.predict(y, "I am so delighted, this is wonderful and I love it!")
    assert delighted["valence"] - furious["valence"] >= 1.0
    assert furious["label"] != delighted["label"]
