"""Model attribution: licences from the Debian copyright file, sources from per-model licence files."""

from __future__ import annotations

import zipfile
from dataclasses import replace

import pytest

from data_tools.attribution import (
    DEBIAN_COPYRIGHT,
    archive_copyrights,
    credits_markdown,
    licence_from_header,
    parse_copyright,
)
from data_tools.catalog import load_catalog

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Test models

Files: Makers/*
Copyright: 2010-2012, Some Makers
           and friends
License: CC-BY-3.0-USA

Files: Free/*
Copyright: 2014, Someone
License: CC0

License: CC-BY-3.0
 Creative Commons Attribution 3.0 Unported
 .
 (text)
"""

PROPERTIES = """id=Makers
license=Creative Commons Attribution 3.0 license
id#1=Makers#stool
name#1=Bar stool
category#1=Kitchen
model#1=/makers/stool/stool.obj
width#1=40
depth#1=40
height#1=75
creator#1=Ann Author
id#2=Makers#bench
name#2=Bench
category#2=Living room
model#2=/makers/bench/bench.obj
width#2=120
depth#2=40
height#2=45
creator#2=Bob Builder
"""


def _archive(folder, name: str = "Makers.sh3f"):
    path = folder / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("PluginFurnitureCatalog.properties", PROPERTIES)
        zf.writestr("LICENSE.TXT", "LICENSE\n(C) Copyright Makers Inc\n")
        zf.writestr("makers/stool/stool.obj", "v 0 0 0\n")
        zf.writestr(
            "makers/stool/BLENDSWAP_LICENSE.txt",
            'Thank you for downloading "stool" by Ann Author\nDownloaded from http://www.blendswap.com/blends/view/123\n',
        )
        zf.writestr("makers/bench/bench.obj", "v 0 0 0\n")
    return path


def test_parse_copyright_reads_files_paragraphs():
    parsed = parse_copyright(COPYRIGHT)
    assert parsed == {
        "Makers": ("CC-BY-3.0-USA", "2010-2012, Some Makers and friends"),
        "Free": ("CC0", "2014, Someone"),
    }


@pytest.mark.parametrize(
    "header, licence",
    [
        ("Public domain", "CC0"),
        ("Creative Commons Attribution 3.0 license", "CC-BY-3.0"),
        ("Creative Commons Attribution 3.0 United States license  Copyright 2008 X", "CC-BY-3.0-USA"),
        ("", "unknown"),
    ],
)
def test_licence_from_header(header, licence):
    assert licence_from_header(header) == licence


def test_entries_get_licence_author_and_source(tmp_path, monkeypatch):
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text(COPYRIGHT)
    monkeypatch.setattr("data_tools.attribution.DEBIAN_COPYRIGHT", copyright_file)
    catalog = load_catalog(_archive(tmp_path), strict=True)
    stool = catalog.get("makers/stool")
    bench = catalog.get("makers/bench")
    assert (stool.catalogue, stool.creator, stool.source) == (
        "Makers",
        "Ann Author",
        "http://www.blendswap.com/blends/view/123",
    )
    assert bench.source == "Makers.sh3f:makers/bench/"  # no licence file: the archive folder
    # the copyright file wins over the properties header ("Attribution 3.0 license")
    assert stool.licence == bench.licence == "CC-BY-3.0-USA"
    text = credits_markdown(catalog.entries, copyright_file)
    assert "## Makers (2 models, CC-BY-3.0-USA: https://creativecommons.org/licenses/by/3.0/us/)" in text
    assert "Copyright: 2010-2012, Some Makers and friends" in text
    assert (
        "| Bar stool (`makers/stool`) | Ann Author | Makers Inc | http://www.blendswap.com/blends/view/123 |"
        in text
    )
    assert text.index("| Bar stool") < text.index("| Bench")  # sorted by name


def test_without_the_copyright_file_the_header_names_the_licence(tmp_path, monkeypatch):
    monkeypatch.setattr("data_tools.attribution.DEBIAN_COPYRIGHT", tmp_path / "absent")
    catalog = load_catalog(_archive(tmp_path), strict=True)
    assert {e.licence for e in catalog.entries} == {"CC-BY-3.0"}


def test_public_domain_models_need_no_credit(tmp_path):
    catalog = load_catalog(_archive(tmp_path), strict=True)
    cc0 = [replace(e, licence="CC0") for e in catalog.entries]
    assert "| Bar stool" not in credits_markdown(cc0, tmp_path / "no-copyright")


@pytest.mark.skipif(not DEBIAN_COPYRIGHT.is_file(), reason="sweethome3d-furniture absent")
def test_installed_copyright_names_the_five_catalogues():
    parsed = parse_copyright(DEBIAN_COPYRIGHT.read_text())
    assert parsed["BlendSwap-CC-0"][0] == "CC0"
    assert {parsed[n][0] for n in ("BlendSwap-CC-BY", "Scopia")} == {"CC-BY-3.0"}
    assert {parsed[n][0] for n in ("KatorLegaz", "Reallusion")} == {"CC-BY-3.0-USA"}


def test_archive_copyrights_reads_listed_models_and_the_rest():
    text = """LICENSE
(C) Copyrights 2014-2020 First Holder and Second Holder

for the icons and the 2 following models:
- air-mattress
- aquarium

(C) Copyrights 2006-2020 Second Holder

for all the other models
"""
    listed, rest = archive_copyrights(text)
    assert listed == {
        "air-mattress": "2014-2020 First Holder and Second Holder",
        "aquarium": "2014-2020 First Holder and Second Holder",
    }
    assert rest == "2006-2020 Second Holder"
    assert archive_copyrights("(C) Copyright Andrew Kator & Jennifer Legaz\nThese files...") == (
        {},
        "Andrew Kator & Jennifer Legaz",
    )
