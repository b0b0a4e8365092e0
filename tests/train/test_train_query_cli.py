"""A run trained by ``lerf3d train`` answers ``lerf3d query | export | eval`` from the command line
(the commands' work is tested in tests/query; this checks the parsers and the run folder hand-over)."""

from __future__ import annotations

import json

import pytest

from lerf3d_cli.main import main


@pytest.fixture(scope="module")
def run(tiny_run):
    return tiny_run.out, tiny_run.spec


def test_query_export_and_eval_commands(run, tmp_path, capsys, monkeypatch):
    import lerf3d.query.checkpoint as checkpoint_module

    out, spec = run
    capsys.readouterr()
    assert main(["query", str(out), "chair", "wall", "--camera", "eval:0", "--out", str(tmp_path / "q"),
                 "--image-text", spec]) == 0
    printed = capsys.readouterr().out
    assert "'chair': scale" in printed and "'wall': scale" in printed
    summary = json.loads(next((tmp_path / "q").glob("*_query.json")).read_text())
    assert [p["phrase"] for p in summary["phrases"]] == ["chair", "wall"]

    opened, open_scene = [], checkpoint_module.open_scene
    monkeypatch.setattr(checkpoint_module, "open_scene", lambda *a, **k: opened.append(a) or open_scene(*a, **k))
    assert main(["export", str(out), "--phrase", "chair", "--out", str(tmp_path / "chair.ply"),
                 "--image-text", spec]) == 0
    assert len(opened) == 1  # the phrase's PLY and its objects come from one opening of the checkpoint
    assert (tmp_path / "chair.ply").is_file() and (tmp_path / "chair.json").is_file()
    boxes = json.loads((tmp_path / "chair_objects" / "chair_objects.json").read_text())
    assert boxes["phrase"] == "chair" and isinstance(boxes["objects"], list)

    assert main(["eval", str(out), "--max-views", "1", "--no-baselines", "--out", str(tmp_path / "eval.json"),
                 "--image-text", spec]) == 0
    printed = capsys.readouterr().out
    assert "| lerf3d-field |" in printed and "| lerf3d-objects |" in printed  # both modes, one table
    assert "recall (furniture)" in printed  # the object layer's own figures
    assert json.loads((tmp_path / "eval.json").read_text())
    assert json.loads((tmp_path / "eval_objects.json").read_text())["num_annotated"] >= 1


def test_train_leaves_the_scene_segmented(run):
    out, _ = run
    assert (out / "objects" / "objects.npz").is_file() and (out / "objects" / "objects.json").is_file()


def test_bad_query_arguments_are_reported(run, tmp_path, capsys):
    out, spec = run
    assert main(["query", str(out), "chair", "--out", str(tmp_path / "q"), "--image-text", spec]) == 2
    assert "exactly one of --camera" in capsys.readouterr().err
    assert main(["query", str(tmp_path / "missing"), "chair", "--camera", "eval:0", "--out", str(tmp_path)]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
