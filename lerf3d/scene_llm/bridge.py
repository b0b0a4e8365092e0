"""A linear bridge from the image-text encoder's space to the LLM's word embeddings, fitted on text.

The language features of scene tokens live in the text tower's space (CLIP's, or MiniLM's for the
embedded towers: LiT aligns images to a frozen text tower). Both that tower and the LLM embed words,
so the map between the two spaces can be fitted on words alone, before any scene is seen: ridge
regression from the text tower's embedding of each word to the LLM's input embedding of it. A
projector that starts as this map hands the LLM a token near the embedding of "chair" for a chair's
feature, so training starts from tokens the LLM already reads as words, instead of from noise. The
same idea as initialising a vision-language projector from paired text (our choice; LLaVA starts
its projector from random weights and needs ~600k captions to align it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float

WORD_MARKERS = ("\u0120", "\u2581")
"""Start-of-word markers of byte-level BPE (GPT-2, Llama-3, SmolLM2: "Ġ") and SentencePiece ("▁")."""


@dataclass(frozen=True)
class BridgeConfig:
    """Whether and how to fit the bridge (stage 1 then trains it with the rest of the projector)."""

    enabled: bool = False
    """Add the bridge to the projector and fit it on words; off: the plain LLaVA projector."""
    num_words: int = 4000
    """Whole-word tokens of the LLM's vocabulary used for the fit, in vocabulary order (BPE merges
    come roughly in frequency order, so these are the common words); ten times the 384 dimensions of
    MiniLM, and a MiniLM pass over them is seconds on a CPU."""
    ridge: float = 0.1
    """Ridge penalty relative to the mean eigenvalue of the text features' Gram matrix."""

    def __post_init__(self) -> None:
        if self.num_words < 16 or not self.ridge > 0:
            raise ValueError(f"a bridge needs num_words >= 16 and ridge > 0: {self}")


def vocabulary_words(tokenizer, limit: int, min_length: int = 3) -> list[str]:
    """Up to ``limit`` lower-case alphabetic whole-word tokens of ``tokenizer``, in id order."""
    words = []
    for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1]):
        if (
            token[:1] in WORD_MARKERS
            and token[1:].isalpha()
            and token[1:].islower()
            and len(token) > min_length
        ):
            words.append(token[1:])
            if len(words) == limit:
                break
    return words


def word_embeddings(tokenizer, embedding: torch.nn.Embedding, words: list[str]) -> Float[torch.Tensor, "N H"]:
    """The LLM's input embedding of each word as it appears mid-sentence (" word"), averaged over
    its tokens when it splits."""
    rows = []
    weight = embedding.weight.detach().float()
    for word in words:
        ids = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
        rows.append(weight[torch.tensor(ids, device=weight.device)].mean(0))
    return torch.stack(rows)


def fit_bridge(
    text: Float[torch.Tensor, "N F"], target: Float[torch.Tensor, "N H"], ridge: float
) -> tuple[Float[torch.Tensor, "F H"], Float[torch.Tensor, " H"]]:
    """(W, b) minimising ||(text - mean) W + b - target||^2 + lambda ||W||^2, lambda = ``ridge`` x the
    mean eigenvalue of the centred Gram matrix: a least-squares affine map from one space to the other."""
    text, target = text.double(), target.double()
    text_mean, target_mean = text.mean(0), target.mean(0)
    x, y = text - text_mean, target - target_mean  # (N, F), (N, H)
    gram = x.T @ x  # (F, F)
    penalty = ridge * gram.trace() / gram.shape[0]
    weight = torch.linalg.solve(
        gram + penalty * torch.eye(gram.shape[0], dtype=gram.dtype), x.T @ y
    )  # (F, H)
    bias = target_mean - text_mean @ weight
    return weight.float(), bias.float()


def text_bridge(
    encode_text, tokenizer, embedding: torch.nn.Embedding, cfg: BridgeConfig, batch_size: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit the bridge for a text tower (``encode_text(list[str]) -> (P, F)``) and an LLM's tokenizer
    and input embedding."""
    words = vocabulary_words(tokenizer, cfg.num_words)
    if len(words) < 16:
        raise ValueError(f"the tokenizer has only {len(words)} whole-word tokens: too few to fit a bridge")
    with torch.no_grad():
        text = torch.cat(
            [encode_text(words[i : i + batch_size]).float().cpu() for i in range(0, len(words), batch_size)]
        )
        target = word_embeddings(tokenizer, embedding, words).cpu()
    return fit_bridge(text, target, cfg.ridge)
