"""Segments named and joined as the object layer names and counts objects, on a hand-made room: a
part of a table joins it, a cup whose crops read as the table takes its own name, a second table
stays a table of its own."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lerf3d.scene_llm.tokens.crops import CropSource
from lerf3d.scene_llm.tokens.naming import named_segments
from lerf3d.scene_llm.tokens.scenes import TokenConfig, TokenStore

LABELS = torch.eye(4)[:2]  # "table", "cup"
NEGATIVES = torch.eye(4)[2:]  # two canonical negatives, orthogonal to both labels


def _filled(lo, hi, step) -> torch.Tensor:
    """Points on a regular grid filling the box [lo, hi]."""
    axes = [torch.arange(a, b + 1e-6, step) for a, b in zip(lo, hi, strict=True)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)


def _room():
    """(xyz, segment id per point, segment features): 0 a table 75 cm tall; 1 a ball on it that reads
    as a table even more than the table does (a part of it); 2 a cup on it whose crops are mostly the
    table top; 3 a second table 2 m away."""
    parts = [
        _filled((0.0, 0.0, 0.0), (1.0, 0.6, 0.75), 0.05),
        _filled((0.30, 0.30, 0.76), (0.36, 0.36, 0.82), 0.01),
        _filled((0.70, 0.30, 0.76), (0.76, 0.36, 0.84), 0.01),
        _filled((3.0, 0.0, 0.0), (4.0, 0.6, 0.75), 0.05),
    ]
    xyz = torch.cat(parts)
    ids = torch.cat([torch.full((len(p),), k) for k, p in enumerate(parts)])
    features = F.normalize(torch.tensor([
        [0.99, 0.0, 0.14, 0.0],  # the table
        [1.0, 0.0, 0.0, 0.0],  # the ball: "table" fits it better than the table itself
        [0.8, 0.6, 0.0, 0.0],  # the cup: best "table", less than the table; "cup" fits it, not the table
        [0.99, 0.0, 0.14, 0.0],  # the second table
    ]), dim=1)
    return xyz, ids, features


def test_a_part_joins_its_support_and_an_item_takes_its_own_name():
    xyz, ids, features = _room()
    joined, table = named_segments(xyz, ids, features, LABELS, NEGATIVES)
    first = joined[ids == 0].unique()
    assert len(first) == 1 and (joined[ids == 1] == first).all()  # the ball is a part of the table
    cup, second = joined[ids == 2].unique(), joined[ids == 3].unique()
    assert len({int(first), int(cup), int(second)}) == 3 and len(table) == 3
    assert torch.allclose(table[first[0]], features[0])  # the joined token reads as its largest part
    assert torch.allclose(table[cup[0]], LABELS[1])  # the cup reads as "cup", the name it was given
    assert torch.allclose(table[second[0]], features[3])
    assert (table @ LABELS.T).argmax(dim=1).tolist().count(0) == 2  # two tables, one cup


def test_ids_past_the_table_and_shell_points_are_left_out_and_one_label_names_nothing():
    xyz, ids, features = _room()
    ids = torch.cat([ids, torch.tensor([-1, 7])])  # a shell point, and an id the table has no row for
    xyz = torch.cat([xyz, torch.zeros(2, 3)])
    joined, _ = named_segments(xyz, ids, features, LABELS, NEGATIVES)
    assert (joined[-2:] == -1).all()
    alone, table = named_segments(xyz, ids, features, LABELS[:1], NEGATIVES)  # nothing to tell apart
    assert len(table) == 4 and torch.equal(alone[:-2], ids[:-2]) and torch.allclose(table, features)


def test_tokens_named_as_objects_need_crops_and_the_runs_labels():
    with pytest.raises(ValueError, match="crop_views"):
        TokenConfig(mode="segment", name_objects=True)
    config = TokenConfig(mode="segment", crop_views=5, name_objects=True)
    with pytest.raises(ValueError, match="labels"):
        TokenStore({}, config, CropSource({}, encoder=None))
    TokenStore({}, config, CropSource({}, encoder=None, labels=("table", "cup")))


def test_a_run_that_names_its_tokens_as_objects_needs_its_names(tmp_path):
    import dataclasses
    import json

    from lerf3d.scene_llm.train.config import preset
    from lerf3d.scene_llm.use.load import object_labels

    plain = preset("tiny")
    named = dataclasses.replace(plain, tokens=TokenConfig(mode="segment", crop_views=5, name_objects=True))
    assert object_labels(tmp_path, plain) == []  # a run that does not: nothing read
    with pytest.raises(FileNotFoundError, match="vocabulary.json: the run names its tokens as objects"):
        object_labels(tmp_path, named)
    (tmp_path / "vocabulary.json").write_text(json.dumps(["table", "cup", "floor"]))
    assert object_labels(tmp_path, named) == ["table", "cup", "floor"]
