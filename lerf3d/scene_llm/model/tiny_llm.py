"""A randomly initialised tiny Llama with a character tokenizer: the ``tiny-random`` LLM.

For tests and CI presets: it builds in milliseconds without any file, runs the same code paths as a
real Hugging Face causal LM (embedding table, chat-free prompts, generation), and two builds with
the same seed are identical, which the DDP equivalence test relies on.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import torch

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
"""Special tokens of the character tokenizer (ids 0, 1, 2)."""

CHARACTERS = string.printable
"""Every printable ASCII character, whitespace included: enough for generated questions."""


@dataclass(frozen=True)
class TinyLlamaConfig:
    """Shape of the tiny random Llama."""

    hidden_size: int = 48
    """Width of the residual stream."""
    num_layers: int = 2
    """Decoder blocks."""
    num_heads: int = 4
    """Attention heads (hidden_size must divide by it)."""
    num_kv_heads: int = 2
    """Key/value heads (grouped-query attention, like Llama-2-70B and SmolLM2)."""
    intermediate_size: int = 96
    """Width of the MLP."""
    max_positions: int = 1024
    """Longest sequence (scene tokens + text)."""
    seed: int = 0
    """Seed of the random weights."""

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must divide by num_heads {self.num_heads}, "
                             f"and num_heads by num_kv_heads {self.num_kv_heads}")
        if min(self.hidden_size, self.num_layers, self.intermediate_size, self.max_positions) < 1:
            raise ValueError("TinyLlamaConfig sizes must be >= 1")


def char_tokenizer():
    """A Hugging Face fast tokenizer with one token per character (unknown characters -> <unk>)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {PAD: 0, UNK: 1, EOS: 2}
    for char in CHARACTERS:
        vocab.setdefault(char, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()  # characters join without spaces
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=PAD, unk_token=UNK, eos_token=EOS)


def tiny_random_llama(vocab_size: int, cfg: TinyLlamaConfig = TinyLlamaConfig()):
    """A ``LlamaForCausalLM`` with random weights drawn from ``cfg.seed`` (tied embeddings, no dropout)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=2,
    )
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(cfg.seed)
        return LlamaForCausalLM(config)
    finally:
        torch.random.set_rng_state(state)  # building a model must not disturb the caller's stream
