"""Encoders built from Hugging Face checkpoints with transformers `from_pretrained`.

Registered as "hub:<name or local folder>" (see esmr_core.encoders.get_encoder); the kind is read from
the checkpoint's config.json (`model_type`):
- speech: wav2vec2 / HuBERT / WavLM / data2vec-audio / ... -> AutoFeatureExtractor + AutoModel, mean of the
  last hidden state over time: (hidden_size,). Default "facebook/wav2vec2-base" (as in Doh et al. 2023,
  who used wav2vec2-base-960h).
- music: CLAP audio tower (Wu et al. 2023, laion/CLAP) -> ClapFeatureExtractor + ClapAudioModelWithProjection,
  `audio_embeds` L2-normalised: a (projection_dim,) unit vector, default "laion/clap-htsat-unfused";
  or AST (Gong et al. 2021) -> ASTModel `pooler_output` (hidden_size,), "MIT/ast-finetuned-audioset-10-10-0.4593".
  Inputs longer than the model's window (10 s) are cut into consecutive windows whose embeddings are
  averaged (no random cropping, so the output is deterministic).
- text: BERT-family AutoTokenizer + AutoModel, CLS or masked-mean pooling ("hub:<name>@mean"), default
  "bert-base-uncased"; "snunlp/KR-BERT-char16424" for Korean (MATE), "distilbert-base-uncased" (Doh et al.).
A checkpoint that cannot be fetched raises ModelUnavailableError saying what to do. When the Hub is merely
unreachable (no HF_HUB_OFFLINE=1), huggingface_hub retries for ~25 s before giving up.
"""
from __future__ import annotations

import threading

import numpy as np

from ..errors import EsmrError, ModelUnavailableError
from .base import AudioEncoder, TextEncoder

DEFAULT_SPEECH = "facebook/wav2vec2-base"
DEFAULT_MUSIC = "laion/clap-htsat-unfused"
DEFAULT_AST = "MIT/ast-finetuned-audioset-10-10-0.4593"
DEFAULT_TEXT = "bert-base-uncased"
DEFAULT_KOREAN_TEXT = "snunlp/KR-BERT-char16424"

SPEECH_TYPES = {"wav2vec2", "hubert", "wavlm", "data2vec-audio", "wav2vec2-conformer", "unispeech",
                "unispeech-sat", "sew", "sew-d", "wav2vec2-bert"}
MUSIC_TYPES = {"clap", "audio-spectrogram-transformer"}


def load_pretrained(loader, name: str, what: str, **kwargs):
    """`loader.from_pretrained(name, **kwargs)`, turning any failure into ModelUnavailableError."""
    try:
        return loader.from_pretrained(name, **kwargs)
    except EsmrError:
        raise
    except Exception as exc:  # OSError (offline / missing), ValueError (bad config), ImportError, ...
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailableError(
            f"could not load {what} '{name}' from the Hugging Face Hub (offline?): {detail}. "
            "Pass a local folder saved with save_pretrained, or go online.") from None


def _torch():
    import torch
    return torch


class HubAudioEncoder(AudioEncoder):
    """Common part of the speech and music hub encoders: feature extractor now, model on first use."""

    version = "1"
    min_seconds = 0.1

    def __init__(self, name_or_path: str, *, local_files_only: bool = False) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoFeatureExtractor

        self.source = str(name_or_path)
        self.name = f"hub:{self.source}"
        self._kw = {"local_files_only": local_files_only}
        self.config = load_pretrained(AutoConfig, self.source, "the model config", **self._kw)
        self.feature_extractor = load_pretrained(AutoFeatureExtractor, self.source, "the feature extractor",
                                                 **self._kw)
        self.sample_rate = int(self.feature_extractor.sampling_rate)
        self._model = None

    def _features(self, y: np.ndarray) -> dict:
        return dict(self.feature_extractor(y, sampling_rate=self.sample_rate, return_tensors="pt"))


class HubSpeechEncoder(HubAudioEncoder):
    """wav2vec2 / HuBERT / WavLM: (T,) at 16 kHz -> (hidden_size,) mean-pooled last hidden state."""

    modality = "speech"

    def __init__(self, name_or_path: str = DEFAULT_SPEECH, **kwargs) -> None:
        super().__init__(name_or_path, **kwargs)
        self.dim = int(self.config.hidden_size)

    def _load(self) -> None:
        from transformers import AutoModel
        self._model = load_pretrained(AutoModel, self.source, "the speech model", **self._kw).eval()

    def _encode(self, y: np.ndarray) -> np.ndarray:
        with _torch().inference_mode():
            hidden = self._model(**self._features(y)).last_hidden_state      # (1, frames, hidden)
        return hidden[0].mean(dim=0).float().numpy()


class HubMusicEncoder(HubAudioEncoder):
    """CLAP audio tower (audio_embeds) or AST (pooler_output); windows of the model's length are averaged."""

    modality = "music"

    def __init__(self, name_or_path: str = DEFAULT_MUSIC, **kwargs) -> None:
        super().__init__(name_or_path, **kwargs)
        self.kind = "clap" if self.config.model_type == "clap" else "ast"
        if self.kind == "clap":
            self.dim = int(self.config.projection_dim)
            self.window = int(self.feature_extractor.nb_max_samples)
        else:
            self.dim = int(self.config.hidden_size)
            fe = self.feature_extractor   # max_length frames of 10 ms
            self.window = int(fe.max_length * self.sample_rate // 100)

    def _load(self) -> None:
        if self.kind == "clap":
            from transformers import ClapAudioModelWithProjection as Model
        else:
            from transformers import ASTModel as Model
        self._model = load_pretrained(Model, self.source, f"the {self.kind.upper()} model", **self._kw).eval()

    def _features(self, y: np.ndarray) -> dict:
        if self.kind == "clap":
            fusion = bool(getattr(self.config.audio_config, "enable_fusion", False))
            return dict(self.feature_extractor(y, sampling_rate=self.sample_rate, return_tensors="pt",
                                               truncation="fusion" if fusion else "rand_trunc"))
        return super()._features(y)

    def _encode(self, y: np.ndarray) -> np.ndarray:
        starts = range(0, max(len(y) - self.window // 4, 1), self.window)    # drop a last sliver < 1/4 window
        outs = []
        with _torch().inference_mode():
            for s in starts:
                out = self._model(**self._features(y[s:s + self.window]))
                if self.kind == "clap":   # CLAP compares unit vectors (as ClapModel.get_audio_features)
                    emb = _torch().nn.functional.normalize(out.audio_embeds, dim=-1)   # (1, dim)
                else:
                    emb = out.pooler_output                                            # (1, dim)
                outs.append(emb[0].float().numpy())
        mean = np.mean(outs, axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12) if self.kind == "clap" else mean


class HubTextEncoder(TextEncoder):
    """BERT family: N texts -> (N, hidden_size), CLS (default) or attention-masked mean pooling."""

    version = "1"

    def __init__(self, name_or_path: str = DEFAULT_TEXT, *, pooling: str = "cls", normalize: bool = False,
                 max_length: int = 512, local_files_only: bool = False) -> None:
        super().__init__()
        from transformers import AutoConfig

        if pooling not in ("cls", "mean"):
            raise EsmrError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        self.source, self.pooling, self.normalize, self.max_length = str(name_or_path), pooling, normalize, max_length
        self.name = f"hub:{self.source}" + ("@mean" if pooling == "mean" else "")
        self._kw = {"local_files_only": local_files_only}
        self.config = load_pretrained(AutoConfig, self.source, "the model config", **self._kw)
        self.dim = int(self.config.hidden_size)
        self._run_lock = threading.Lock()   # fast tokenizers are not safe to call from two threads at once

    def _load(self) -> None:
        from transformers import AutoModel, AutoTokenizer
        self.tokenizer = load_pretrained(AutoTokenizer, self.source, "the tokenizer", **self._kw)
        self._model = load_pretrained(AutoModel, self.source, "the text model", **self._kw).eval()

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        torch = _torch()
        with self._run_lock, torch.inference_mode():
            batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                   return_tensors="pt")
            hidden = self._model(**batch).last_hidden_state                   # (N, tokens, hidden)
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)     # (N, tokens, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        if self.normalize:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.float().numpy()


def build_hub_encoder(spec: str, *, local_files_only: bool = False):
    """"<name or folder>[@mean]" -> the right hub encoder for the checkpoint's model_type."""
    from transformers import AutoConfig

    source, _, option = spec.partition("@")
    if option and option not in ("mean", "cls"):
        raise EsmrError(f"unknown hub encoder option '@{option}' in '{spec}' (use '@mean' or '@cls')")
    config = load_pretrained(AutoConfig, source, "the model config", local_files_only=local_files_only)
    if config.model_type in SPEECH_TYPES:
        return HubSpeechEncoder(source, local_files_only=local_files_only)
    if config.model_type in MUSIC_TYPES:
        return HubMusicEncoder(source, local_files_only=local_files_only)
    return HubTextEncoder(source, pooling=option or "cls", local_files_only=local_files_only)
