"""Training on synthetic feature matrices: learns, is reproducible, writes a loadable run folder."""
import json

import numpy as np
import pytest
import torch

from esmr_core.cli import main as cli_main
from esmr_core.emotion import EMOTIONS, MUSIC_MOODS, best_mood, vad
from esmr_core.retrieval.evaluate import evaluate_arrays
from esmr_core.retrieval.model import JointModel
from esmr_core.retrieval.config import TrainConfig, load_config
from esmr_core.retrieval.data import TrainData
from esmr_core.retrieval.train import BatchSampler, build_model, fit, run

SPEC = {"modality": "synthetic", "speech": [], "music": []}   # features made in the test, no frozen encoder


def synthetic(seed=0, per_class=24, noise=1.0) -> TrainData:
    """Speech features = emotion prototype + noise; music = mood prototype + noise (prototypes unrelated)."""
    rng = np.random.default_rng(seed)
    sp, mp = rng.normal(size=(7, 16)) * 2, rng.normal(size=(8, 10)) * 2
    labels = np.repeat(EMOTIONS, per_class)
    x = sp[[EMOTIONS.index(e) for e in labels]] + rng.normal(size=(len(labels), 16)) * noise
    split = np.tile(np.array(["train"] * 3 + ["val", "test"])[np.arange(per_class) % 5], 7)
    moods = np.repeat(MUSIC_MOODS, 5)
    m = mp[[MUSIC_MOODS.index(mo) for mo in moods]] + rng.normal(size=(len(moods), 10)) * noise
    return TrainData(speech_x=x.astype(np.float32), speech_labels=labels,
                     speech_vad=np.stack([vad(e) for e in labels]).astype(np.float32), split=split,
                     music_x=m.astype(np.float32), music_moods=moods, spec=SPEC,
                     lexically_neutral=np.arange(len(labels)) % 2 == 0)


def small_cfg(**kw) -> TrainConfig:
    base = dict(embed_dim=16, hidden_dim=32, batch_size=32, epochs=12, warmup_epochs=2, patience=20, lr=3e-3)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.mark.parametrize("losses,space,momentum", [
    ({"triplet": 1.0, "emotion": 1.0, "vad": 1.0}, "VA", False),
    ({"triplet": 1.0, "emosim": 0.5}, "VA", False),
    ({"infonce": 1.0, "triplet_hard": 1.0, "kl": 1.0}, "VAD", False),
    ({"infonce": 1.0, "triplet_hard": 1.0, "kl": 1.0, "emotion": 1.0}, "VAD", True),
])
def test_training_learns_the_emotion_to_mood_mapping(data, losses, space, momentum):
    cfg = small_cfg(losses=losses, space=space, momentum=momentum, queue_size=64)
    test = data.subset("test")
    untrained = evaluate_arrays(build_model(cfg, data, data.subset("train")), data, test, space)
    model, res = fit(cfg, data)
    got = evaluate_arrays(model, data, test, space)  # relevance in the space the model was trained for
    assert got["mrr"] > max(0.8, untrained["mrr"] + 0.2), (untrained, got)
    assert got["ndcg@5"] > untrained["ndcg@5"]
    assert res["test"]["ndcg@5"] > 0.9  # reported numbers: VAD relevance for every model
    if "emotion" in losses:
        assert got["emotion_accuracy"] > 0.7  # chance 1/7
    if momentum:
        assert (model.queue_labels >= 0).all()  # the queue was filled with labelled momentum embeddings


def test_same_seed_same_metrics_and_other_seed_differs(data, tmp_path):
    cfg = small_cfg(losses={"infonce": 1.0, "kl": 1.0}, epochs=4)
    _, a = fit(cfg, data, tmp_path / "a" if (tmp_path / "a").mkdir() is None else None)
    _, b = fit(cfg, data, tmp_path / "b" if (tmp_path / "b").mkdir() is None else None)
    assert a == b
    assert (tmp_path / "a" / "metrics.jsonl").read_text() == (tmp_path / "b" / "metrics.jsonl").read_text()
    _, c = fit(small_cfg(losses={"infonce": 1.0, "kl": 1.0}, epochs=4, seed=1), data)
    assert c["val"] != a["val"]


def test_batches_are_class_balanced_with_best_mood_positives(data):
    cfg = small_cfg(space="VAD", batch_size=32)
    train = data.subset("train")
    # imbalanced: every "happy" training row, only 3 of each other emotion
    idx = np.concatenate([train[data.speech_labels[train] == e][: None if e == "happy" else 3] for e in EMOTIONS])
    sampler = BatchSampler(cfg, data, idx, np.random.default_rng(0))
    batches = [sampler.sample() for _ in range(60)]
    s = np.concatenate([b[0] for b in batches])
    m = np.concatenate([b[1] for b in batches])
    moods = sum((b[2] for b in batches), [])
    counts = np.array([(data.speech_labels[s] == e).sum() for e in EMOTIONS])
    assert counts.sum() == 60 * 32 and counts.min() > 200 and counts.max() < 350  # ~274 each
    for i, j, mood in zip(s, m, moods):
        assert mood == best_mood(data.speech_labels[i], "VAD") == data.music_moods[j]


def test_run_folder_and_checkpoint_roundtrip(data, tmp_path):
    cfg = small_cfg(epochs=3, name="tiny")
    res = run(cfg, tmp_path / "run", data=data, progress=False)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3 and "val_mrr" in json.loads(lines[0]) and "train_loss" in json.loads(lines[0])
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["name"] == "tiny" and saved["feature_spec"] == SPEC
    card = (tmp_path / "run" / "checkpoint" / "README.md").read_text()
    assert "GPL-3.0-or-later" in card and "MRR" in card
    model = JointModel.from_pretrained(tmp_path / "run" / "checkpoint")
    assert model.feature_spec == SPEC
    again = evaluate_arrays(model, data, data.subset("test"))
    assert again["mrr"] == pytest.approx(res["test"]["mrr"])


def test_config_errors_are_user_errors(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "lossses": {}}))
    assert cli_main(["train", "--config", str(bad)]) == 2
    assert "unknown training config" in capsys.readouterr().err
    assert cli_main(["train", "--config", str(tmp_path / "missing.json")]) == 2
    cfg = load_config(bad.with_name("ok.json") if bad.with_name("ok.json").write_text("{}") else None, seed=7)
    assert cfg.seed == 7 and cfg.name == "default"


def test_bundled_configs_load():
    from esmr_core.paths import PACKAGE_DIR

    names = [p for p in (PACKAGE_DIR / "configs").glob("*.json") if not p.name.startswith("mate")]
    assert len(names) >= 4
    for p in names:
        load_config(p).loss_config()  # unknown keys or loss terms would raise


def _tiny_collections(root):
    """7 emotions x 3 espeak-ng clips (train/val/test) + 8 synthetic music excerpts, as real collections."""
    import subprocess

    import soundfile as sf

    from esmr_core.data.manifest import new_collection

    speech = new_collection(root / "speech", "speech", name="tiny")
    (root / "speech").mkdir(parents=True)
    for i, emo in enumerate(EMOTIONS):
        for j, split in enumerate(("train", "val", "test")):
            rel = f"{emo}-{split}.wav"
            text = f"this is a {emo} sentence number {j}"
            subprocess.run(["espeak-ng", "-s", str(120 + 20 * j), "-p", str(30 + 8 * i), "-w",
                            str(root / "speech" / rel), text], check=True, capture_output=True)
            v, a, d = vad(emo)
            speech.rows.append({"id": rel, "path": rel, "label": emo, "valence": v, "arousal": a, "dominance": d,
                                "text": text, "voice": "espeak", "split": split, "lexically_neutral": j == 2})
    speech.save()
    music = new_collection(root / "music", "music", name="tiny")
    (root / "music").mkdir(parents=True)
    t = np.arange(3 * 16000) / 16000
    for k, mood in enumerate(MUSIC_MOODS):
        y = 0.2 * np.sin(2 * np.pi * (110 * (k + 1)) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * (k + 1) * t))
        sf.write(root / "music" / f"{mood}.wav", y.astype(np.float32), 16000)
        music.rows.append({"id": mood, "title": mood, "artist": "test", "licence": "CC0", "duration_s": 3.0,
                           "path": f"{mood}.wav", "mood": mood, "valence": 0.5, "energy": 0.5})
    music.save()


@pytest.mark.slow
def test_cli_train_and_evaluate_on_real_features(tmp_path, monkeypatch, capsys):
    """esmr train / esmr evaluate end to end on real encoders (prosody, timbre, MiniLM, music) and the cache."""
    import time

    from esmr_core.audio import load_audio
    from esmr_core.data.manifest import load_collection
    from esmr_core.retrieval.features import collection_matrix, speech_vector

    monkeypatch.setenv("ESMR_CACHE", str(tmp_path / "cache"))
    _tiny_collections(tmp_path)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"name": "t", "modality": "fusion", "epochs": 2, "batch_size": 8, "warmup_epochs": 1,
                               "embed_dim": 8, "hidden_dim": 16, "losses": {"infonce": 1.0, "emotion": 1.0}}))
    args = ["train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--speech", str(tmp_path / "speech"),
            "--catalog", str(tmp_path / "music"), "--quiet"]
    assert cli_main(args) == 0, capsys.readouterr().err
    capsys.readouterr()
    ckpt = tmp_path / "run" / "checkpoint"
    spec = JointModel.from_pretrained(ckpt).feature_spec
    assert [e["name"] for e in spec["speech"]] == ["prosody", "timbre", "minilm"] and spec["music"][0]["name"] == "music"
    assert cli_main(["evaluate", "--checkpoint", str(ckpt), "--speech", str(tmp_path / "speech"), "--catalog",
                     str(tmp_path / "music"), "--subset", "lexically_neutral", "--json", "--quiet"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_speech"] == 7 and res["n_music"] == 8 and 0 < res["mrr"] <= 1 and 0 <= res["ndcg@5"] <= 1
    # the same split read with no words and with what the speech recogniser hears
    for source in ("none", "asr"):
        assert cli_main(["evaluate", "--checkpoint", str(ckpt), "--speech", str(tmp_path / "speech"), "--catalog",
                         str(tmp_path / "music"), "--subset", "lexically_neutral", "--json", "--quiet",
                         "--transcripts", source]) == 0
        other = json.loads(capsys.readouterr().out)
        assert other["transcripts"] == source and other["n_speech"] == 7 and 0 < other["mrr"] <= 1
    # one query featurised alone == its row of the collection matrix (what the service relies on)
    coll = load_collection(tmp_path / "speech", "speech")
    from esmr_core.cache import FeatureCache

    row = coll.rows[0]
    one = speech_vector(load_audio(coll.path(row)).samples, row["text"], spec)
    assert np.allclose(one, collection_matrix(coll, spec, FeatureCache(), progress=False)[0], atol=1e-5)
    assert cli_main(["evaluate", "--checkpoint", str(tmp_path / "nothing"), "--speech", str(tmp_path / "speech"),
                     "--catalog", str(tmp_path / "music")]) == 2
