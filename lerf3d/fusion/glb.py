"""A vertex-coloured triangle mesh as glTF 2.0 binary (GLB), written from the specification.

glTF defines ``COLOR_0`` as linear colour that multiplies the base colour, and viewers convert their
linear result to sRGB for the screen. A capture's colours are sRGB (they come from photographs), so
they are converted to linear here; stored as 8-bit values the dark linear shades would band, so
``COLOR_0`` is unsigned short normalised (RGBA, 16 bits a channel), which the specification allows
for vertex colours. Layout: one buffer holding positions (float VEC3, with the min/max the
specification requires), colours and uint32 triangle indices, each 4-byte aligned; one mesh, one
node, one scene, and a white, non-metallic, fully rough, double-sided material so the vertex colours
show as they are (glTF's default material is metallic and draws a mesh almost black).
"""

from __future__ import annotations

import json
import struct

import numpy as np
from jaxtyping import Float, Int

GLB_MAGIC = b"glTF"
CHUNK_JSON = b"JSON"
CHUNK_BIN = b"BIN\x00"
FLOAT, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5123, 5125
"""Accessor component types (glTF 2.0, 3.6.2.2)."""
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
TRIANGLES = 4


def srgb_to_linear(srgb: Float[np.ndarray, "..."]) -> Float[np.ndarray, "..."]:
    """The sRGB transfer function inverted (IEC 61966-2-1), values in [0, 1]."""
    c = np.clip(np.asarray(srgb, np.float64), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _padded(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


def glb_bytes(
    positions: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"], srgb: Float[np.ndarray, "V 3"], name: str = "mesh"
) -> bytes:
    """The GLB file of a mesh given in glTF's own frame (+Y up, metres) with sRGB vertex colours in
    [0, 1]. An empty mesh has no valid glTF form (accessors hold at least one element): ValueError."""
    positions = np.ascontiguousarray(positions, np.float32)
    faces = np.ascontiguousarray(faces, np.uint32)
    if positions.ndim != 2 or positions.shape[1] != 3 or len(positions) == 0:
        raise ValueError(f"a GLB mesh needs (V, 3) positions with V >= 1, got shape {positions.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise ValueError(f"a GLB mesh needs (F, 3) triangles with F >= 1, got shape {faces.shape}")
    if np.asarray(srgb).shape != positions.shape:
        raise ValueError(f"colours {np.asarray(srgb).shape} do not match positions {positions.shape}")
    if faces.max() >= len(positions):
        raise ValueError(f"a triangle refers to vertex {int(faces.max())} of {len(positions)}")
    if not np.isfinite(positions).all() or not np.isfinite(srgb).all():
        raise ValueError("a GLB mesh's positions and colours must be finite")
    linear = np.round(srgb_to_linear(srgb) * 65535.0).astype(np.uint16)
    rgba = np.concatenate([linear, np.full((len(linear), 1), 65535, np.uint16)], axis=1)
    parts = [positions.tobytes(), rgba.tobytes(), faces.tobytes()]  # each a multiple of 4 bytes
    offsets = np.cumsum([0] + [len(p) for p in parts]).tolist()
    views = [
        {"buffer": 0, "byteOffset": offsets[i], "byteLength": len(p), "target": target}
        for i, (p, target) in enumerate(zip(parts, (ARRAY_BUFFER, ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER), strict=True))
    ]
    accessors = [
        {"bufferView": 0, "componentType": FLOAT, "count": len(positions), "type": "VEC3",
         "min": positions.min(axis=0).tolist(), "max": positions.max(axis=0).tolist()},
        {"bufferView": 1, "componentType": UNSIGNED_SHORT, "normalized": True, "count": len(rgba), "type": "VEC4"},
        {"bufferView": 2, "componentType": UNSIGNED_INT, "count": faces.size, "type": "SCALAR"},
    ]
    material = {
        "name": "vertex_colour",
        "pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0, "roughnessFactor": 1.0},
        "doubleSided": True,
    }
    tree = {
        "asset": {"version": "2.0", "generator": "lerf3d"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"name": name, "primitives": [
            {"attributes": {"POSITION": 0, "COLOR_0": 1}, "indices": 2, "material": 0, "mode": TRIANGLES}]}],
        "materials": [material],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": offsets[-1]}],
    }
    text = _padded(json.dumps(tree, separators=(",", ":")).encode("utf-8"), b" ")
    binary = _padded(b"".join(parts), b"\x00")
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join([
        struct.pack("<4sII", GLB_MAGIC, 2, total),
        struct.pack("<I4s", len(text), CHUNK_JSON), text,
        struct.pack("<I4s", len(binary), CHUNK_BIN), binary,
    ])
