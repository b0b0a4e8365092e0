"""Point-set PLY files: one writer and one reader for every PLY lerf3d writes or reads as points.

Follows the PLY format (Turk, 1994): an ASCII header (``ply``, ``format <ascii | binary_little_endian
| binary_big_endian> 1.0``, ``element <name> <count>``, ``property <type> <name>``, ``end_header``),
then the elements in header order. The reader returns the ``vertex`` element's scalar properties;
elements before it may only hold scalar properties in binary files (a list property's size is only
known by reading it), and those after it are never read (a mesh's faces, say).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerf3d.atomic import atomic_path

_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
"""PLY scalar type names (both spellings of the specification) -> numpy type codes."""
_NAMES = {"i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort", "i4": "int", "u4": "uint",
          "f4": "float", "f8": "double"}


class PlyError(ValueError):
    """A PLY file lerf3d cannot read; the message names the file and the problem."""


def write_vertex_ply(path: str | Path, columns: dict[str, np.ndarray], comment: str | None = None) -> Path:
    """A binary little-endian PLY with one ``vertex`` element whose properties are ``columns``
    (name -> (N,) array; its dtype picks the PLY type), written atomically."""
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    sizes = {len(values) for values in arrays.values()}
    if len(sizes) != 1 or any(values.ndim != 1 for values in arrays.values()):
        raise ValueError(f"PLY columns must be (N,) arrays of one length, got "
                         f"{ {name: values.shape for name, values in arrays.items()} }")
    n = sizes.pop()
    codes = {name: values.dtype.str.lstrip("<>|=") for name, values in arrays.items()}
    unknown = {name: code for name, code in codes.items() if code not in _NAMES}
    if unknown:
        raise ValueError(f"PLY has no type for columns {unknown}")
    data = np.empty(n, np.dtype([(name, "<" + code) for name, code in codes.items()]))
    for name, values in arrays.items():
        data[name] = values
    lines = ["ply", "format binary_little_endian 1.0", *([f"comment {comment}"] if comment else []),
             f"element vertex {n}", *(f"property {_NAMES[code]} {name}" for name, code in codes.items()),
             "end_header"]
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(("\n".join(lines) + "\n").encode("ascii"))
            handle.write(data.tobytes())
    return path


def _header(path: Path, raw: bytes) -> tuple[str, list[tuple[str, int, list[tuple[str, ...]]]], int]:
    """The format, the elements (name, count, properties) and where the body starts."""
    end = raw.find(b"end_header")
    if not raw.startswith(b"ply") or end < 0:
        raise PlyError(f"{path}: not a PLY file (no 'ply' magic or no 'end_header')")
    body = raw.index(b"\n", end) + 1
    fmt, elements = None, []
    for line in raw[:end].decode("ascii", "replace").splitlines()[1:]:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format":
            fmt = words[1]
        elif words[0] == "element":
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            elements[-1][2].append(tuple(words[1:]))
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise PlyError(f"{path}: unknown PLY format {fmt!r}")
    return fmt, elements, body


def read_vertex_ply(path: str | Path) -> dict[str, np.ndarray]:
    """The ``vertex`` element's scalar properties (name -> (N,) array) of an ASCII or binary PLY."""
    path = Path(path)
    if not path.is_file():
        raise PlyError(f"{path}: no such PLY file")
    raw = path.read_bytes()
    fmt, elements, offset = _header(path, raw)
    names = [name for name, _, _ in elements]
    if "vertex" not in names:
        raise PlyError(f"{path}: no 'vertex' element (elements: {names})")
    if fmt == "ascii":
        rows = raw[offset:].decode("ascii", "replace").splitlines()
        skip = sum(count for name, count, _ in elements[: names.index("vertex")])
        _, count, properties = elements[names.index("vertex")]
        if any(p[0] == "list" for p in properties):
            raise PlyError(f"{path}: list properties in the vertex element are not supported")
        table = np.array([row.split() for row in rows[skip: skip + count]], dtype=np.float64).reshape(count, -1)
        if table.shape[1] != len(properties):
            raise PlyError(f"{path}: vertex rows have {table.shape[1]} values for {len(properties)} properties")
        return {p[1]: table[:, i].astype(_TYPES[p[0]]) for i, p in enumerate(properties)}
    order = "<" if fmt == "binary_little_endian" else ">"
    for name, count, properties in elements:
        if any(p[0] == "list" for p in properties):
            raise PlyError(f"{path}: element {name!r} has list properties"
                           + (" (unsupported in the vertex element)" if name == "vertex" else
                              " before the vertex element; its size is unknown without reading it"))
        unknown = [p[0] for p in properties if p[0] not in _TYPES]
        if unknown:
            raise PlyError(f"{path}: unknown PLY property types {unknown}")
        dtype = np.dtype([(p[1], order + _TYPES[p[0]]) for p in properties])
        if name == "vertex":
            if len(raw) - offset < count * dtype.itemsize:
                raise PlyError(f"{path}: truncated: {count} vertices need {count * dtype.itemsize} bytes, "
                               f"{len(raw) - offset} left")
            data = np.frombuffer(raw, dtype, count, offset)
            return {p[1]: data[p[1]].astype(dtype[p[1]].newbyteorder("=")) for p in properties}
        offset += count * dtype.itemsize
    raise AssertionError("unreachable: the vertex element was found above")
