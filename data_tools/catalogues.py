"""Several Sweet Home 3D catalogues as one, with one label per kind and splits by label.

Debian's ``sweethome3d-furniture`` installs five catalogues (:data:`CATALOGUES`). The default room
generator reads Blend Swap CC-0 alone, labels models by their catalogue names and splits them by the
older per-model hash (:mod:`data_tools.catalog`): the packaged encoders and the README's figures
were made that way. Choosing catalogues here (``--catalogues all``) is the opt-in for the wider
vocabulary: every model gets the label of its kind (:func:`data_tools.labels.kind_of`) and the
split of :func:`data_tools.splits.split_by_label`, computed over every installed catalogue.

    python -m data_tools.catalogues                       # models, labels and splits per catalogue
    python -m data_tools.catalogues --credits CREDITS.md  # credits of the CC-BY models
    python -m data_tools.catalogues --splits splits.json  # label -> train / held-out model ids
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from data_tools.attribution import DEBIAN_COPYRIGHT, credits_markdown
from data_tools.catalog import DEFAULT_ARCHIVE, INSTALL_HINT, Catalog, FurnitureArchiveMissing, load_catalog
from data_tools.labels import kind_of
from data_tools.splits import split_by_label
from lerf3d.atomic import atomic_path, write_json_atomic

FURNITURE_DIR = DEFAULT_ARCHIVE.parent
"""Where the package installs the ``.sh3f`` archives."""

CATALOGUES = ("BlendSwap-CC-0", "BlendSwap-CC-BY", "KatorLegaz", "Reallusion", "Scopia")
"""The catalogues of ``sweethome3d-furniture`` (archive stems)."""


def parse_selection(text: str) -> tuple[str, ...]:
    """``all`` or a comma-separated list of :data:`CATALOGUES` names -> the names, in package order."""
    names = CATALOGUES if text.strip() == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in CATALOGUES]
    if unknown or not names:
        raise ValueError(
            f"unknown catalogue(s) {unknown or text!r}; choose 'all' or from {', '.join(CATALOGUES)}"
        )
    return tuple(n for n in CATALOGUES if n in names)


def load_catalogues(names: Sequence[str], folder: Path = FURNITURE_DIR) -> Catalog:
    """The chosen catalogues as one :class:`Catalog` with kind labels and by-label splits.

    Raises :class:`FurnitureArchiveMissing` naming the archive when a chosen one is not installed.
    The split is computed over every installed catalogue, chosen or not.
    """
    names = parse_selection(",".join(names))
    folder = Path(folder)
    for name in names:
        if not (folder / f"{name}.sh3f").is_file():
            raise FurnitureArchiveMissing(
                f"furniture archive {folder / f'{name}.sh3f'} not found; {INSTALL_HINT}"
            )
    loaded = {
        name: load_catalog(folder / f"{name}.sh3f", strict=True)
        for name in CATALOGUES
        if (folder / f"{name}.sh3f").is_file()
    }
    everything = [replace(e, label=kind_of(e.name)) for c in loaded.values() for e in c.entries]
    chosen = [e for e in split_by_label(everything) if e.catalogue in names]
    return Catalog(
        entries=tuple(chosen),
        excluded=tuple(x for name in names for x in loaded[name].excluded),
        archive=None,
        archives=tuple(folder / f"{name}.sh3f" for name in names),
    )


def summary_table(catalog: Catalog) -> str:
    """Markdown table: models, usable models, labels and held-out models per catalogue and in all."""
    rows = [
        "| catalogue | models | usable | labels | labels with >= 2 models | held-out models |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    excluded = Counter(cid.split("/")[0] for cid, _ in catalog.excluded)
    groups = {a.stem: [e for e in catalog.entries if e.catalogue == a.stem] for a in catalog.archives}
    groups["all"] = list(catalog.entries)
    for name, entries in groups.items():
        per_label = Counter(e.label for e in entries)
        folder_count = sum(excluded.values()) if name == "all" else excluded.get(name.lower(), 0)
        rows.append(
            f"| {name} | {len(entries) + folder_count} | {len(entries)} | {len(per_label)} | "
            f"{sum(1 for n in per_label.values() if n >= 2)} | {sum(e.split == 'held-out' for e in entries)} |"
        )
    return "\n".join(rows)


def split_table(catalog: Catalog) -> dict[str, dict[str, list[str]]]:
    """Label -> {"train": ids, "held-out": ids}, sorted: the split for reviewers and model cards."""
    table: dict[str, dict[str, list[str]]] = {}
    for e in sorted(catalog.entries, key=lambda e: (e.label, e.catalog_id)):
        table.setdefault(e.label, {"train": [], "held-out": []})[e.split].append(e.catalog_id)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_tools.catalogues", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--catalogues", default="all", help="'all' or a comma-separated list (default: all)")
    parser.add_argument("--folder", type=Path, default=FURNITURE_DIR, help="folder of the .sh3f archives")
    parser.add_argument("--credits", type=Path, help="write the credits of the CC-BY models to this file")
    parser.add_argument("--splits", type=Path, help="write label -> train and held-out model ids (JSON)")
    parser.add_argument(
        "--copyright", type=Path, default=DEBIAN_COPYRIGHT, help="the package's copyright file"
    )
    args = parser.parse_args(argv)
    try:
        catalog = load_catalogues(parse_selection(args.catalogues), args.folder)
    except (ValueError, FurnitureArchiveMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_table(catalog))
    if args.splits is not None:
        write_json_atomic(args.splits, split_table(catalog))
        print(f"wrote {args.splits}")
    if args.credits is not None:
        with atomic_path(args.credits) as tmp:
            tmp.write_text(credits_markdown(catalog.entries, args.copyright), encoding="utf-8")
        print(f"wrote {args.credits}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
