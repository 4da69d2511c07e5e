"""Hub encoders (transformers from_pretrained) tested with tiny random checkpoints of the real architectures,
saved with save_pretrained into tmp_path and loaded through the same code path as a Hub name."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from esmr_core.encoders import get_encoder  # noqa: E402
from esmr_core.encoders.hub import (HubMusicEncoder, HubSpeechEncoder, HubTextEncoder,  # noqa: E402
                                    build_hub_encoder)
from esmr_core.errors import EsmrError, ModelUnavailableError  # noqa: E402


def _noise(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def test_transformers_audio_model_imports_without_torchaudio():
    import importlib.util

    import transformers
    from transformers import Wav2Vec2Model  # noqa: F401  (fails when a broken torchaudio is installed)

    assert importlib.util.find_spec("torchaudio") is None, "torchaudio must stay out of the environment"
    assert transformers.__version__


@pytest.mark.parametrize("arch", ["wav2vec2", "hubert"])
def test_speech_encoder_tiny_checkpoint(tmp_path, arch):
    from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    cfg_cls, model_cls = (Wav2Vec2Config, Wav2Vec2Model) if arch == "wav2vec2" else (HubertConfig, HubertModel)
    cfg = cfg_cls(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                  conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                  num_conv_pos_embedding_groups=2)
    torch.manual_seed(0)
    model = model_cls(cfg).eval()
    model.save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(tmp_path)

    enc = build_hub_encoder(str(tmp_path))
    assert isinstance(enc, HubSpeechEncoder)
    assert (enc.modality, enc.sample_rate, enc.dim) == ("speech", 16000, 32)
    y = _noise(1.0, 16000)
    out = enc.encode(y)
    assert out.shape == (32,) and out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_array_equal(out, enc.encode(y))
    # The loaded weights are the saved ones: same output as the model we built.
    with torch.no_grad():
        x = enc.feature_extractor(y, sampling_rate=16000, return_tensors="pt").input_values
        ref = model(x).last_hidden_state[0].mean(0).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-5)
    assert not np.allclose(out, enc.encode(_noise(1.0, 16000, seed=1)))


def test_clap_music_encoder_tiny_checkpoint(tmp_path):
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    cfg = ClapConfig(
        text_config=dict(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=40),
        audio_config=dict(depths=[1, 1], num_attention_heads=[2, 2], hidden_size=32, patch_embeds_hidden_size=16,
                          window_size=4, spec_size=128, num_mel_bins=64, patch_stride=(4, 4), patch_size=4,
                          enable_fusion=False),
        projection_dim=16)
    torch.manual_seed(0)
    model = ClapModel(cfg).eval()
    model.save_pretrained(tmp_path)
    fe = ClapFeatureExtractor(max_length_s=1)     # 1 s windows: 101 frames fit spec_size 128 x ratio 2
    fe.save_pretrained(tmp_path)

    enc = get_encoder(f"hub:{tmp_path}")
    assert isinstance(enc, HubMusicEncoder) and enc.kind == "clap"
    assert (enc.modality, enc.sample_rate, enc.dim, enc.window) == ("music", 48000, 16, 48000)
    y = _noise(2.5, 48000)
    out = enc.encode(y)
    assert out.shape == (16,) and np.isfinite(out).all()
    np.testing.assert_array_equal(out, enc.encode(y))        # no random cropping
    # = normalised mean over the 1 s windows of ClapModel.get_audio_features (unit vectors), same weights
    refs = []
    with torch.no_grad():
        for s in (0, 48000, 96000):
            feats = fe(y[s:s + 48000], sampling_rate=48000, return_tensors="pt", truncation="rand_trunc")
            r = model.get_audio_features(**feats)
            refs.append((r if isinstance(r, torch.Tensor) else r.pooler_output)[0].numpy())
    ref = np.mean(refs, axis=0)
    np.testing.assert_allclose(out, ref / np.linalg.norm(ref), atol=1e-5)
    assert abs(np.linalg.norm(out) - 1.0) < 1e-5


def test_ast_music_encoder_tiny_checkpoint(tmp_path):
    from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

    cfg = ASTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                    num_mel_bins=32, max_length=64, patch_size=16, frequency_stride=16, time_stride=16)
    torch.manual_seed(0)
    ASTModel(cfg).eval().save_pretrained(tmp_path)
    ASTFeatureExtractor(num_mel_bins=32, max_length=64).save_pretrained(tmp_path)

    enc = build_hub_encoder(str(tmp_path))
    assert isinstance(enc, HubMusicEncoder) and enc.kind == "ast"
    assert (enc.sample_rate, enc.dim, enc.window) == (16000, 32, 10240)
    y = _noise(2.0, 16000)
    out = enc.encode(y)
    assert out.shape == (32,) and np.isfinite(out).all()
    np.testing.assert_array_equal(out, enc.encode(y))


def _tiny_bert(tmp_path):
    from transformers import BertConfig, BertModel, BertTokenizer

    words = "i am so happy sad angry today the music is very calm loud and".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizer(vocab=str(tmp_path / "vocab.txt"))
    assert tok("i am so happy")["input_ids"] == [2, 5, 6, 7, 8, 3]      # the vocab file was read
    tok.save_pretrained(tmp_path)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).eval().save_pretrained(tmp_path)


def test_bert_text_encoder_tiny_checkpoint(tmp_path):
    _tiny_bert(tmp_path)
    cls_enc = build_hub_encoder(str(tmp_path))
    mean_enc = build_hub_encoder(f"{tmp_path}@mean")
    assert isinstance(cls_enc, HubTextEncoder) and (cls_enc.pooling, mean_enc.pooling) == ("cls", "mean")
    assert cls_enc.modality == "text" and cls_enc.dim == 32
    texts = ["i am so happy today", "", "the music is very calm", "i am so happy today"]
    a = cls_enc.encode_texts(texts)
    assert a.shape == (4, 32) and a.dtype == np.float32
    np.testing.assert_array_equal(a[1], 0.0)                     # empty text -> zeros
    np.testing.assert_allclose(a[0], a[3], atol=1e-6)            # batch padding does not change a row
    np.testing.assert_allclose(a[0], cls_enc.encode("i am so happy today"), atol=1e-5)
    assert not np.allclose(a[0], a[2])
    b = mean_enc.encode_texts(texts)
    assert b.shape == (4, 32) and not np.allclose(a[0], b[0])
    with pytest.raises(EsmrError):
        build_hub_encoder(f"{tmp_path}@max")


def test_unreachable_hub_name_raises_model_unavailable_quickly():
    code = textwrap.dedent("""
        import time
        from esmr_core.encoders import get_encoder
        from esmr_core.errors import ModelUnavailableError
        t = time.time()
        try:
            get_encoder("hub:esmr-test/no-such-model-xyz")
        except ModelUnavailableError as exc:
            print("OK", round(time.time() - t, 2), exc)
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("OK"), res.stdout + res.stderr[-2000:]
    assert "could not load" in res.stdout and "offline" in res.stdout and "local folder" in res.stdout
    # how long the refusal takes offline is measured by bench/run.py, not asserted here


def test_missing_local_folder_is_model_unavailable(tmp_path):
    with pytest.raises(ModelUnavailableError, match="could not load"):
        build_hub_encoder(str(tmp_path / "nothing-here"), local_files_only=True)
