"""Listing questions ("list every chair") answered from the tokens' own names: answers written by
hand, the drawn absent names, the records a model's label bridge gives, and a step that trains on them."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from fixed_text import fixed_text_tower

from lerf3d.scene_llm.data.dataset import load_split
from lerf3d.scene_llm.data.language import normalise_answer, split_grounding
from lerf3d.scene_llm.data.questions import LISTING_TYPE
from lerf3d.scene_llm.model.bridge import BridgeConfig, bridge_labels
from lerf3d.scene_llm.tokens.scenes import TokenStore
from lerf3d.scene_llm.train.config import SceneLLMConfig, preset
from lerf3d.scene_llm.train.listing import (
    ABSENT_PER_PRESENT,
    LISTING_PHRASES,
    listing_answer,
    listing_records,
    training_listing_records,
)
from lerf3d.scene_llm.train.loop import build_scene_llm, train_stage

LABELS = ["armchair", "bed", "chair", "desk", "lamp", "oven", "piano", "sofa"]


def test_the_answer_lists_the_named_tokens_in_order_then_counts_them():
    names = ["chair", "desk", "chair", "lamp", "chair"]
    assert listing_answer(names, "chair") == "<obj0>, <obj2>, <obj4>: 3"
    assert listing_answer(names, "desk") == "<obj1>: 1"
    assert listing_answer(names, "piano") == "none: 0"
    # the one normaliser reads the count, as it reads a grounded count's
    assert normalise_answer(listing_answer(names, "chair")) == "3"
    assert split_grounding(listing_answer(names, "chair"))[0] == "<obj0>, <obj2>, <obj4>"


def test_every_present_name_is_asked_once_and_half_as_many_absent_ones():
    names = ["chair", "desk", "chair", "lamp", "chair"]
    records = listing_records("room_3", names, LABELS, seed=0)
    asked = {r.question: r.answer for r in records}
    present = [r for r in records if not r.answer.startswith("none")]
    absent = [r for r in records if r.answer.startswith("none")]
    assert len(present) == 3 and len(absent) == math.ceil(ABSENT_PER_PRESENT * 3) == 2
    assert all(r.type == LISTING_TYPE and r.scene == "room_3" and r.frame is None for r in records)
    by_label = {label: answer for question, answer in asked.items() for label in LABELS
                if f" {label} " in f" {question[:-1]} "}
    assert by_label["chair"] == "<obj0>, <obj2>, <obj4>: 3" and by_label["desk"] == "<obj1>: 1"
    assert by_label["lamp"] == "<obj3>: 1"
    assert {label for label, answer in by_label.items() if answer == "none: 0"} <= {"armchair", "bed", "oven",
                                                                                     "piano", "sofa"}
    assert len(by_label) == 5
    templates = {p.split("{label}")[0] for p in LISTING_PHRASES}
    assert all(any(r.question.startswith(t) for t in templates) for r in records)


def test_records_depend_on_the_room_and_seed_only():
    names = ["chair", "desk"]
    assert listing_records("room_3", names, LABELS, 0) == listing_records("room_3", names, LABELS, 0)
    draws = {tuple(r.question for r in listing_records(f"room_{k}", names, LABELS, 0)) for k in range(12)}
    assert len(draws) > 1  # phrasings and absent names vary from room to room


def test_all_labels_present_leaves_no_absent_name_and_unknown_names_are_refused():
    records = listing_records("r", ["chair", "desk"], ["chair", "desk"], 0)
    assert sorted(r.answer for r in records) == ["<obj0>: 1", "<obj1>: 1"]
    assert listing_records("r", [], LABELS, 0) == []  # a room with no tokens asks nothing
    with pytest.raises(ValueError, match="r: token names \\['stool'\\]"):
        listing_records("r", ["stool"], LABELS, 0)


def test_the_option_needs_grounded_answers_and_a_label_bridge():
    labels = BridgeConfig(enabled=True, kind="labels")
    with pytest.raises(ValueError, match="listing_questions"):
        SceneLLMConfig(listing_questions=True, bridge=labels)  # answers not grounded
    with pytest.raises(ValueError, match="listing_questions"):
        SceneLLMConfig(listing_questions=True, identifiers=True, grounded_answers=True)  # no bridge
    assert SceneLLMConfig(listing_questions=True, identifiers=True, grounded_answers=True, bridge=labels).listing_questions


def test_a_models_bridge_names_give_the_records_and_a_step_trains_on_them(synthetic_dataset, tmp_path):
    """The records follow the label bridge's nearest label of each token's feature, and a stage-2
    step over the dataset's records plus these trains (finite loss, the projector moves)."""
    tiny = preset("tiny")
    bridge = BridgeConfig(enabled=True, kind="labels", slots=2, extra_labels=("floor", "wall"))
    cfg = dataclasses.replace(tiny, identifiers=True, grounded_answers=True, listing_questions=True, bridge=bridge)
    store = TokenStore.from_dataset(synthetic_dataset, ["syn_0", "syn_1"], cfg.tokens)
    dim = store.scenes["syn_0"].points.feature_dim
    vocabulary = ["chair", "lamp"]
    model = build_scene_llm(cfg, dim, encode_text=fixed_text_tower(dim), vocabulary=vocabulary)
    labels = bridge_labels(vocabulary, bridge)
    records = training_listing_records(model, store, ["syn_1", "syn_0"], labels, seed=0)
    for scene in ("syn_0", "syn_1"):
        tokens = store.scene(scene)
        nearest = model.projector.bridge.nearest(model.scene_inputs(tokens)[:, :dim]).tolist()
        assert [r for r in records if r.scene == scene] == listing_records(scene, [labels[i] for i in nearest],
                                                                            labels, 0)
    assert {r.scene for r in records} == {"syn_0", "syn_1"}
    train = [*load_split(synthetic_dataset, 2, "train"), *records]
    before = {n: p.detach().clone() for n, p in model.projector.named_parameters()}
    result = train_stage(model, 2, dataclasses.replace(cfg.stage2, steps=2), train, store, tmp_path / "run", 0,
                         progress=False)
    assert all(math.isfinite(h["loss"]) for h in result.history)
    assert any(not torch.equal(p, before[n]) for n, p in model.projector.named_parameters())


def test_a_model_without_a_label_bridge_has_no_names(synthetic_dataset):
    tiny = preset("tiny")
    store = TokenStore.from_dataset(synthetic_dataset, ["syn_0"], tiny.tokens)
    model = build_scene_llm(tiny, store.scenes["syn_0"].points.feature_dim)
    with pytest.raises(ValueError, match="label bridge"):
        model.name_indices(model.scene_inputs(store.scene("syn_0")))
