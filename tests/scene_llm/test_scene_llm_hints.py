"""Question hints: scores and hint lines against hand-computed cases, the text the LLM reads when
asking and when training, and the run-folder rules (config, the features' text tower)."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
import torch
from fixed_text import fixed_text_tower

from lerf3d.scene_llm.data.dataset import load_split
from lerf3d.scene_llm.model.hints import HINT_PREFIX, QuestionHints, hint_text, hinted_question, match_scores
from lerf3d.scene_llm.tokens.scenes import TokenStore
from lerf3d.scene_llm.train.config import SceneLLMConfig, preset
from lerf3d.scene_llm.train.loop import _make_batch, build_scene_llm, train_scene_llm, train_stage
from lerf3d.scene_llm.use.load import load_scene_llm, run_text_tower

TINY = preset("tiny")


def test_scores_are_cosines_of_unnormalised_vectors():
    language = torch.tensor([[3.0, 0.0], [1.0, 1.0], [0.0, -2.0]])
    scores = match_scores(language, torch.tensor([2.0, 0.0]))
    assert scores.tolist() == pytest.approx([1.0, 1 / math.sqrt(2), 0.0])
    with pytest.raises(ValueError, match="text tower"):
        match_scores(language, torch.ones(3))


def test_the_hint_names_the_best_tokens_best_first_in_hundredths():
    scores = torch.tensor([0.1, 0.5, -0.2, 0.3])
    assert hint_text(scores, 2) == "Matches: <obj1> 50, <obj3> 30"
    assert hint_text(scores, 9) == "Matches: <obj1> 50, <obj3> 30, <obj0> 10, <obj2> 0"  # below 0 reads 0
    assert hint_text(torch.tensor([0.999]), 1) == "Matches: <obj0> 99"  # two digits at most
    assert hint_text(torch.zeros(0), 3) == f"{HINT_PREFIX} none"
    assert hint_text(scores, 3, digits=0) == "Matches: <obj1>, <obj3>, <obj0>"
    assert hint_text(scores, 3, digits=1) == "Matches: <obj1> 5, <obj3> 3, <obj0> 1"
    assert hint_text(torch.tensor([0.97, 0.04]), 2, digits=1) == "Matches: <obj0> 9, <obj1> 0"  # one digit at most
    with pytest.raises(ValueError, match="digits"):
        hint_text(scores, 3, digits=3)
    assert hinted_question("How many chairs?", "Matches: <obj1> 50") == "How many chairs?\nMatches: <obj1> 50"
    with pytest.raises(ValueError, match="at least one"):
        hint_text(scores, 0)


def test_hints_rank_the_token_whose_feature_is_the_questions_embedding_first_and_cache_it():
    dim, calls = 6, []
    tower = fixed_text_tower(dim)

    def counting(texts):
        calls.append(list(texts))
        return tower(texts)

    question = "Is there a lamp?"
    features = torch.nn.functional.normalize(torch.randn(4, dim, generator=torch.Generator().manual_seed(1)), dim=1)
    features[2] = tower([question])[0] * 3.0
    inputs = torch.cat([features, torch.randn(4, 5)], dim=1)  # language first, then positions etc.
    hints = QuestionHints(counting, dim, count=2)
    first = hints([question], [inputs])[0]
    assert first.startswith(f"{question}\n{HINT_PREFIX} <obj2> 99, ")
    assert hints([question, question], [inputs, inputs]) == [first, first]
    assert calls == [[question]]  # embedded once, then read from the cache
    with pytest.raises(ValueError, match="one token set per question"):
        hints([question, question], [inputs])
    with pytest.raises(ValueError, match="digits"):
        QuestionHints(counting, dim, count=2, digits=3)


def test_config_needs_identifiers_and_a_count_of_zero_or_more():
    with pytest.raises(ValueError, match="identifiers"):
        SceneLLMConfig(question_hints=3, identifiers=False)
    with pytest.raises(ValueError, match="question_hints"):
        SceneLLMConfig(question_hints=-1, identifiers=True)
    assert SceneLLMConfig(question_hints=3, identifiers=True).layout_options["question_hints"] == 3


def _models(dataset, count):
    cfg = dataclasses.replace(TINY, identifiers=True, question_hints=count)
    store = TokenStore.from_dataset(dataset, ["syn_0", "syn_1"], cfg.tokens)
    dim = store.scenes["syn_0"].points.feature_dim
    hinted = build_scene_llm(cfg, dim)
    plain = build_scene_llm(dataclasses.replace(cfg, question_hints=0), dim)
    hinted.use_text_tower(fixed_text_tower(dim))
    return hinted, plain, store, cfg


def test_asking_reads_the_question_with_its_hint(synthetic_dataset):
    """The prompt a hinted model builds is the plain model's prompt of the hinted question (same
    seed, same weights): hints change the text only, and a model without its text tower refuses."""
    hinted, plain, store, cfg = _models(synthetic_dataset, 3)
    tokens, question = store.scene("syn_0"), "Question 0 about scene 0?"
    hint = hinted.prompt_questions([question], [hinted.scene_inputs(tokens)])[0]
    assert hint.startswith(f"{question}\n{HINT_PREFIX} <obj") and hint.count("<obj") == 3
    assert torch.equal(hinted.prefill([tokens], [question]).inputs_embeds,
                       plain.prefill([tokens], [hint]).inputs_embeds)
    assert plain.prompt_questions([question], [plain.scene_inputs(tokens)]) == [question]
    assert hinted.hint_lines([question], [hinted.scene_inputs(tokens)]) == [hint.split("\n", 1)[1]]
    assert plain.hint_lines([question], [plain.scene_inputs(tokens)]) is None
    bare = build_scene_llm(cfg, store.scenes["syn_0"].points.feature_dim)
    with pytest.raises(ValueError, match="text tower"):
        bare.prefill([tokens], [question])


def test_models_with_fewer_score_digits_name_the_same_candidates(synthetic_dataset):
    hinted, _, store, cfg = _models(synthetic_dataset, 3)
    tokens, question = store.scene("syn_0"), "Question 0 about scene 0?"
    (scored,) = hinted.hint_lines([question], [hinted.scene_inputs(tokens)])
    candidates = re.findall(r"<obj\d+>", scored)
    hundredths = [int(s) for s in re.findall(r"> (\d+)", scored)]
    assert len(candidates) == 3 == len(hundredths)
    lines = {}
    for digits in (1, 0):
        model = build_scene_llm(dataclasses.replace(cfg, hint_score_digits=digits), store.scenes["syn_0"].points.feature_dim)
        model.use_text_tower(fixed_text_tower(store.scenes["syn_0"].points.feature_dim))
        (lines[digits],) = model.hint_lines([question], [model.scene_inputs(tokens)])
    assert lines[0] == f"{HINT_PREFIX} {', '.join(candidates)}"
    assert re.findall(r"<obj\d+>", lines[1]) == candidates
    tenths = [int(s) for s in re.findall(r"> (\d+)", lines[1])]
    assert all(abs(t * 10 - h) <= 5 for t, h in zip(tenths, hundredths, strict=True))
    with pytest.raises(ValueError, match="hint_score_digits"):
        dataclasses.replace(cfg, hint_score_digits=3)


def test_training_sequences_carry_every_turns_hint_and_a_step_trains(synthetic_dataset, tmp_path):
    hinted, _, store, cfg = _models(synthetic_dataset, 2)
    records = load_split(synthetic_dataset, 2, "train")
    chat = [r for r in records if r.scene == "syn_1"][:2]
    batch = _make_batch(hinted, [chat], store, 256, "cpu")
    text = hinted.tokenizer.decode(batch.input_ids[0])
    for record in chat:
        hint = hinted.prompt_questions([record.question], [hinted.scene_inputs(store.scene("syn_1"))])[0]
        assert hint in text
    result = train_stage(hinted, 2, dataclasses.replace(cfg.stage2, steps=2), records, store, tmp_path / "run", 0,
                         progress=False)
    assert all(math.isfinite(h["loss"]) for h in result.history)


def test_a_run_needs_a_record_of_its_features_encoder(synthetic_dataset, tmp_path):
    cfg = dataclasses.replace(TINY, identifiers=True, question_hints=2)
    with pytest.raises(ValueError, match="no record of the features' encoder"):
        train_scene_llm(cfg, synthetic_dataset, tmp_path / "run", progress=False)
    train_scene_llm(TINY, synthetic_dataset, tmp_path / "plain", progress=False)
    saved = json.loads((tmp_path / "plain" / "config.json").read_text())
    (tmp_path / "plain" / "config.json").write_text(json.dumps({**saved, "identifiers": True, "question_hints": 2}))
    with pytest.raises(ValueError, match="features.json"):
        load_scene_llm(tmp_path / "plain")


def test_the_text_tower_comes_from_the_runs_feature_record(tmp_path):
    """A run folder whose record names the embedded encoder gets that encoder's text tower (MiniLM:
    384 values per question, unit length)."""
    settings = {"encoder": "lerf3d:tiny", "world_scale": 0.5}
    (tmp_path / "features.json").write_text(json.dumps({"settings": settings, "source": "backproject:x"}))
    encode = run_text_tower(tmp_path)
    out = encode(["How many chairs are in the room?", "Is there a lamp?"])
    assert out.shape == (2, 384)
    assert torch.linalg.vector_norm(out.float(), dim=1).tolist() == pytest.approx([1.0, 1.0], abs=1e-3)
