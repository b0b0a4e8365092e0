"""A helper of the splice tests: one example spliced, and the LLM's embeddings of any text."""

from __future__ import annotations


def splice_one(model, tokens, question: str, answer: str):
    """``model``'s splice of one example about ``tokens``, and a function giving the LLM's input
    embeddings of any text (to write the expected scene block by hand)."""
    import torch

    from lerf3d.scene_llm.model.batch import collate, encode_example

    example = encode_example(model.tokenizer, question, answer, model.scene_inputs(tokens), 256)
    batch = collate([example], model.tokenizer.pad_token_id)
    spliced = model.splice(batch.input_ids, batch.attention_mask, batch.scene_inputs, batch.scene_mask,
                           batch.labels, "right")
    embed = model.llm.get_input_embeddings()

    def text(s: str) -> torch.Tensor:
        return embed(torch.tensor(model.tokenizer(s, add_special_tokens=False)["input_ids"]))

    return spliced, text


def assert_scene_block(spliced, block) -> None:
    """The first row's scene block is exactly ``block`` (written by hand), with no label on it."""
    import torch

    from lerf3d.scene_llm.model.splice import IGNORE_INDEX

    start = int(spliced.scene_start[0])
    assert int(spliced.scene_length[0]) == len(block)
    torch.testing.assert_close(spliced.inputs_embeds[0, start:start + len(block)], block)
    assert (spliced.labels[0, start:start + len(block)] == IGNORE_INDEX).all()
