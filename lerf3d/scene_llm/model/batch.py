"""Tokenised training examples and their collation into a :class:`SceneBatch`.

An example is prompt tokens (``<scene>`` + question, loss-free) followed by answer tokens (the
only positions with labels), or several such turns about one scene (a conversation). Scene tokens
travel beside the text as projector *inputs*; the projector runs inside the model so its gradient
flows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int

from lerf3d.scene_llm.model.llm import conversation_text
from lerf3d.scene_llm.model.splice import IGNORE_INDEX, pad_scene_tokens


@dataclass(frozen=True, eq=False)
class Example:
    """One tokenised question with its answer."""

    input_ids: list[int]
    """Prompt then answer token ids."""
    labels: list[int]
    """IGNORE_INDEX on the prompt, the token ids on the answer."""
    scene_inputs: Float[torch.Tensor, "T d_in"]
    """Projector input of this example's scene (or frame) tokens."""


@dataclass(frozen=True, eq=False)
class SceneBatch:
    """A right-padded batch (what ``SceneLLM.forward`` takes)."""

    input_ids: Int[torch.Tensor, "B L"]
    """Token ids, pad id after each sequence."""
    attention_mask: Int[torch.Tensor, "B L"]
    """1 on real tokens."""
    labels: Int[torch.Tensor, "B L"]
    """Targets; IGNORE_INDEX on prompts and padding."""
    scene_inputs: Float[torch.Tensor, "B T d_in"]
    """Projector inputs, zero-padded to the batch's largest token count."""
    scene_mask: Bool[torch.Tensor, "B T"]
    """True on each sample's real scene tokens."""

    def to(self, device: torch.device | str) -> SceneBatch:
        return SceneBatch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.labels,
                                                    self.scene_inputs, self.scene_mask)))

    @property
    def num_label_tokens(self) -> int:
        """Positions that carry a loss (the causal shift drops each row's first label)."""
        return int((self.labels[:, 1:] != IGNORE_INDEX).sum())


def encode_example(
    tokenizer, question: str, answer: str, scene_inputs: torch.Tensor, max_length: int
) -> Example:
    """Tokenise prompt and answer separately (the same prompt tokens generation will see) and label
    only the answer; ValueError when longer than ``max_length`` text tokens."""
    return encode_conversation(tokenizer, [(question, answer)], scene_inputs, max_length)


def encode_conversation(
    tokenizer, turns: Sequence[tuple[str, str]], scene_inputs: torch.Tensor, max_length: int
) -> Example:
    """Several questions about one scene in one sequence (:func:`conversation_text`), the scene
    spliced once before the first: every answer is labelled, every prompt is not. Turns that would
    take the text past ``max_length`` tokens are left out; ValueError when the first one does."""
    ids: list[int] = []
    labels: list[int] = []
    for k, (prompt, answer) in enumerate(conversation_text(tokenizer, turns)):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        if len(ids) + len(prompt_ids) + len(answer_ids) > max_length:
            if k == 0:
                raise ValueError(f"example of {len(prompt_ids) + len(answer_ids)} tokens exceeds "
                                 f"max_length={max_length}: {turns[0][0]!r}")
            break
        ids += prompt_ids + answer_ids
        labels += [IGNORE_INDEX] * len(prompt_ids) + answer_ids
    return Example(ids, labels, scene_inputs)


def collate(examples: Sequence[Example], pad_id: int) -> SceneBatch:
    """Right-pad text and scene tokens into one batch."""
    if not examples:
        raise ValueError("collate needs at least one example")
    length = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    labels = torch.full_like(ids, IGNORE_INDEX)
    mask = torch.zeros_like(ids)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        mask[row, :n] = 1
    scene, scene_mask = pad_scene_tokens([e.scene_inputs for e in examples])
    return SceneBatch(ids, mask, labels, scene, scene_mask)
