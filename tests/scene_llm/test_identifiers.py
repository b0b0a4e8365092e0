"""Identifier tokens: <objK> as one learned token each, from the tokenizer to a shipped run."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lerf3d.scene_llm.model.identifiers import (
    IDENTIFIERS_NAME,
    add_identifier_tokens,
    identifier_parameters,
)
from lerf3d.scene_llm.model.llm import (
    TINY_RANDOM,
    LLMConfig,
    LoadedLLM,
    MissingLLMError,
    load_llm,
    smollm2_gguf_path,
)
from lerf3d.scene_llm.model.splice import identifier_text
from lerf3d.scene_llm.train.config import preset
from lerf3d.scene_llm.train.loop import train_scene_llm
from lerf3d.scene_llm.use.export import export_run
from lerf3d.scene_llm.use.load import load_scene_llm
from lerf3d.torch_files import load_torch_file

TINY = preset("tiny")


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_identifier_tokens_are_one_token_each_and_start_from_their_spelling():
    loaded = load_llm(LLMConfig(name=TINY_RANDOM))
    tokenizer, table = loaded.tokenizer, loaded.model.get_input_embeddings().weight.detach().clone()
    spelled = {k: _ids(tokenizer, identifier_text(k)) for k in range(4)}
    assert [len(ids) for ids in spelled.values()] == [6, 6, 6, 6]  # a character tokenizer: one per character
    add_identifier_tokens(loaded, 3)
    first = tokenizer.convert_tokens_to_ids("<obj0>")
    assert first > table.shape[0]  # past the table and past the <scene> placeholder
    ids = _ids(tokenizer, "<obj1> near <obj2>")
    assert ids == [first + 1, *_ids(tokenizer, " near "), first + 2]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<obj1> near <obj2>"  # answers keep them
    assert _ids(tokenizer, "<obj3>") == spelled[3]  # past N: spelled as before

    embeddings = loaded.model.get_input_embeddings()(torch.tensor([first + 1, ids[1]]))
    torch.testing.assert_close(embeddings[0], table[spelled[1]].mean(0))
    assert torch.equal(embeddings[1], table[ids[1]])

    hidden = torch.randn(2, table.shape[1])
    logits = loaded.model.get_output_embeddings()(hidden)
    assert logits.shape == (2, first + 3)
    torch.testing.assert_close(logits[:, : table.shape[0]], hidden @ table.T)  # tied: the input table
    assert torch.isneginf(logits[:, table.shape[0] : first]).all()  # the placeholder is never predicted
    torch.testing.assert_close(logits[:, first:], hidden @ table[torch.tensor([spelled[k] for k in range(3)])].mean(1).T)
    assert len(identifier_parameters(loaded.model)) == 1  # tied: one table for input and output
    with pytest.raises(ValueError, match="already has identifier tokens"):
        add_identifier_tokens(loaded, 3)


def test_an_untied_model_gets_its_own_output_rows_from_its_output_table():
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = load_llm(LLMConfig(name=TINY_RANDOM)).tokenizer
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                         tie_word_embeddings=False))
    head = model.get_output_embeddings().weight.detach().clone()
    spelled = _ids(tokenizer, "<obj1>")
    add_identifier_tokens(LoadedLLM(model, tokenizer, -1, "untied"), 2)
    rows_in, rows_out = identifier_parameters(model)
    torch.testing.assert_close(rows_out[1], head[spelled].mean(0))
    assert not torch.equal(rows_in, rows_out)
    first = tokenizer.convert_tokens_to_ids("<obj0>")
    out = model(input_ids=torch.tensor([[first, first + 1]])).logits
    assert out.shape[-1] == first + 2 and torch.isfinite(out[..., first:]).all()


def test_an_identifier_token_run_trains_its_rows_saves_loads_and_ships_them(synthetic_dataset, tmp_path):
    """Both stages train the rows (they move from their spelling's mean), each stage saves them, a
    loaded run and a shipped one read them back, and the loaded model's identifiers are one position
    each where the run without the option spells five."""
    cfg = dataclasses.replace(TINY, identifiers=True, identifier_tokens=8)
    run = tmp_path / "run"
    train_scene_llm(cfg, synthetic_dataset, run, progress=False)
    start = load_llm(LLMConfig(name=TINY_RANDOM))
    add_identifier_tokens(start, 8)
    initial = identifier_parameters(start.model)[0].detach()
    saved = {stage: load_torch_file(run / f"stage{stage}" / IDENTIFIERS_NAME, "rows")["input"] for stage in (1, 2)}
    assert not torch.allclose(saved[1], initial) and not torch.allclose(saved[2], saved[1])

    loaded = load_scene_llm(run)
    assert loaded.config == cfg
    torch.testing.assert_close(identifier_parameters(loaded.model.llm)[0].detach(), saved[2])
    assert [len(e) for e in loaded.model.identifier_embeddings(10)] == [1] * 8 + [6, 6]  # <obj8>, <obj9> spelled

    written = export_run(run, tmp_path / "ship", "# card\n")
    assert "identifiers.pt" in {p.name for p in written}
    shipped = load_scene_llm(tmp_path / "ship")
    torch.testing.assert_close(identifier_parameters(shipped.model.llm)[0].detach(), saved[2], atol=1e-2, rtol=1e-2)

    (run / "stage2" / IDENTIFIERS_NAME).unlink()
    with pytest.raises(FileNotFoundError, match="identifiers.pt"):
        load_scene_llm(run)


def test_identifier_tokens_need_identifiers():
    with pytest.raises(ValueError, match="identifier_tokens are the identifiers' own tokens: set identifiers = true"):
        dataclasses.replace(TINY, identifiers=False, identifier_tokens=4)
    with pytest.raises(ValueError, match="identifier_tokens must be >= 0"):
        dataclasses.replace(TINY, identifiers=True, identifier_tokens=-1)


@pytest.mark.slow
def test_smollm2_reads_and_writes_identifier_tokens_in_a_grounded_answer():
    """The packaged LLM's tokenizer (SmolLM2: "<obj12>" is 5 tokens) keeps each added identifier
    whole in a linked answer and decodes the answer unchanged."""
    try:
        path = smollm2_gguf_path()
    except MissingLLMError as err:
        pytest.skip(str(err))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
    answer = "<obj1> 3 6 near <obj12> desk: desk"
    before = _ids(tokenizer, answer)
    tokenizer.add_tokens([identifier_text(k) for k in range(24)])
    after = _ids(tokenizer, answer)
    assert len(before) == 17 and [tokenizer.decode([i]) for i in after] == [
        "<obj1>", " ", "3", " ", "6", " near", " ", "<obj12>", " desk", ":", " desk"]  # " <" was one token
    assert tokenizer.decode(after, skip_special_tokens=True) == answer
