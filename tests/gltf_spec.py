"""GLB files read as the glTF 2.0 specification lays them out, independently of lerf3d's writer:
the 12-byte header, the JSON and BIN chunks, accessors decoded by component type, type, stride and
``normalized``; the sRGB encoding a viewer applies to linear colour for the screen; and the Khronos
validator's verdict on a file."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def read_glb(path: Path) -> tuple[dict, bytes]:
    """(JSON tree, BIN chunk) of a GLB; asserts the header and chunk framing the specification requires."""
    data = Path(path).read_bytes()
    magic, version, length = struct.unpack("<4sII", data[:12])
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, kind = struct.unpack("<I4s", data[12:20])
    assert kind == b"JSON" and json_length % 4 == 0
    tree = json.loads(data[20 : 20 + json_length])
    rest = data[20 + json_length :]
    if not rest:
        return tree, b""
    bin_length, kind = struct.unpack("<I4s", rest[:8])
    assert kind == b"BIN\x00" and bin_length % 4 == 0 and len(rest) == 8 + bin_length
    return tree, rest[8:]


def accessor(tree: dict, binary: bytes, index: int) -> np.ndarray:
    """Accessor ``index`` as an (count, width) array; normalised integers become floats in [0, 1]."""
    acc = tree["accessors"][index]
    view = tree["bufferViews"][acc["bufferView"]]
    dtype = np.dtype(COMPONENTS[acc["componentType"]]).newbyteorder("<")
    width = WIDTH[acc["type"]]
    stride = view.get("byteStride", dtype.itemsize * width)
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    assert start % dtype.itemsize == 0
    rows = [np.frombuffer(binary, dtype, width, start + i * stride) for i in range(acc["count"])]
    values = np.stack(rows)
    if acc.get("normalized"):
        values = values.astype(np.float64) / np.iinfo(dtype).max
    return values


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """The sRGB encoding (IEC 61966-2-1) of linear values in [0, 1]."""
    c = np.clip(linear, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


VALIDATOR = Path(__file__).resolve().parent / "vendor" / "gltf-validator" / "index.js"
"""The Khronos Group's glTF-Validator (vendored, see its VENDORED.txt), run with Node.js."""
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js is absent (Debian package `nodejs`; `make setup` installs it)")
_VALIDATE = """
const validator = require(process.argv[1]);
const bytes = new Uint8Array(require('fs').readFileSync(process.argv[2]));
validator.validateBytes(bytes).then((report) => console.log(JSON.stringify(report.issues)),
                                    (error) => { console.error(String(error)); process.exit(1); });
"""


def assert_valid_gltf(path: Path) -> None:
    """The Khronos validator finds no error, warning, info or hint in the file."""
    done = subprocess.run([NODE, "-e", _VALIDATE, str(VALIDATOR), str(path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    issues = json.loads(done.stdout)
    counts = [issues[k] for k in ("numErrors", "numWarnings", "numInfos", "numHints")]
    assert counts == [0, 0, 0, 0], json.dumps(issues["messages"], indent=1)
