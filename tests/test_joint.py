"""The joint model: shapes, unit norms, emotion head ranges, momentum/queue behaviour, save/load round trip."""
import json
from pathlib import Path

import pytest
import torch

from esmr_core.errors import ModelUnavailableError
from esmr_core.retrieval.config import JointConfig
from esmr_core.retrieval.model import JointModel


def tiny(momentum=False, **kw):
    torch.manual_seed(0)
    return JointModel(JointConfig(speech_dim=12, music_dim=6, embed_dim=8, hidden_dim=16, momentum=momentum,
                                  queue_size=10, **kw), {"modality": "audio", "speech": [], "music": []})


def test_shapes_and_unit_norm():
    model = tiny().eval()
    zs, zm = model.encode_speech(torch.randn(5, 12)), model.encode_music(torch.randn(3, 6))
    assert zs.shape == (5, 8) and zm.shape == (3, 8)
    assert torch.allclose(zs.norm(dim=1), torch.ones(5), atol=1e-5)
    assert torch.allclose(zm.norm(dim=1), torch.ones(3), atol=1e-5)


def test_emotion_head_outputs_probabilities_and_unit_interval_vad():
    probs, vad = tiny().eval().predict_emotion(torch.randn(4, 12) * 10)
    assert probs.shape == (4, 7) and vad.shape == (4, 3)
    assert torch.allclose(probs.sum(1), torch.ones(4), atol=1e-5)
    assert (vad >= 0).all() and (vad <= 1).all()


def test_standardisation_buffers_are_used():
    model = tiny().eval()
    x = torch.randn(4, 12)
    before = model.encode_speech(x)
    with torch.no_grad():
        model.speech.mean += 3.0
    assert not torch.allclose(before, model.encode_speech(x + 0.0))
    assert torch.allclose(before, model.encode_speech(x + 3.0), atol=1e-5)


def test_momentum_tower_gets_no_gradient_and_moves_by_ema():
    model = tiny(momentum=True, momentum_m=0.9)
    x = torch.randn(4, 6)
    loss = model.encode_music(x).sum() + model.encode_music_momentum(x).sum()
    loss.backward()
    assert all(p.grad is None for p in model.music_m.parameters())
    assert all(not p.requires_grad for p in model.music_m.parameters())
    assert model.queue.grad is None and not model.queue.requires_grad
    w, w_m = model.music.head[0].weight, model.music_m.head[0].weight
    with torch.no_grad():
        w.add_(1.0)
    old = w_m.detach().clone()
    model.momentum_update()
    assert torch.allclose(w_m, 0.9 * old + 0.1 * w.detach())


def test_queue_ring_buffer_and_saved_with_model(tmp_path):
    model = tiny(momentum=True)
    z = torch.nn.functional.normalize(torch.randn(7, 8), dim=1)
    model.enqueue(z, torch.arange(7))
    model.enqueue(z[:5], torch.arange(5) + 100)  # wraps: ptr 7 -> 12 % 10 = 2
    assert int(model.queue_ptr) == 2
    assert model.queue_labels.tolist() == [103, 104, 2, 3, 4, 5, 6, 100, 101, 102]
    assert "queue" in model.state_dict() and "queue_labels" in model.state_dict()
    model.save_pretrained(tmp_path)
    again = JointModel.from_pretrained(tmp_path)
    assert torch.equal(again.queue, model.queue) and torch.equal(again.queue_labels, model.queue_labels)


def test_save_and_load_roundtrip(tmp_path):
    model = tiny().eval()
    x = torch.randn(3, 12)
    model.save_pretrained(tmp_path / "ck", meta={"note": "x"})
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["format"] == 2 and cfg["model_type"] == "esmr-joint" and cfg["meta"] == {"note": "x"}
    assert cfg["config"]["space"] == "VAD" and len(cfg["config"]["emotions"]) == 7
    assert cfg["feature_spec"]["modality"] == "audio"
    assert [e["name"] for e in cfg["encoders"]] == [e["name"] for e in cfg["feature_spec"]["speech"]
                                                    + cfg["feature_spec"]["music"]]
    loaded = JointModel.from_pretrained(tmp_path / "ck")
    assert not loaded.training
    assert torch.allclose(model.encode_speech(x), loaded.encode_speech(x))


def test_from_pretrained_is_strict_and_explains_missing(tmp_path):
    with pytest.raises(ModelUnavailableError, match="esmr train"):
        JointModel.from_pretrained(tmp_path / "nothing")
    tiny().save_pretrained(tmp_path / "ck")
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    cfg["config"]["momentum"] = True  # the weights lack the momentum tower and queue
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RuntimeError, match="Missing key"):
        JointModel.from_pretrained(tmp_path / "ck")


def test_old_format_is_refused_and_the_converter_makes_it_load(tmp_path):
    """A checkpoint written before the one convention (config.json without "format") is refused with the
    command that converts it; scripts/convert_checkpoints.py turns it into one that loads, weights untouched."""
    import importlib.util

    model = tiny().eval()
    model.save_pretrained(tmp_path / "ck")
    new = json.loads((tmp_path / "ck" / "config.json").read_text())
    old = {"model_type": "esmr-joint", "config": new["config"], "feature_spec": new["feature_spec"],
           "emotions": new["config"]["emotions"], "moods": new["config"]["moods"], "space": "VAD", "meta": {}}
    (tmp_path / "ck" / "config.json").write_text(json.dumps(old))
    with pytest.raises(ModelUnavailableError, match="scripts/convert_checkpoints.py"):
        JointModel.from_pretrained(tmp_path / "ck")
    spec = importlib.util.spec_from_file_location("convert", Path(__file__).parents[1] / "scripts" / "convert_checkpoints.py")
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    assert convert.convert(tmp_path / "ck") and not convert.convert(tmp_path / "ck")   # once, then a no-op
    x = torch.randn(3, 12)
    assert torch.allclose(JointModel.from_pretrained(tmp_path / "ck").encode_speech(x), model.encode_speech(x))


def test_a_checkpoint_of_another_encoder_version_is_refused(tmp_path):
    from esmr_core.retrieval.features import make_spec

    model = JointModel(JointConfig(speech_dim=31, music_dim=68, embed_dim=8, hidden_dim=16),
                       make_spec("voice", drop_speech_features=[f"mfcc{i}_mean" for i in range(1, 14)]))
    model.save_pretrained(tmp_path / "ck")
    JointModel.from_pretrained(tmp_path / "ck")   # the installed encoders: loads
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    cfg["encoders"][0]["version"] = "999"
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelUnavailableError, match="v999"):
        JointModel.from_pretrained(tmp_path / "ck")


def test_the_shipped_joint_checkpoint_loads_in_the_current_format():
    from esmr_core.paths import checkpoints_dir

    model = JointModel.from_pretrained(checkpoints_dir() / "esmr-default")
    assert model.feature_spec["modality"] == "voice-text" and not model.training
