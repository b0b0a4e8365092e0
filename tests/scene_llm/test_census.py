"""The census line: how many tokens carry each bridge name, written after the scene's token blocks."""

from __future__ import annotations

import pytest
import torch
from scene_splice import splice_one

from lerf3d.scene_llm.model.census import census_counts, census_text
from lerf3d.scene_llm.model.llm import LLMConfig, load_llm
from lerf3d.scene_llm.model.projector import ProjectorConfig, build_projector
from lerf3d.scene_llm.model.scene_llm import SceneLLM
from lerf3d.scene_llm.model.splice import IGNORE_INDEX, append_tails
from lerf3d.scene_llm.model.tiny_llm import TinyLlamaConfig
from lerf3d.scene_llm.tokens.frames import SceneTokens, TokenEncoding

FEATURES = 8
LABELS = ["chair", "lamp", "table"]


def test_census_by_hand():
    names = ["table", "chair", "table", "lamp", "chair", "table"]
    assert census_counts(names) == [("table", 3), ("chair", 2), ("lamp", 1)]
    assert census_text(names) == " Counts: table 3, chair 2, lamp 1."
    assert census_text(["sofa"]) == " Counts: sofa 1."
    assert census_text([]) == " Counts: none."


def test_append_tails_keeps_real_positions_and_repads():
    scene = torch.tensor([[[1.0], [2.0], [0.0]], [[3.0], [4.0], [5.0]]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    laid, laid_mask = append_tails(scene, mask, [torch.tensor([[7.0], [8.0]]), torch.tensor([[9.0]])])
    assert laid[..., 0].tolist() == [[1.0, 2.0, 7.0, 8.0], [3.0, 4.0, 5.0, 9.0]]
    assert laid_mask.tolist() == [[True] * 4, [True] * 4]
    laid, laid_mask = append_tails(scene, mask, [torch.zeros(0, 1), torch.zeros(0, 1)])
    assert laid_mask.tolist() == mask.tolist()
    with pytest.raises(ValueError, match="come first"):
        append_tails(scene, torch.tensor([[False, True, True], [True, True, True]]), [torch.zeros(0, 1)] * 2)
    with pytest.raises(ValueError, match="do not match"):
        append_tails(scene, mask, [torch.zeros(0, 1)])


def _model(census: bool = True, labels: list[str] | None = None, bridge: bool = True) -> SceneLLM:
    loaded = load_llm(LLMConfig(name="tiny-random", tiny=TinyLlamaConfig(hidden_size=32)))
    encoding = TokenEncoding(room_relative=True)
    hidden = loaded.model.get_input_embeddings().embedding_dim
    cfg = ProjectorConfig(encoding.input_dim(FEATURES), 32, hidden, bridge_dim=FEATURES,
                          bridge_labels=len(LABELS) if bridge else 0)
    torch.manual_seed(0)
    projector = build_projector(cfg)
    if bridge:
        projector.set_labels(torch.eye(len(LABELS), FEATURES), torch.randn(len(LABELS), hidden), 50.0)
    return SceneLLM(loaded, projector, cfg, encoding, identifiers=True, census=census,
                    labels=LABELS if labels is None else labels)


def test_scene_block_ends_with_the_census_of_the_bridge_names():
    """Three tokens west to east whose features are the keys of table, chair, table: the block reads
    <obj0> t0 <obj1> t1 <obj2> t2, then the LLM's embeddings of " Counts: table 2, chair 1."."""
    model = _model()
    features = torch.eye(3, FEATURES)[[2, 0, 2]] + 0.05 * torch.rand(3, FEATURES)
    xyz = torch.tensor([[0.0, 0.0, 0.5], [1.0, 0.0, 0.5], [2.0, 0.0, 0.5]])
    tokens = SceneTokens(xyz, features, torch.rand(3, 3), "scene", bounds=torch.tensor([[-1.0, -1, 0], [3, 1, 1]]))
    inputs = model.scene_inputs(tokens)[None]
    assert model.census_lines(inputs, torch.ones(1, 3, dtype=torch.bool)) == [" Counts: table 2, chair 1."]
    spliced, text = splice_one(model, tokens, "how many tables?", "2")
    projected = model.projector(model.scene_inputs(tokens))
    block = torch.cat([text("<obj0>"), projected[0:1], text("<obj1>"), projected[1:2], text("<obj2>"),
                       projected[2:3], text(" Counts: table 2, chair 1.")])
    start = int(spliced.scene_start[0])
    assert int(spliced.scene_length[0]) == len(block)
    torch.testing.assert_close(spliced.inputs_embeds[0, start:start + len(block)], block)
    assert (spliced.labels[0, start:start + len(block)] == IGNORE_INDEX).all()
    plain, _ = splice_one(_model(census=False), tokens, "how many tables?", "2")
    assert int(plain.scene_length[0]) == len(block) - len(text(" Counts: table 2, chair 1."))


def test_census_needs_a_label_bridge_and_its_names():
    from lerf3d.scene_llm.model.bridge import BridgeConfig
    from lerf3d.scene_llm.train.config import SceneLLMConfig

    with pytest.raises(ValueError, match="label bridge"):
        _model(bridge=False, labels=[])
    with pytest.raises(ValueError, match="3 labels"):
        _model(labels=["chair"])
    with pytest.raises(ValueError, match="census"):
        SceneLLMConfig(census=True)  # no bridge
    cfg = SceneLLMConfig(census=True, bridge=BridgeConfig(enabled=True, kind="labels"))
    assert cfg.layout_options["census"]
