"""Two-stage training with the tiny random Llama: what trains, resume, saved runs, and DDP."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fixed_text import fixed_text_tower

from lerf3d.scene_llm.data.dataset import load_split
from lerf3d.scene_llm.tokens.scenes import TokenStore
from lerf3d.scene_llm.train.config import preset
from lerf3d.scene_llm.train.loop import (
    build_scene_llm,
    train_scene_llm,
    train_stage,
)
from lerf3d.scene_llm.train.run_files import read_log
from lerf3d.scene_llm.use.load import load_scene_llm

REPO = Path(__file__).resolve().parents[2]
TINY = preset("tiny")


def _setup(dataset: Path):
    store = TokenStore.from_dataset(dataset, ["syn_0", "syn_1"], TINY.tokens)
    return build_scene_llm(TINY, store.scenes["syn_0"].points.feature_dim), store


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def test_projector_only_step_changes_only_the_projector(synthetic_dataset, tmp_path):
    model, store = _setup(synthetic_dataset)
    llm_before, projector_before = _snapshot(model.llm), _snapshot(model.projector)
    stage = dataclasses.replace(TINY.stage1, steps=1)
    records = load_split(synthetic_dataset, 1, "train")
    train_stage(model, 1, stage, records, store, tmp_path / "run", 0, progress=False)
    for name, value in _snapshot(model.llm).items():
        assert torch.equal(value, llm_before[name]), f"frozen LLM weight {name} changed"
    changed = [n for n, v in _snapshot(model.projector).items() if not torch.equal(v, projector_before[n])]
    assert sorted(changed) == sorted(projector_before)


def test_bfloat16_autocast_trains_in_float32_weights_with_the_same_first_loss(synthetic_dataset, tmp_path):
    """The same first step (same weights, same batch) in float32 and under bfloat16 autocast: the
    loss agrees to bfloat16's precision, and the weights and their updates stay float32."""
    records = load_split(synthetic_dataset, 2, "train")
    losses, dtypes = {}, {}
    for mode in ("off", "bfloat16"):
        torch.manual_seed(0)
        model, store = _setup(synthetic_dataset)
        stage = dataclasses.replace(TINY.stage2, steps=1, autocast=mode)
        result = train_stage(model, 2, stage, records, store, tmp_path / mode, 0, progress=False)
        losses[mode] = result.history[0]["loss"]
        dtypes[mode] = {p.dtype for p in model.parameters()}
    assert abs(losses["bfloat16"] - losses["off"]) < 0.02 * losses["off"], losses
    assert dtypes["bfloat16"] == dtypes["off"] == {torch.float32}
    with pytest.raises(ValueError, match="autocast"):
        dataclasses.replace(TINY.stage2, autocast="float16")


def test_lora_stage_trains_adapters_and_projector_only(synthetic_dataset, tmp_path):
    model, store = _setup(synthetic_dataset)
    base_before = _snapshot(model.llm)
    records = load_split(synthetic_dataset, 2, "train")
    train_stage(model, 2, dataclasses.replace(TINY.stage2, steps=1), records, store, tmp_path / "run", 0,
                progress=False)
    for name, value in model.llm.named_parameters():
        if "lora_" not in name:
            original = name.replace("base_model.model.", "", 1).replace(".base_layer", "")
            assert torch.equal(value, base_before[original]), f"base weight {name} changed"
    adapters = [p for n, p in model.llm.named_parameters() if "lora_B" in n]
    assert adapters and any(p.abs().sum() > 0 for p in adapters)  # B starts at zero: it moved
    assert (tmp_path / "run" / "stage2" / "lora.pt").stat().st_size < 200_000


def test_resume_continues_the_same_run(synthetic_dataset, tmp_path):
    full = train_scene_llm(TINY, synthetic_dataset, tmp_path / "full", progress=False)
    half_cfg = dataclasses.replace(TINY, stage1=dataclasses.replace(TINY.stage1, steps=2))
    train_scene_llm(half_cfg, synthetic_dataset, tmp_path / "split", stages=(1,), progress=False)
    resumed = train_scene_llm(TINY, synthetic_dataset, tmp_path / "split", progress=False)
    assert resumed[0].resumed_from == 2 and resumed[1].resumed_from == 0
    for a, b in zip(full, resumed):
        torch.testing.assert_close([h["loss"] for h in a.history], [h["loss"] for h in b.history])
    assert [row["step"] for row in read_log(tmp_path / "split" / "stage1" / "log.jsonl")] == [1, 2, 3, 4]
    again = train_scene_llm(TINY, synthetic_dataset, tmp_path / "split", progress=False)
    assert [r.resumed_from for r in again] == [4, 4]  # finished stages are not trained twice


def test_generation_from_a_saved_run(synthetic_dataset, tmp_path):
    trained = train_scene_llm(TINY, synthetic_dataset, tmp_path / "run", progress=False)
    assert len(trained) == 2
    run = load_scene_llm(tmp_path / "run")
    assert run.stage == 2 and run.config == TINY
    store = TokenStore.from_dataset(synthetic_dataset, ["syn_0", "syn_1"], run.config.tokens)
    tokens = [store.scene("syn_0"), store.scene("syn_1")]
    questions = ["Question 0 about scene 0?", "Question 1 about scene 1?"]
    batched = run.model.answer(tokens, questions, max_new_tokens=6)
    assert batched == [run.model.generate(t, q, max_new_tokens=6) for t, q in zip(tokens, questions)]
    stage1 = load_scene_llm(tmp_path / "run", stage=1)
    assert stage1.stage == 1
    assert isinstance(stage1.model.generate(store.frame("syn_0", "f0"), "Describe"), str)


def _run_train(args: list[str], nproc: int, cwd: Path) -> None:
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    launcher = launcher if nproc > 1 else []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, *launcher, "-m", "lerf3d_cli", "llm-train", *args, "--preset", "tiny", "--quiet"]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


@pytest.mark.slow
def test_ddp_two_processes_match_one_with_the_doubled_batch(synthetic_dataset, tmp_path):
    """Object identifiers on (the demo preset's tokens): each scene token behind its <objK> and
    followed by its scene-graph link (near <objJ>); stage 2 on conversations of two questions, whose
    followers are drawn by global-batch position."""
    common = [str(synthetic_dataset), "--steps1", "3", "--steps2", "3", "--set", "identifiers=true",
              "--set", "encoding.extents=true", "--set", "neighbour_links=true", "--set", "stage2.turns=2"]
    _run_train([*common, "--out", str(tmp_path / "one"), "--batch-size", "4"], 1, tmp_path)
    _run_train([*common, "--out", str(tmp_path / "two"), "--batch-size", "2"], 2, tmp_path)
    for stage in ("stage1", "stage2"):
        one = read_log(tmp_path / "one" / stage / "log.jsonl")
        two = read_log(tmp_path / "two" / stage / "log.jsonl")
        assert [r["tokens"] for r in one] == [r["tokens"] for r in two]
        torch.testing.assert_close([r["loss"] for r in two], [r["loss"] for r in one], rtol=1e-5, atol=1e-5)
    recorded = json.loads((tmp_path / "two" / "config.json").read_text())
    assert recorded["identifiers"] is True and recorded["stage2"]["turns"] == 2
    assert recorded["neighbour_links"] is True


@pytest.mark.parametrize("mlp_slot", [False, True])
def test_spelled_label_tokens_take_slots_positions_each(synthetic_dataset, tmp_path, mlp_slot):
    """A label bridge with slots = 3 gives every scene token three consecutive LLM positions (the
    spliced sequence grows by 3 T - 1; four with the MLP's own slot), trains, and answers."""
    from lerf3d.scene_llm.model.bridge import BridgeConfig

    cfg = dataclasses.replace(TINY, bridge=BridgeConfig(enabled=True, kind="labels", slots=3, mlp_slot=mlp_slot,
                                                        extra_labels=("floor", "wall")))
    store = TokenStore.from_dataset(synthetic_dataset, ["syn_0", "syn_1"], cfg.tokens)
    dim = store.scenes["syn_0"].points.feature_dim

    model = build_scene_llm(cfg, dim, encode_text=fixed_text_tower(dim), vocabulary=["chair", "lamp"])
    assert model.projector_config.slots == 3
    tokens = store.scene("syn_0")
    inputs = model.scene_inputs(tokens)[None]  # (1, T, d_in)
    ids = model.tokenizer("<scene> hi", add_special_tokens=False, return_tensors="pt")["input_ids"]
    spliced = model.splice(ids, torch.ones_like(ids), inputs, torch.ones(inputs.shape[:2], dtype=torch.bool),
                            None, "right")
    assert model.projector_config.mlp_slot == mlp_slot
    assert spliced.inputs_embeds.shape[1] == ids.shape[1] - 1 + (4 if mlp_slot else 3) * inputs.shape[1]
    records = load_split(synthetic_dataset, 2, "train")
    stage = dataclasses.replace(cfg.stage2, steps=1)
    before = _snapshot(model.projector)
    train_stage(model, 2, stage, records, store, tmp_path / "run", 0, progress=False)
    assert any(not torch.equal(v, before[n]) for n, v in _snapshot(model.projector).items())
    assert isinstance(model.generate(tokens, "Question 0 about scene 0?", max_new_tokens=4), str)


def test_tokens_grouped_by_name_train_and_answer(synthetic_dataset, tmp_path):
    """group_by_name: the blocks follow the label bridge's names (non-decreasing along the layout),
    each behind its own identifier; a step trains the projector and the model answers."""
    from lerf3d.scene_llm.model.bridge import BridgeConfig

    cfg = dataclasses.replace(TINY, identifiers=True, group_by_name=True,
                              bridge=BridgeConfig(enabled=True, kind="labels", slots=2, extra_labels=("floor", "wall")))
    store = TokenStore.from_dataset(synthetic_dataset, ["syn_0", "syn_1"], cfg.tokens)
    dim = store.scenes["syn_0"].points.feature_dim
    model = build_scene_llm(cfg, dim, encode_text=fixed_text_tower(dim), vocabulary=["chair", "lamp"])
    assert model.group_by_name
    tokens = store.scene("syn_0")
    inputs = model.scene_inputs(tokens)[None]  # (1, T, d_in)
    mask = torch.ones(inputs.shape[:2], dtype=torch.bool)
    order = model.name_order(inputs, mask)[0]
    names = model.projector.bridge.nearest(inputs[0, :, :dim])
    assert sorted(order.tolist()) == list(range(tokens.num_tokens))
    assert names[order].tolist() == sorted(names.tolist())
    records = load_split(synthetic_dataset, 2, "train")
    before = _snapshot(model.projector)
    train_stage(model, 2, dataclasses.replace(cfg.stage2, steps=1), records, store, tmp_path / "run", 0, progress=False)
    assert any(not torch.equal(v, before[n]) for n, v in _snapshot(model.projector).items())
    assert isinstance(model.generate(tokens, "Question 0 about scene 0?", max_new_tokens=4), str)


def test_conversations_train_on_several_answers_per_sequence(synthetic_dataset, tmp_path):
    """stage.turns = 3: each sequence holds three of a scene's questions (the synthetic scenes have
    four each), so a step carries more labelled tokens than with one question per sequence, from
    the same lead records."""
    records = load_split(synthetic_dataset, 2, "train")
    tokens = {}
    for turns in (1, 3):
        model, store = _setup(synthetic_dataset)
        stage = dataclasses.replace(TINY.stage2, steps=2, turns=turns)
        result = train_stage(model, 2, stage, records, store, tmp_path / f"run{turns}", 0, progress=False)
        assert all(np.isfinite(h["loss"]) for h in result.history)
        tokens[turns] = [h["tokens"] for h in result.history]
    assert all(three > 2 * one for one, three in zip(tokens[1], tokens[3])), tokens


def test_varied_wording_reaches_the_training_sequences(synthetic_dataset, tmp_path, monkeypatch):
    """stage.vary_wording = 1: the questions the model trains on are rewritten (openers, other room
    names, ...) while the answers stay; 0: they are the records' own questions."""
    import lerf3d.scene_llm.train.loop as loop

    records = load_split(synthetic_dataset, 2, "train")
    seen: dict[float, list[tuple[str, str]]] = {}
    real = loop.encode_conversation

    def spy(tokenizer, turns, *args, **kwargs):
        seen[share].extend(turns)
        return real(tokenizer, turns, *args, **kwargs)

    monkeypatch.setattr(loop, "encode_conversation", spy)
    for share in (0.0, 1.0):
        seen[share] = []
        model, store = _setup(synthetic_dataset)
        stage = dataclasses.replace(TINY.stage2, steps=4, vary_wording=share)
        train_stage(model, 2, stage, records, store, tmp_path / f"run{share}", 0, progress=False)
    originals = {r.question for r in records}
    answers = {r.answer for r in records}
    assert {q for q, _ in seen[0.0]} <= originals
    assert len({q for q, _ in seen[1.0]} - originals) >= 3
    assert {a for _, a in seen[1.0]} <= answers


def test_census_trains_and_answers(synthetic_dataset, tmp_path):
    """census: the scene block ends with the census of the bridge's names for the scene's tokens (one
    entry per token counted), a step trains the projector and the model answers."""
    from lerf3d.scene_llm.model.bridge import BridgeConfig
    from lerf3d.scene_llm.model.census import census_text

    cfg = dataclasses.replace(TINY, identifiers=True, census=True,
                              bridge=BridgeConfig(enabled=True, kind="labels", slots=2, extra_labels=("floor", "wall")))
    store = TokenStore.from_dataset(synthetic_dataset, ["syn_0", "syn_1"], cfg.tokens)
    dim = store.scenes["syn_0"].points.feature_dim
    model = build_scene_llm(cfg, dim, encode_text=fixed_text_tower(dim), vocabulary=["chair", "lamp"])
    assert model.labels == ["chair", "floor", "lamp", "wall"]
    tokens = store.scene("syn_0")
    inputs = model.scene_inputs(tokens)[None]
    names = [model.labels[k] for k in model.projector.bridge.nearest(inputs[0, :, :dim]).tolist()]
    assert model.census_lines(inputs, torch.ones(inputs.shape[:2], dtype=torch.bool)) == [census_text(names)]
    records = load_split(synthetic_dataset, 2, "train")
    before = _snapshot(model.projector)
    train_stage(model, 2, dataclasses.replace(cfg.stage2, steps=1), records, store, tmp_path / "run", 0, progress=False)
    assert any(not torch.equal(v, before[n]) for n, v in _snapshot(model.projector).items())
    assert isinstance(model.generate(tokens, "Question 0 about scene 0?", max_new_tokens=4), str)


def test_named_links_name_the_linked_token_train_and_answer(synthetic_dataset, tmp_path):
    """neighbour_names: each token's link names the linked token as the label bridge names it (the
    name its feature is nearest to), a step trains the projector and the model answers."""
    from lerf3d.scene_llm.model.bridge import BridgeConfig
    from lerf3d.scene_llm.model.links import link_text, nearest_tokens

    cfg = dataclasses.replace(TINY, identifiers=True, neighbour_links=True, neighbour_names=True,
                              encoding=dataclasses.replace(TINY.encoding, extents=True),
                              bridge=BridgeConfig(enabled=True, kind="labels", slots=2))
    store = TokenStore.from_dataset(synthetic_dataset, ["syn_0", "syn_1"], cfg.tokens)
    dim = store.scenes["syn_0"].points.feature_dim
    model = build_scene_llm(cfg, dim, encode_text=fixed_text_tower(dim), vocabulary=["chair", "lamp"])
    tokens = store.scene("syn_0")
    inputs = model.scene_inputs(tokens)[None]
    mask = torch.ones(inputs.shape[:2], dtype=torch.bool)
    names = [model.labels[k] for k in model.projector.bridge.nearest(inputs[0, :, :dim]).tolist()]
    nearest = nearest_tokens(tokens.xyz[None], tokens.xyz[None], mask)[0].tolist()  # voxel tokens: points
    assert model.token_links.texts(inputs, mask, [names]) == [[[link_text(j, names[j])] for j in nearest]]
    before = _snapshot(model.projector)
    train_stage(model, 2, dataclasses.replace(cfg.stage2, steps=1), load_split(synthetic_dataset, 2, "train"),
                store, tmp_path / "run", 0, progress=False)
    assert any(not torch.equal(v, before[n]) for n, v in _snapshot(model.projector).items())
    assert isinstance(model.generate(tokens, "Question 0 about scene 0?", max_new_tokens=4), str)


@pytest.mark.parametrize("writes", ["census", "neighbour_names"])
def test_a_run_that_writes_names_loads_its_bridge_names_from_its_vocabulary(tmp_path, writes):
    from lerf3d.scene_llm.model.bridge import BridgeConfig
    from lerf3d.scene_llm.use.load import written_labels

    labels = BridgeConfig(enabled=True, kind="labels")
    linked = {"neighbour_links": True, "identifiers": True,
              "encoding": dataclasses.replace(TINY.encoding, extents=True)} if writes == "neighbour_names" else {}
    cfg = dataclasses.replace(TINY, bridge=labels, **linked, **{writes: True})
    assert written_labels(tmp_path, TINY) == []
    assert written_labels(tmp_path, dataclasses.replace(cfg, **{writes: False})) == []
    with pytest.raises(FileNotFoundError, match="vocabulary.json"):
        written_labels(tmp_path, cfg)
    (tmp_path / "vocabulary.json").write_text(json.dumps(["Sofa", "chair", "floor", "wall"]))
    assert written_labels(tmp_path, cfg) == ["chair", "floor", "sofa", "wall"]
