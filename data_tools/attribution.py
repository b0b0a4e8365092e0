"""Who made each catalogue model and under which licence, and the credits file built from that.

Four of the five Sweet Home 3D catalogues are Creative Commons Attribution 3.0: a rendered room or a
model trained on them must credit the authors. The facts come from the installed package, not from
a table kept here:

- the licence of a catalogue: the Debian machine-readable copyright file of
  ``sweethome3d-furniture`` (``Files: Scopia/*`` ... ``License: CC-BY-3.0``), else the ``license``
  line of the catalogue's own properties file;
- the author of a model: the catalogue's ``creator#N``;
- where a model was published: the Blend Swap page named in the licence file shipped in the model's
  folder (``Downloaded from http://www.blendswap.com/blends/view/70974``); catalogues without such
  files (Kator Legaz, Scopia, Reallusion) are credited to the archive folder of the model.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

CatalogEntry = TypeVar("CatalogEntry", bound=Any)
"""A catalogue entry (``data_tools.catalog.CatalogEntry``, a frozen dataclass with ``catalogue``,
``author``, ``licence``, ``source`` ... fields); generic here so this module does not import the
catalogue reader that imports it."""

DEBIAN_COPYRIGHT = Path("/usr/share/doc/sweethome3d-furniture/copyright")
"""Machine-readable copyright file of Debian's ``sweethome3d-furniture``."""

LICENCE_URLS = {
    "CC0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC-BY-3.0": "https://creativecommons.org/licenses/by/3.0/",
    "CC-BY-3.0-USA": "https://creativecommons.org/licenses/by/3.0/us/",
}
"""Licence texts of the short names used by the copyright file."""

SOURCE_URL = re.compile(r"https?://(?:www\.)?blendswap\.com/blends/view/\d+")
"""A model's page on Blend Swap, as its licence file names it."""

LICENCE_FILE = re.compile(r"licen[cs]e[^/]*\.(?:txt|html?)$", re.IGNORECASE)
"""Per-model licence files inside a model's folder."""


def parse_copyright(text: str) -> dict[str, tuple[str, str]]:
    """Top folder -> (licence short name, copyright holders) of a Debian DEP-5 copyright file."""
    out: dict[str, tuple[str, str]] = {}
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in paragraph.splitlines():
            if line[:1] in (" ", "\t") and key is not None:  # a continuation line
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        for pattern in fields.get("files", "").split():
            if pattern.endswith("/*") and "license" in fields:
                holders = re.sub(r"\s+", " ", fields.get("copyright", "")).strip()
                out[pattern[:-2]] = (fields["license"].split()[0], holders)
    return out


def catalogue_licence(catalogue: str, header: str, copyright_path: Path | None = None) -> tuple[str, str]:
    """(licence, copyright holders) of a catalogue: the copyright file (default
    :data:`DEBIAN_COPYRIGHT`), else its properties header."""
    copyright_path = DEBIAN_COPYRIGHT if copyright_path is None else copyright_path
    if copyright_path.is_file():
        known = parse_copyright(copyright_path.read_text(encoding="utf-8", errors="replace"))
        if catalogue in known:
            return known[catalogue]
    return licence_from_header(header), ""


def licence_from_header(header: str) -> str:
    """Short licence name of a catalogue's ``license=`` line (``Public domain`` -> ``CC0``)."""
    text = header.lower()
    if "public domain" in text:
        return "CC0"
    if "attribution 3.0" in text:
        return "CC-BY-3.0-USA" if "united states" in text else "CC-BY-3.0"
    return header.strip() or "unknown"


def model_sources(zf: zipfile.ZipFile, folders: Iterable[str]) -> dict[str, str]:
    """Model folder -> Blend Swap page named by a licence file in it (absent when none names one)."""
    wanted = set(folders)
    out: dict[str, str] = {}
    for member in zf.namelist():
        folder = posixpath.dirname(member)
        if folder in wanted and folder not in out and LICENCE_FILE.search(posixpath.basename(member)):
            match = SOURCE_URL.search(zf.read(member).decode("utf-8", errors="replace"))
            if match:
                out[folder] = match.group(0)
    return out


def attribute_entries(
    entries: Sequence[CatalogEntry], zf: zipfile.ZipFile, header: str, copyright_path: Path | None = None
) -> list[CatalogEntry]:
    """``entries`` of one archive with ``licence`` and ``source`` filled in."""
    if not entries:
        return []
    licence, _ = catalogue_licence(entries[0].catalogue, header, copyright_path)
    folders = {e.catalog_id: posixpath.dirname(e.model_path or "") for e in entries}
    sources = model_sources(zf, folders.values())
    archive_name = Path(zf.filename or "").name
    return [
        replace(
            e,
            licence=licence,
            source=sources.get(folders[e.catalog_id]) or f"{archive_name}:{folders[e.catalog_id]}/",
        )
        for e in entries
    ]


def archive_copyrights(text: str) -> tuple[dict[str, str], str]:
    """(model folder name -> holder, holder of the rest) from an archive's ``LICENSE.TXT``.

    Scopia's file names one holder "for the icons and the 265 following models: - air-mattress ..."
    and another "for all the other models"; the other catalogues name one holder for everything.
    """
    listed: dict[str, str] = {}
    default, current = "", ""
    for raw in text.splitlines():
        line = raw.strip()
        match = re.match(r"\(C\)\s*Copyrights?\s+(.*)", line, re.IGNORECASE)
        if match:
            current = match.group(1).strip()
            default = default or current
        elif line.startswith("- ") and current:
            listed[line[2:].strip()] = current
        elif "all the other models" in line and current:
            default = current
    return listed, default


def _archive_holders(archive: Path | None) -> tuple[dict[str, str], str]:
    if archive is None or not Path(archive).is_file():
        return {}, ""
    with zipfile.ZipFile(archive) as zf:
        if "LICENSE.TXT" not in zf.namelist():
            return {}, ""
        return archive_copyrights(zf.read("LICENSE.TXT").decode("iso-8859-1"))


def requires_attribution(licence: str) -> bool:
    """True for the Creative Commons Attribution licences."""
    return licence.startswith("CC-BY")


def credits_markdown(entries: Sequence[CatalogEntry], copyright_path: Path | None = None) -> str:
    """A credits file listing every model that needs attribution, by catalogue."""
    copyright_path = DEBIAN_COPYRIGHT if copyright_path is None else copyright_path
    text = copyright_path.read_text(encoding="utf-8", errors="replace") if copyright_path.is_file() else ""
    holders = parse_copyright(text)
    by_catalogue: dict[str, list[CatalogEntry]] = {}
    for e in sorted(entries, key=lambda e: (e.catalogue, e.name.lower(), e.catalog_id)):
        if requires_attribution(e.licence):
            by_catalogue.setdefault(e.catalogue, []).append(e)
    lines = [
        "# Credits for the furniture models",
        "",
        "Generated rooms (`python -m data_tools.make_room --catalogues ...`) and the encoders trained on",
        "them use 3D models from the Sweet Home 3D furniture catalogues as packaged by Debian",
        "(`sweethome3d-furniture`). The models listed here are licensed under Creative Commons",
        "Attribution 3.0; each was converted to metres, scaled to its catalogue size and split by",
        "material for rendering (modified from the original). Blend Swap CC-0 models are public domain",
        "and need no credit. Regenerate this file with `python -m data_tools.catalogues --credits CREDITS.md`.",
    ]
    for catalogue, group in by_catalogue.items():
        licence = group[0].licence
        lines += [
            "",
            f"## {catalogue} ({len(group)} models, {licence}: {LICENCE_URLS.get(licence, licence)})",
            "",
        ]
        if holders.get(catalogue, ("", ""))[1]:
            lines += [f"Copyright: {holders[catalogue][1]}", ""]
        listed, rest = _archive_holders(group[0].archive)
        lines += ["| model | author | copyright | source |", "| --- | --- | --- | --- |"]
        for e in group:
            holder = listed.get(e.catalog_id.rsplit("/", 1)[-1], rest) or "-"
            lines.append(
                f"| {e.name} (`{e.catalog_id}`) | {e.creator or 'unknown'} | {holder} | {e.source} |"
            )
    return "\n".join(lines) + "\n"
