"""Tokens grouped by name: the label bridge's best name orders the blocks, identifiers stay."""

from __future__ import annotations

import pytest
import torch
from scene_splice import splice_one

from lerf3d.scene_llm.model.llm import LLMConfig, load_llm
from lerf3d.scene_llm.model.projector import ProjectorConfig, build_projector
from lerf3d.scene_llm.model.scene_llm import SceneLLM
from lerf3d.scene_llm.model.splice import IGNORE_INDEX, interleave_identifiers, name_order
from lerf3d.scene_llm.model.tiny_llm import TinyLlamaConfig
from lerf3d.scene_llm.tokens.frames import SceneTokens, TokenEncoding

FEATURES = 8


def test_name_order_by_hand():
    # names chair=0, lamp=1, table=2; tokens west to east: table, chair, table, lamp, chair
    names = torch.tensor([[2, 0, 2, 1, 0]])
    assert name_order(names, torch.ones(1, 5, dtype=torch.bool)).tolist() == [[1, 4, 3, 0, 2]]
    # padding goes last whatever its name (here 0, the smallest), real tokens keep their order in a name
    names = torch.tensor([[1, 0, 1, 0], [1, 1, 0, 0]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    assert name_order(names, mask).tolist() == [[1, 0, 2, 3], [2, 3, 0, 1]]
    with pytest.raises(ValueError, match="differ"):
        name_order(names, mask[:, :3])


def test_interleave_in_an_order_keeps_each_blocks_identifier():
    slots = torch.arange(3, dtype=torch.float32).reshape(1, 3, 1, 1).expand(1, 3, 2, 4)  # token k: all k
    identifiers = [torch.full((1, 4), 10.0 + k) for k in range(3)]
    mask = torch.ones(1, 3, dtype=torch.bool)
    laid, laid_mask = interleave_identifiers(slots, mask, identifiers, order=torch.tensor([[2, 0, 1]]))
    assert laid[0, :, 0].tolist() == [12.0, 2, 2, 10.0, 0, 0, 11.0, 1, 1]
    assert laid_mask.all()
    with pytest.raises(ValueError, match="permutation"):
        interleave_identifiers(slots, mask, identifiers, order=torch.tensor([[0, 0, 1]]))


def _model(group_by_name: bool = True, identifiers: bool = True, labels: int = 3) -> SceneLLM:
    loaded = load_llm(LLMConfig(name="tiny-random", tiny=TinyLlamaConfig(hidden_size=32)))
    encoding = TokenEncoding(room_relative=True)
    hidden = loaded.model.get_input_embeddings().embedding_dim
    cfg = ProjectorConfig(encoding.input_dim(FEATURES), 32, hidden, bridge_dim=FEATURES, bridge_labels=labels)
    torch.manual_seed(0)
    projector = build_projector(cfg)
    if labels:
        projector.set_labels(torch.eye(labels, FEATURES), torch.randn(labels, hidden), 50.0)
    return SceneLLM(loaded, projector, cfg, encoding, identifiers=identifiers, group_by_name=group_by_name)


def test_tokens_are_laid_out_by_their_bridge_name():
    """Three tokens west to east named 2, 0, 2 by the bridge (their features are label keys): the
    scene block reads <obj1> t1 <obj0> t0 <obj2> t2, every token after its own identifier."""
    model = _model()
    names = [2, 0, 2]
    features = torch.eye(3, FEATURES)[names] + 0.05 * torch.rand(3, FEATURES)
    xyz = torch.tensor([[0.0, 0.0, 0.5], [1.0, 0.0, 0.5], [2.0, 0.0, 0.5]])
    tokens = SceneTokens(xyz, features, torch.rand(3, 3), "scene", bounds=torch.tensor([[-1.0, -1, 0], [3, 1, 1]]))
    assert model.name_order(model.scene_inputs(tokens)[None], torch.ones(1, 3, dtype=torch.bool)).tolist() == [[1, 0, 2]]
    spliced, text = splice_one(model, tokens, "how many tables?", "2")
    projected = model.projector(model.scene_inputs(tokens))
    block = torch.cat([text("<obj1>"), projected[1:2], text("<obj0>"), projected[0:1], text("<obj2>"), projected[2:3]])
    start = int(spliced.scene_start[0])
    assert int(spliced.scene_length[0]) == len(block)
    torch.testing.assert_close(spliced.inputs_embeds[0, start:start + len(block)], block)
    assert (spliced.labels[0, start:start + len(block)] == IGNORE_INDEX).all()
    ungrouped, _ = splice_one(_model(group_by_name=False), tokens, "how many tables?", "2")
    in_place = torch.cat([text("<obj0>"), projected[0:1], text("<obj1>"), projected[1:2], text("<obj2>"), projected[2:3]])
    torch.testing.assert_close(ungrouped.inputs_embeds[0, start:start + len(block)], in_place)


def test_grouping_needs_identifiers_and_a_label_bridge():
    from lerf3d.scene_llm.model.bridge import BridgeConfig
    from lerf3d.scene_llm.train.config import SceneLLMConfig

    with pytest.raises(ValueError, match="identifiers"):
        _model(identifiers=False)
    with pytest.raises(ValueError, match="label bridge"):
        _model(labels=0)
    with pytest.raises(ValueError, match="group_by_name"):
        SceneLLMConfig(group_by_name=True, identifiers=True)  # no bridge
    labels = BridgeConfig(enabled=True, kind="labels")
    assert SceneLLMConfig(group_by_name=True, identifiers=True, bridge=labels).group_by_name
