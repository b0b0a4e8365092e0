"""Reading ground_truth.json."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from lerf3d.ground_truth import load_ground_truth


def test_generated_room_ground_truth_reads(tiny_room):
    truth = load_ground_truth(tiny_room)
    labels = {o.label for o in truth.objects}
    assert {"floor", "wall"} <= labels
    assert len(truth.furniture) >= 3
    for obj in truth.objects:
        assert np.all(obj.box_max >= obj.box_min), obj.label
    name = sorted(truth.mask_paths)[0]
    mask = truth.load_mask(name)
    assert mask.ndim == 2 and set(np.unique(mask).tolist()) <= {0} | {o.instance_id for o in truth.objects}


def test_malformed_ground_truth_names_the_file(tmp_path):
    path = tmp_path / "ground_truth.json"
    path.write_text(json.dumps({"objects": [{"label": "chair"}]}))
    with pytest.raises(ValueError, match="ground_truth.json: malformed"):
        load_ground_truth(path)
    with pytest.raises(FileNotFoundError, match="no ground truth"):
        load_ground_truth(tmp_path / "missing.json")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG (signature, IHDR of a 16-bit grey image, IEND) whose header claims width x height; no pixel data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)  # bit depth 16, greyscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_a_mask_claiming_a_huge_size_is_an_error_naming_the_file(tmp_path):
    # regression: a PNG whose header claims 100000x100000 ended in PIL's DecompressionBombError traceback
    for name, size in (("bomb.png", (100_000, 100_000)), ("big.png", (10_000, 10_000))):  # over 2x / 1x PIL's cap
        (tmp_path / name).write_bytes(_png_header_only(*size))
    (tmp_path / "text.png").write_text("not an image")
    objects = [{"instance_id": 1, "label": "chair", "category": "chair", "box_min": [0, 0, 0], "box_max": [1, 1, 1]}]
    frames = {name: {"mask_path": f"{name}.png"} for name in ("bomb", "big", "text")}
    (tmp_path / "ground_truth.json").write_text(json.dumps({"scene": "s", "objects": objects, "frames": frames}))
    truth = load_ground_truth(tmp_path)
    for name, problem in (("bomb", "DecompressionBombError"), ("big", "DecompressionBombWarning"),
                          ("text", "UnidentifiedImageError")):
        with pytest.raises(ValueError, match=rf"{name}\.png: not a readable instance mask \({problem}: "):
            truth.load_mask(name)


def _one_object_file(tmp_path, **fields) -> object:
    record = {"instance_id": 7, "label": "chair", "category": "Living room", "box_min": [0, 0, 0],
              "box_max": [1, 1, 1], "catalog_id": "scopia/chair1", **fields}
    (tmp_path / "ground_truth.json").write_text(json.dumps({"scene": "s", "objects": [record]}))
    return tmp_path


def test_attribution_fields_are_optional(tmp_path):
    old = load_ground_truth(_one_object_file(tmp_path)).object(7)  # a file written before attribution
    assert (old.catalogue, old.author, old.licence, old.source) == (None, None, None, None)
    new = load_ground_truth(_one_object_file(
        tmp_path, catalogue="Scopia", author="Scopia", licence="CC-BY-3.0", source="Scopia.sh3f:scopia/chair1/"
    )).object(7)
    assert (new.catalogue, new.author, new.licence, new.source) == (
        "Scopia", "Scopia", "CC-BY-3.0", "Scopia.sh3f:scopia/chair1/")
    with pytest.raises(ValueError, match=r"ground_truth.json: malformed .*field 'licence' must be text"):
        load_ground_truth(_one_object_file(tmp_path, licence=3))


def test_attribute_words_are_optional(tmp_path):
    old = load_ground_truth(_one_object_file(tmp_path)).object(7)
    assert (old.colour, old.material, old.parts) == (None, None, ())
    new = load_ground_truth(_one_object_file(tmp_path, colour="red", material=None, parts=["seat", "leg"])).object(7)
    assert (new.colour, new.material, new.parts) == ("red", None, ("seat", "leg"))
    with pytest.raises(ValueError, match=r"malformed .*field 'parts' must be a list of texts"):
        load_ground_truth(_one_object_file(tmp_path, parts="seat"))


def test_generated_room_records_attribution(tiny_room):
    for obj in load_ground_truth(tiny_room).furniture:
        if obj.catalog_id.startswith("primitive/"):
            continue  # no furniture archive installed: primitives have no licence to record
        assert obj.catalogue == "BlendSwap-CC-0" and obj.licence == "CC0", obj.catalog_id
        assert obj.author and obj.source, obj.catalog_id
