"""A run trained by ``lerf3d train`` answers ``lerf3d query | export | eval`` from the command line
(the commands' work is tested in tests/query; this checks the parsers and the run folder hand-over)."""

from __future__ import annotations

import json

import pytest

from lerf3d_cli.main import main


@pytest.fixture(scope="module")
def run(tiny_scene, tiny_room, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    spec = f"lerf3d:tiny@{tiny_scene.towers}"
    assert main(["train", str(tiny_room), "--preset", "tiny", "--out", str(out), "--steps", "4",
                 "--image-text", spec, "--dense", spec, "--features-dir", str(tiny_scene.features_dir),
                 "--set", "logging.progress=false"]) == 0
    return out, spec


def test_query_export_and_eval_commands(run, tmp_path, capsys):
    out, spec = run
    capsys.readouterr()
    assert main(["query", str(out), "chair", "wall", "--camera", "eval:0", "--out", str(tmp_path / "q"),
                 "--image-text", spec]) == 0
    printed = capsys.readouterr().out
    assert "'chair': scale" in printed and "'wall': scale" in printed
    summary = json.loads(next((tmp_path / "q").glob("*_query.json")).read_text())
    assert [p["phrase"] for p in summary["phrases"]] == ["chair", "wall"]

    assert main(["export", str(out), "--phrase", "chair", "--out", str(tmp_path / "chair.ply"),
                 "--image-text", spec]) == 0
    assert (tmp_path / "chair.ply").is_file() and (tmp_path / "chair.json").is_file()

    assert main(["eval", str(out), "--max-views", "1", "--no-baselines", "--out", str(tmp_path / "eval.json"),
                 "--image-text", spec]) == 0
    assert "|" in capsys.readouterr().out  # the markdown table
    assert json.loads((tmp_path / "eval.json").read_text())


def test_bad_query_arguments_are_reported(run, tmp_path, capsys):
    out, spec = run
    assert main(["query", str(out), "chair", "--out", str(tmp_path / "q"), "--image-text", spec]) == 2
    assert "exactly one of --camera" in capsys.readouterr().err
    assert main(["query", str(tmp_path / "missing"), "chair", "--camera", "eval:0", "--out", str(tmp_path)]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
