"""Render-ready models: one OBJ plus a texture or colour per material, cached on disk.

A catalogue model is read from the zip archive, fitted to its catalogue size (Z-up metres, base on
z = 0, footprint centred), split by material and written under the cache folder the first time it
is needed; later rooms load the cached files. Primitive models are generated the same way.

Cache layout: ``<cache>/<archive>-<key>/<model>/parts.json`` plus ``part_NN.obj`` and
``texture_NN.png``. The key hashes the archive's size and mtime and :data:`CONVERTER_VERSION`, so a
changed archive or converter never reuses stale files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from data_tools.catalog import Catalog, CatalogEntry
from data_tools.objmesh import (
    Material,
    MeshPart,
    fit_to_size,
    parse_mtl,
    parse_obj,
    shift_uvs_positive,
    write_obj,
)
from data_tools.primitives import primitive_parts

CONVERTER_VERSION = 1
"""Bump when the conversion changes: it invalidates every cache entry."""

MAX_TEXTURE_PX = 512
"""Textures are downscaled to at most this side: renders are at most a few hundred pixels wide."""

MIN_OPACITY = 0.3
"""Materials more transparent than this (window glass, clear plastic) are left out: the
TinyRenderer cannot blend, and drawn opaque they would hide what is behind them. Depth and
instance masks are consistent with this (a depth camera mostly sees through glass too). A model
made only of such materials (a beer glass) is drawn opaque instead."""


@dataclass(frozen=True)
class RenderPart:
    """One material of a prepared model."""

    obj_path: Path
    """OBJ file in model coordinates (Z-up metres, footprint centred, base on z = 0)."""
    rgba: tuple[float, float, float, float]
    """Colour; multiplies the texture when there is one."""
    texture_path: Path | None
    """RGB PNG texture, or None."""


@dataclass(frozen=True)
class PreparedModel:
    """A catalogue model ready to render."""

    catalog_id: str
    """The catalogue entry it was made from."""
    parts: tuple[RenderPart, ...]
    """Meshes, one per material."""
    bounds_min: tuple[float, float, float]
    """Lower corner of the mesh in model coordinates (metres)."""
    bounds_max: tuple[float, float, float]
    """Upper corner: (width/2, depth/2, height) for a fitted model."""


def default_cache_dir() -> Path:
    """``$LERF3D_CACHE/furniture``, else ``$XDG_CACHE_HOME/lerf3d/furniture``, else ``~/.cache/...``."""
    if os.environ.get("LERF3D_CACHE"):
        return Path(os.environ["LERF3D_CACHE"]) / "furniture"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lerf3d" / "furniture"


def prepare_model(entry: CatalogEntry, catalog: Catalog, cache_dir: Path | None = None) -> PreparedModel:
    """The cached render-ready model of ``entry``, converting it on first use."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    # a model of a multi-catalogue selection names its own archive
    archive = entry.archive or catalog.archive
    folder = root / _archive_key(archive) / entry.catalog_id.replace("/", "__")
    index = folder / "parts.json"
    if not index.is_file():
        _convert_atomically(entry, archive, folder)
    return _load_index(index, entry.catalog_id)


def _archive_key(archive: Path | None) -> str:
    if archive is None:
        return f"primitives-v{CONVERTER_VERSION}"
    stat = archive.stat()
    token = f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{CONVERTER_VERSION}"
    return f"{archive.stem}-{hashlib.sha256(token.encode()).hexdigest()[:12]}"


def _convert_atomically(entry: CatalogEntry, archive: Path | None, folder: Path) -> None:
    """Convert into a temporary sibling folder and rename it into place (concurrent runs are safe)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        parts, textures = load_model_parts(entry, archive)
        _write_parts(tmp, parts, textures)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "parts.json").is_file():  # not a concurrent writer that won: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def load_model_parts(
    entry: CatalogEntry, archive: Path | None
) -> tuple[list[MeshPart], dict[str, np.ndarray]]:
    """Fitted mesh parts and their textures (name -> (H, W, 3) uint8) of one entry."""
    if archive is None:
        parts, texture = primitive_parts(entry.catalog_id)
        return parts, {"texture.png": texture}
    with zipfile.ZipFile(archive) as zf:
        obj_member = entry.model_path
        folder = posixpath.dirname(obj_member)
        obj_text, materials = read_obj_member(zf, obj_member, entry.catalog_id)
        parts = parse_obj(obj_text, materials, source=f"{archive}:{obj_member}")
        opaque = [p for p in parts if p.material.opacity >= MIN_OPACITY]
        parts = opaque or parts  # an all-glass model (a beer glass) is drawn opaque rather than lost
        parts = fit_to_size(parts, entry.size, _rotation(entry))
        textures = {}
        for part in parts:
            name = part.material.texture
            if name and name not in textures:
                member = posixpath.normpath(posixpath.join(folder, name))
                if member in zf.namelist():
                    textures[name] = _read_texture(zf.read(member))
    return parts, textures


def read_obj_member(zf: zipfile.ZipFile, obj_member: str, catalog_id: str) -> tuple[str, dict[str, Material]]:
    """The OBJ text of an archive member and the materials of its ``mtllib`` files."""
    folder = posixpath.dirname(obj_member)
    try:
        obj_text = zf.read(obj_member).decode("utf-8", errors="replace")
    except KeyError:
        raise ValueError(f"{zf.filename}: model {obj_member} of {catalog_id} is missing") from None
    materials: dict[str, Material] = {}
    for line in obj_text.splitlines():
        if line.startswith("mtllib"):
            mtl_member = posixpath.join(folder, line.split(None, 1)[1].strip())
            if mtl_member in zf.namelist():
                materials.update(parse_mtl(zf.read(mtl_member).decode("utf-8", errors="replace")))
    return obj_text, materials


def _rotation(entry: CatalogEntry) -> np.ndarray | None:
    return None if entry.model_rotation is None else np.asarray(entry.model_rotation).reshape(3, 3)  # (3, 3)


def _read_texture(data: bytes) -> np.ndarray:
    """(H, W, 3) uint8 texture, at most MAX_TEXTURE_PX; transparent texels take the mean colour."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        rgba = img.convert("RGBA")
    if max(rgba.size) > MAX_TEXTURE_PX:
        scale = MAX_TEXTURE_PX / max(rgba.size)
        rgba = rgba.resize(
            (max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale))), Image.BILINEAR
        )
    arr = np.asarray(rgba, dtype=np.float64)
    alpha = arr[..., 3:] / 255.0
    if (alpha < 1).any() and alpha.sum() > 0:
        # leaves and labels cut out by alpha: the renderer draws the whole quad, so fill the
        # transparent texels with the visible mean instead of arbitrary hidden colours
        mean = (arr[..., :3] * alpha).sum(axis=(0, 1)) / alpha.sum()
        arr[..., :3] = arr[..., :3] * alpha + mean * (1 - alpha)
    return np.round(arr[..., :3]).astype(np.uint8)


def _write_parts(folder: Path, parts: list[MeshPart], textures: dict[str, np.ndarray]) -> None:
    lo = np.min([p.positions.reshape(-1, 3).min(axis=0) for p in parts], axis=0)
    hi = np.max([p.positions.reshape(-1, 3).max(axis=0) for p in parts], axis=0)
    texture_files: dict[str, str] = {}
    records = []
    for i, part in enumerate(parts):
        name = part.material.texture
        textured = name in textures and part.uvs is not None
        if textured and name not in texture_files:
            texture_files[name] = f"texture_{len(texture_files):02d}.png"
            Image.fromarray(textures[name]).save(folder / texture_files[name])
        if part.uvs is not None:
            part = MeshPart(part.material, part.positions, part.normals, shift_uvs_positive(part.uvs))
        write_obj(folder / f"part_{i:02d}.obj", part)
        # a texture replaces Kd (as Sweet Home 3D shows textured materials), else Kd is the colour
        rgb = (1.0, 1.0, 1.0) if textured else part.material.diffuse
        records.append(
            {
                "obj": f"part_{i:02d}.obj",
                "rgba": [*map(float, rgb), 1.0],
                "texture": texture_files.get(name) if textured else None,
            }
        )
    index = {"bounds_min": lo.tolist(), "bounds_max": hi.tolist(), "parts": records}
    (folder / "parts.json").write_text(json.dumps(index, indent=1))


def _load_index(index: Path, catalog_id: str) -> PreparedModel:
    data = json.loads(index.read_text())
    folder = index.parent
    parts = tuple(
        RenderPart(
            obj_path=folder / r["obj"],
            rgba=tuple(r["rgba"]),
            texture_path=folder / r["texture"] if r["texture"] else None,
        )
        for r in data["parts"]
    )
    return PreparedModel(catalog_id, parts, tuple(data["bounds_min"]), tuple(data["bounds_max"]))
