"""Scene-graph links: each token's nearest other token by box gap, the token it stands on, its nearest
wall, and their splice after each token."""

from __future__ import annotations

import pytest
import torch
from scene_splice import assert_scene_block, splice_one

from lerf3d.scene_llm.model.links import SUPPORT_GAP_M, nearest_tokens, pairwise_box_gaps, supporting_tokens
from lerf3d.scene_llm.model.llm import LLMConfig, load_llm
from lerf3d.scene_llm.model.projector import ProjectorConfig, build_projector
from lerf3d.scene_llm.model.scene_llm import SceneLLM
from lerf3d.scene_llm.model.splice import IGNORE_INDEX
from lerf3d.scene_llm.model.tiny_llm import TinyLlamaConfig
from lerf3d.scene_llm.tokens.frames import SceneTokens, TokenEncoding

FEATURES = 8


def _boxes(*corners: tuple[tuple[float, float, float], tuple[float, float, float]]):
    lower = torch.tensor([[c[0] for c in corners]], dtype=torch.float32)
    upper = torch.tensor([[c[1] for c in corners]], dtype=torch.float32)
    return lower, upper


def test_box_gaps_by_hand():
    # a unit cube at the origin; one 0.3 m east of it; one 0.4 m east and 0.3 m north of that corner
    lower, upper = _boxes(((0, 0, 0), (1, 1, 1)), ((1.3, 0, 0), (2, 1, 1)), ((1.4, 1.3, 0), (2, 2, 1)))
    gaps = pairwise_box_gaps(lower, upper)[0]
    torch.testing.assert_close(gaps, torch.tensor([[0.0, 0.3, 0.5], [0.3, 0.0, 0.3], [0.5, 0.3, 0.0]]))


def test_nearest_is_the_smallest_gap_not_the_closest_centre():
    # a long bed (centre x = 1) touched by a lamp at its far end (centre x = 2.1); a chair 0.2 m
    # from its near end has the closer centre (x = -0.4) but a gap: the lamp is nearer to the bed
    lower, upper = _boxes(((0, 0, 0), (2, 1, 0.5)), ((2, 0.4, 0), (2.2, 0.6, 1)), ((-0.7, 0, 0), (-0.2, 0.5, 1)))
    mask = torch.ones(1, 3, dtype=torch.bool)
    assert nearest_tokens(lower, upper, mask).tolist() == [[1, 0, 0]]


def test_ties_at_zero_gap_go_to_the_closer_centre_and_padding_is_skipped():
    # a table touched by two chairs: both gaps 0, the one whose centre is closer wins; token 3 is
    # padding and sits on the table, and must be neither linked nor linking
    lower, upper = _boxes(((0, 0, 0), (2, 1, 1)), ((2, 0, 0), (2.5, 0.5, 1)), ((-0.3, 0.4, 0), (0, 0.6, 1)),
                          ((0.5, 0.5, 0), (0.6, 0.6, 0.2)))
    mask = torch.tensor([[True, True, True, False]])
    nearest = nearest_tokens(lower, upper, mask)
    assert nearest.tolist() == [[2, 0, 0, -1]]  # chair 2's centre (-0.15) is nearer the table's (1) than 2.25
    lone = nearest_tokens(lower[:, :1], upper[:, :1], mask[:, :1])
    assert lone.tolist() == [[-1]]  # no other token: no link
    with pytest.raises(ValueError, match="corners"):
        nearest_tokens(lower, upper, mask[:, :2])


def _model() -> SceneLLM:
    loaded = load_llm(LLMConfig(name="tiny-random", tiny=TinyLlamaConfig(hidden_size=32)))
    encoding = TokenEncoding(room_relative=True, extents=True)
    cfg = ProjectorConfig(encoding.input_dim(FEATURES), 32, loaded.model.get_input_embeddings().embedding_dim)
    torch.manual_seed(0)
    return SceneLLM(loaded, build_projector(cfg), cfg, encoding, identifiers=True, neighbour_links=True)


def test_each_token_block_ends_with_its_link():
    """<obj0> t0 near <obj2> <obj1> t1 near <obj2> <obj2> t2 near <obj1>: the LLM's own embeddings of the
    link's text after each projected token, worked out here from the boxes; no label on any of it."""
    model = _model()
    xyz = torch.tensor([[0.0, 0.0, 0.5], [3.0, 0.0, 0.5], [1.5, 0.0, 0.5]])
    half = torch.tensor([0.5, 0.5, 0.5])
    lower, upper = xyz - half, xyz + half  # gaps: 0-2 0.5, 1-2 0.5, 0-1 2.0; ties -> centre distance
    tokens = SceneTokens(xyz, torch.randn(3, FEATURES), torch.rand(3, 3), "scene", lower=lower, upper=upper,
                         bounds=torch.stack([lower.amin(0), upper.amax(0)]))
    spliced, text = splice_one(model, tokens, "what is nearest the desk?", "bed")
    projected = model.projector(model.scene_inputs(tokens))
    # token 2 is 1.5 m from both; its centre tie (1.5 both ways) goes to the lower index
    block = torch.cat([text("<obj0>"), projected[0:1], text("near <obj2>"),
                       text("<obj1>"), projected[1:2], text("near <obj2>"),
                       text("<obj2>"), projected[2:3], text("near <obj0>")])
    start = int(spliced.scene_start[0])
    assert int(spliced.scene_length[0]) == len(block)
    torch.testing.assert_close(spliced.inputs_embeds[0, start:start + len(block)], block)
    assert (spliced.labels[0, start:start + len(block)] == IGNORE_INDEX).all()


@pytest.mark.parametrize(
    ("switch", "lacking", "missing", "having"),
    [
        ("neighbour_links", TokenEncoding(room_relative=True), "corners", TokenEncoding(extents=True)),
        ("wall_links", TokenEncoding(room_relative=True, extents=True), "wall gaps", TokenEncoding(wall_gaps=True)),
        ("support_links", TokenEncoding(room_relative=True, extents=True), "wall gaps",
         TokenEncoding(extents=True, wall_gaps=True)),
        ("support_links", TokenEncoding(room_relative=True, wall_gaps=True), "corners",
         TokenEncoding(extents=True, wall_gaps=True)),
    ],
)
def test_links_need_identifiers_and_the_inputs_they_read(switch, lacking, missing, having):
    """A link follows its token's identifier and is computed from the token's inputs (corners for the
    nearest token, wall gaps for the nearest wall): the model and the config refuse it without them."""
    from lerf3d.scene_llm.train.config import SceneLLMConfig

    loaded = load_llm(LLMConfig(name="tiny-random", tiny=TinyLlamaConfig(hidden_size=32)))
    cfg = ProjectorConfig(lacking.input_dim(FEATURES), 32, loaded.model.get_input_embeddings().embedding_dim)
    with pytest.raises(ValueError, match=missing):
        SceneLLM(loaded, build_projector(cfg), cfg, lacking, identifiers=True, **{switch: True})
    with pytest.raises(ValueError, match="identifiers"):
        SceneLLM(loaded, build_projector(cfg), cfg, lacking, **{switch: True})
    with pytest.raises(ValueError, match=switch):
        SceneLLMConfig(identifiers=True, **{switch: True})  # the default encoding has neither input
    assert SceneLLMConfig(identifiers=True, encoding=having, **{switch: True}).layout_options[switch]


def test_wall_gaps_and_nearest_walls_by_hand():
    # a room 4 m (x) by 3 m (y); a bed along the west wall, a desk 0.1 m from the north wall, a lamp
    # in the middle, equally far (1 m) from the south and north walls and further from the others:
    # the tie goes to the first side in WALL_NAMES (south before north)
    from lerf3d.scene_llm.model.links import WALL_NAMES, nearest_walls

    bounds = torch.tensor([[0.0, 0.0, 0.0], [4.0, 3.0, 2.5]])
    lower = torch.tensor([[0.0, 0.5, 0.0], [2.0, 2.5, 0.0], [1.8, 1.0, 0.0]])
    upper = torch.tensor([[2.0, 2.0, 0.5], [3.2, 2.9, 0.8], [2.2, 2.0, 1.5]])
    tokens = SceneTokens((lower + upper) / 2, torch.randn(3, FEATURES), torch.rand(3, 3), "scene",
                         lower=lower, upper=upper, bounds=bounds)
    gaps = tokens.wall_gaps()
    torch.testing.assert_close(gaps, torch.tensor([[0.0, 2.0, 0.5, 1.0], [2.0, 0.8, 2.5, 0.1],
                                                   [1.8, 1.8, 1.0, 1.0]]))
    mask = torch.tensor([[True, True, True, False]])
    padded = torch.cat([gaps, gaps[:1]])[None]  # a fourth, padding row
    walls = nearest_walls(padded, mask)[0].tolist()
    assert [WALL_NAMES[w] for w in walls[:3]] == ["west", "north", "south"] and walls[3] == -1
    # a view's egocentric tokens have no walls, and the projector reads the gaps last, in xyz_scale units
    ego = SceneTokens(tokens.xyz, tokens.features, tokens.rgb, "ego", lower=lower, upper=upper)
    assert (ego.wall_gaps() < 0).all() and nearest_walls(ego.wall_gaps()[None], mask[:, :3]).tolist() == [[-1] * 3]
    encoding = TokenEncoding(room_relative=True, extents=True, wall_gaps=True)
    inputs = tokens.projector_input(encoding=encoding)
    assert inputs.shape[-1] == encoding.input_dim(FEATURES) == TokenEncoding(room_relative=True, extents=True
                                                                             ).input_dim(FEATURES) + 4
    torch.testing.assert_close(inputs[:, encoding.wall_gap_columns(FEATURES)], gaps / encoding.xyz_scale)
    with pytest.raises(ValueError, match="wall gaps"):
        nearest_walls(gaps[None], mask)


def _walled_model(**links: bool) -> SceneLLM:
    """A tiny model whose tokens carry corners and wall gaps, with identifiers and ``links`` on."""
    loaded = load_llm(LLMConfig(name="tiny-random", tiny=TinyLlamaConfig(hidden_size=32)))
    encoding = TokenEncoding(room_relative=True, extents=True, wall_gaps=True)
    cfg = ProjectorConfig(encoding.input_dim(FEATURES), 32, loaded.model.get_input_embeddings().embedding_dim)
    torch.manual_seed(0)
    return SceneLLM(loaded, build_projector(cfg), cfg, encoding, identifiers=True, **links)


def _room_tokens(lower: torch.Tensor, upper: torch.Tensor, frame: str = "scene") -> SceneTokens:
    """Tokens with these boxes in a 4 m x 3 m room (``ego``: the same boxes as a view's tokens)."""
    bounds = torch.tensor([[0.0, 0.0, 0.0], [4.0, 3.0, 2.5]]) if frame == "scene" else None
    g = torch.Generator().manual_seed(0)
    return SceneTokens((lower + upper) / 2, torch.randn(len(lower), FEATURES, generator=g),
                       torch.rand(len(lower), 3, generator=g), frame, lower=lower, upper=upper, bounds=bounds)


def _assert_blocks(model: SceneLLM, tokens: SceneTokens, question: str, links: list[list[str]]) -> None:
    """The scene block is, for each token K, ``<objK>``, its projection, then the LLM's embeddings of
    each of ``links[K]`` (each text tokenised on its own); no label on any of it."""
    spliced, text = splice_one(model, tokens, question, "yes")
    projected = model.projector(model.scene_inputs(tokens))
    parts = []
    for k, texts in enumerate(links):
        parts += [text(f"<obj{k}>"), projected[k : k + 1], *(text(t) for t in texts)]
    assert_scene_block(spliced, torch.cat(parts))


def test_each_token_block_ends_with_its_wall_after_its_link():
    """<obj0> t0 near <obj1> by the west wall <obj1> t1 near <obj0> by the east wall: the wall link
    follows the neighbour link, worked out here from the boxes and the room."""
    model = _walled_model(neighbour_links=True, wall_links=True)
    lower = torch.tensor([[0.1, 1.0, 0.0], [3.0, 1.2, 0.0]])
    upper = torch.tensor([[0.9, 2.0, 0.8], [3.9, 1.8, 0.8]])
    _assert_blocks(model, _room_tokens(lower, upper), "which wall is the desk nearest?",
                   [["near <obj1>", "by the west wall"], ["near <obj0>", "by the east wall"]])
    # the same model asked from a view: egocentric tokens carry no wall, only the neighbour link
    _assert_blocks(model, _room_tokens(lower, upper, "ego"), "is the desk left of the bed?",
                   [["near <obj1>"], ["near <obj0>"]])


def test_a_named_link_names_its_token_as_the_label_bridge_names_it():
    """<obj0> t0 near <obj1> lamp <obj1> t1 near <obj0> bed: the link carries the name the label
    bridge gives the linked token (its feature's nearest label), worked out here from the features;
    the model refuses names without links or without the bridge's label names."""
    loaded = load_llm(LLMConfig(name="tiny-random", tiny=TinyLlamaConfig(hidden_size=32)))
    hidden = loaded.model.get_input_embeddings().embedding_dim
    encoding = TokenEncoding(room_relative=True, extents=True)
    labels = ["bed", "lamp", "sofa"]
    cfg = ProjectorConfig(encoding.input_dim(FEATURES), 32, hidden, bridge_dim=FEATURES, bridge_labels=3)
    torch.manual_seed(0)
    projector = build_projector(cfg)
    keys = torch.eye(3, FEATURES)  # label k's text embedding: the k-th axis
    projector.set_labels(keys, torch.randn(3, hidden), 50.0)
    model = SceneLLM(loaded, projector, cfg, encoding, identifiers=True, neighbour_links=True,
                     neighbour_names=True, labels=labels)
    features = torch.zeros(2, FEATURES)
    features[0, 0], features[1, 1] = 1.0, 1.0  # token 0 reads "bed", token 1 "lamp"
    lower = torch.tensor([[0.0, 0.0, 0.0], [2.5, 0.0, 0.0]])
    upper = torch.tensor([[2.0, 1.5, 0.5], [2.8, 0.3, 1.2]])
    tokens = SceneTokens((lower + upper) / 2, features, torch.rand(2, 3), "scene", lower=lower, upper=upper,
                         bounds=torch.tensor([[0.0, 0.0, 0.0], [4.0, 3.0, 2.5]]))
    spliced, text = splice_one(model, tokens, "what is nearest the bed?", "lamp")
    projected = model.projector(model.scene_inputs(tokens))
    block = torch.cat([text("<obj0>"), projected[0:1], text("near <obj1> lamp"),
                       text("<obj1>"), projected[1:2], text("near <obj0> bed")])
    assert_scene_block(spliced, block)
    with pytest.raises(ValueError, match="neighbour_links"):
        SceneLLM(loaded, projector, cfg, encoding, identifiers=True, neighbour_names=True, labels=labels)
    with pytest.raises(ValueError, match="label names"):
        SceneLLM(loaded, projector, cfg, encoding, identifiers=True, neighbour_links=True, neighbour_names=True)
    with pytest.raises(ValueError, match="label bridge"):
        SceneLLM(loaded, build_projector(ProjectorConfig(encoding.input_dim(FEATURES), 32, hidden)),
                 ProjectorConfig(encoding.input_dim(FEATURES), 32, hidden), encoding, identifiers=True,
                 neighbour_links=True, neighbour_names=True, labels=labels)
    from lerf3d.scene_llm.model.bridge import BridgeConfig
    from lerf3d.scene_llm.train.config import SceneLLMConfig

    linked = {"identifiers": True, "neighbour_links": True, "encoding": encoding}
    with pytest.raises(ValueError, match="neighbour_names"):
        SceneLLMConfig(neighbour_names=True, **linked)  # no label bridge
    named = SceneLLMConfig(neighbour_names=True, bridge=BridgeConfig(enabled=True, kind="labels"), **linked)
    assert named.layout_options["neighbour_names"] and named.needs_vocabulary


def test_supporting_tokens_by_hand():
    # a desk 0.75 m high; a lamp on it (bottom 2 cm over its top); a tray on it with a cup on the tray
    # (the cup is within reach of both tops: the closer one, the tray's, holds it); a mug 11 cm over
    # the desk (not resting); a chair on the floor beside it; a box at the desk's height but off its
    # footprint; a padding token on the desk
    lower, upper = _boxes(((0, 0, 0), (1.2, 0.6, 0.75)), ((0.1, 0.1, 0.77), (0.3, 0.3, 1.2)),
                          ((0.5, 0.1, 0.76), (0.7, 0.3, 0.78)), ((0.55, 0.15, 0.79), (0.6, 0.2, 0.9)),
                          ((0.8, 0.2, 0.86), (0.9, 0.3, 0.95)), ((1.3, 0, 0), (1.8, 0.5, 0.9)),
                          ((1.5, 1.5, 0.76), (1.7, 1.7, 0.9)), ((0.9, 0.4, 0.76), (1.0, 0.5, 0.8)))
    mask = torch.tensor([[True] * 7 + [False]])
    assert supporting_tokens(lower, upper, mask, SUPPORT_GAP_M).tolist() == [[-1, 0, 0, 2, -1, -1, -1, -1]]
    # the gap is in the corners' units: at 1.5 cm the lamp (2 cm over the desk) no longer rests on it
    assert supporting_tokens(lower, upper, mask, 0.015).tolist() == [[-1, -1, 0, 2, -1, -1, -1, -1]]
    with pytest.raises(ValueError, match="corners"):
        supporting_tokens(lower, upper, mask[:, :3], SUPPORT_GAP_M)


def test_a_block_says_what_its_token_stands_on_before_its_wall():
    """<obj0> t0 near <obj1> by the west wall <obj1> t1 near <obj0> on <obj0> by the west wall: the lamp
    stands on the desk, the desk on no token (its support link is empty); a view's egocentric tokens
    (the camera's axes) get neither that link nor a wall."""
    model = _walled_model(neighbour_links=True, support_links=True, wall_links=True)
    lower = torch.tensor([[0.1, 1.0, 0.0], [0.3, 1.2, 0.77]])
    upper = torch.tensor([[0.9, 2.0, 0.75], [0.5, 1.4, 1.2]])
    _assert_blocks(model, _room_tokens(lower, upper), "is the lamp on top of the desk?",
                   [["near <obj1>", "by the west wall"], ["near <obj0>", "on <obj0>", "by the west wall"]])
    _assert_blocks(model, _room_tokens(lower, upper, "ego"), "is the lamp left of the desk?",
                   [["near <obj1>"], ["near <obj0>"]])
