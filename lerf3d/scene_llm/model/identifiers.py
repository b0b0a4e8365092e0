"""Identifier tokens: ``<obj0>`` ... ``<obj{N-1}>`` as N learned tokens of the LLM (Chat-Scene).

Spelled as text, ``<obj12>`` is five SmolLM2 tokens ("<", "obj", "1", "2", ">"), and a scene block
writes an identifier before every scene token and again in every link, so the spelling fills a large
share of a scene's positions and an answer copies an identifier digit by digit. With
``SceneLLMConfig.identifier_tokens`` = N, :func:`add_identifier_tokens` makes each of the first N
identifiers one token that the tokenizer finds in any text (the scene layout, answers, hints), with
its own learned input embedding and output row (answers name objects). A row starts as the mean of
the embeddings of the identifier's spelling, so training begins from what the text meant.

The LLM's own weights stay as they are (as for the ``<scene>`` placeholder): :class:`IdentifierEmbedding`
and :class:`IdentifierHead` wrap its input embedding and output layer and look the new ids up in the
new rows. A model with tied input and output embeddings (SmolLM2, Llama 3.2) shares one row table
for both; one with separate ones gets a second table. Identifiers past N stay spelled as text.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import nn

from lerf3d.scene_llm.model.llm import LoadedLLM
from lerf3d.scene_llm.model.splice import identifier_text
from lerf3d.torch_files import load_torch_file

IDENTIFIERS_NAME = "identifiers.pt"
"""File of a stage's learned identifier rows, beside its ``projector.pt``."""


class IdentifierEmbedding(nn.Module):
    """The LLM's input embedding with ids from ``first_id`` on read from ``rows``."""

    def __init__(self, base: nn.Embedding, first_id: int, rows: Float[torch.Tensor, "N H"]) -> None:
        super().__init__()
        self.base = base
        self.first_id = first_id
        self.rows = nn.Parameter(rows)

    @property
    def weight(self) -> torch.Tensor:
        """The base vocabulary's table (what callers read device, dtype and word embeddings from)."""
        return self.base.weight

    @property
    def embedding_dim(self) -> int:
        return self.base.embedding_dim

    def forward(self, ids: Int[torch.Tensor, "*B"]) -> Float[torch.Tensor, "*B H"]:
        new = ids >= self.first_id  # no host sync on whether any is: a gather of N rows costs nothing
        out = self.base(torch.where(new, 0, ids))
        rows = self.rows[(ids - self.first_id).clamp(0, self.rows.shape[0] - 1)]
        return torch.where(new[..., None], rows.to(out.dtype), out)


class IdentifierHead(nn.Module):
    """The LLM's output layer with one more logit per identifier; ids between the base vocabulary
    and ``first_id`` (the ``<scene>`` placeholder and other added tokens) are never predicted."""

    def __init__(self, base: nn.Module, first_id: int, rows: nn.Parameter) -> None:
        super().__init__()
        self.base = base
        self.first_id = first_id
        self.rows = rows

    @property
    def weight(self) -> torch.Tensor:
        """The base vocabulary's output table."""
        return self.base.weight

    def forward(self, hidden: Float[torch.Tensor, "*B H"]) -> Float[torch.Tensor, "*B V"]:
        logits = self.base(hidden)
        gap = logits.new_full((*logits.shape[:-1], self.first_id - logits.shape[-1]), float("-inf"))
        extra = F.linear(hidden, self.rows.to(hidden.dtype))
        return torch.cat([logits, gap, extra.to(logits.dtype)], dim=-1)


def add_identifier_tokens(loaded: LoadedLLM, count: int) -> None:
    """Make ``<obj0>`` ... ``<obj{count-1}>`` single tokens of ``loaded``'s tokenizer with learned
    rows (in place). ValueError when the model already has them or the tokenizer knows the names."""
    model, tokenizer = loaded.model, loaded.tokenizer
    embed, head = model.get_input_embeddings(), model.get_output_embeddings()
    if isinstance(embed, IdentifierEmbedding):
        raise ValueError(f"{loaded.name} already has identifier tokens")
    names = [identifier_text(k) for k in range(count)]
    spelled = [tokenizer(name, add_special_tokens=False)["input_ids"] for name in names]
    tied = head.weight is embed.weight
    with torch.no_grad():
        inputs = torch.stack([embed.weight[ids].mean(0) for ids in spelled])
        outputs = inputs if tied else torch.stack([head.weight[ids].mean(0) for ids in spelled])
    if tokenizer.add_tokens(names) != count:  # plain added tokens: decoding keeps them in answers
        raise ValueError(f"{loaded.name}'s tokenizer already knows some of {names[0]} ... {names[-1]}")
    ids = tokenizer.convert_tokens_to_ids(names)
    first = ids[0]
    if ids != list(range(first, first + count)) or first < embed.weight.shape[0]:
        raise ValueError(f"{loaded.name}'s tokenizer gave the identifiers ids {ids[:3]}..., not new "
                         f"consecutive ids past its {embed.weight.shape[0]} embeddings")
    embedding = IdentifierEmbedding(embed, first, inputs.clone())
    rows = embedding.rows if tied else nn.Parameter(outputs.clone())
    model.set_input_embeddings(embedding)
    model.set_output_embeddings(IdentifierHead(head, first, rows))


def identifier_parameters(llm: nn.Module) -> list[nn.Parameter]:
    """The learned identifier rows of ``llm`` (input, then output when untied); empty without them."""
    embed, head = llm.get_input_embeddings(), llm.get_output_embeddings()
    if not isinstance(embed, IdentifierEmbedding):
        return []
    return [embed.rows] if head.rows is embed.rows else [embed.rows, head.rows]


def identifier_state(llm: nn.Module) -> dict[str, torch.Tensor]:
    """The rows to save (``input``, and ``output`` when untied); empty without identifier tokens."""
    params = identifier_parameters(llm)
    return {name: p.detach().cpu() for name, p in zip(("input", "output"), params)}


def load_identifier_rows(llm: nn.Module, path: Path) -> None:
    """Set ``llm``'s identifier rows from a file :func:`identifier_state` wrote; ValueError naming
    the file when its rows do not fit."""
    state = load_torch_file(path, "identifier rows", "cpu")
    params = identifier_parameters(llm)
    if not params:
        raise ValueError(f"{path}: the model has no identifier tokens to load rows into")
    for name, param in zip(("input", "output"), params):
        if name not in state or state[name].shape != param.shape:
            got = tuple(state[name].shape) if name in state else "none"
            raise ValueError(f"{path}: {name} identifier rows {got} do not fit the model's {tuple(param.shape)}")
        with torch.no_grad():
            param.copy_(state[name].to(param.dtype))
