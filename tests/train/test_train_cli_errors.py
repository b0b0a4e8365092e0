"""Bad input to ``lerf3d train | query | render | export | eval``: a one-line error naming the file or
argument, exit status 2 and nothing written; arguments are refused before a checkpoint opens."""

from __future__ import annotations

import errno
import json
import os
import shutil

import pytest
import torch

from lerf3d_cli.main import main


def _one_line_error(capsys, *needles: str) -> str:
    """The error line (after any progress bars of the work done before it), checked for ``needles``."""
    err = capsys.readouterr().err
    last = err.splitlines()[-1] if err.strip() else ""
    assert last.startswith("lerf3d ") and ": error: " in last and "Traceback" not in err, err
    assert all(needle in last for needle in needles), err
    return last


def _refused_by_the_parser(capsys, argv: list[str], needle: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert needle in capsys.readouterr().err


@pytest.fixture
def no_loading(monkeypatch):
    """The test fails if a command opens its checkpoint: its arguments should be refused first."""
    def refuse(*args, **kwargs):
        pytest.fail("the checkpoint was opened before the arguments were checked")

    monkeypatch.setattr("lerf3d.query.checkpoint.open_scene", refuse)


def test_phrases_that_slug_alike_write_distinct_files(tiny_run, tmp_path, capsys):
    # regression: "chair" and "CHAIR!" both wrote VIEW_chair.png, "椅子" and "オーブン" both VIEW_phrase.png
    q = tmp_path / "q"
    phrases = ["chair", "CHAIR!", "椅子", "オーブン"]
    assert main(["query", str(tiny_run.out), *phrases, "--camera", "eval:0", "--out", str(q),
                 "--image-text", tiny_run.spec]) == 0
    summary = json.loads(next(q.glob("*_query.json")).read_text())
    images = [p["image"] for p in summary["phrases"]]
    assert [p["phrase"] for p in summary["phrases"]] == phrases and len(set(images)) == 4
    assert images[0].endswith("_chair.png") and images[2].endswith("_椅子.png") and images[3].endswith("_オーブン.png")
    assert len(list(q.glob("*.png"))) == 5  # four heat maps and the plain render
    printed = capsys.readouterr().out
    assert all(f"-> {q / name}" in printed for name in images)


def test_requests_are_checked_before_the_checkpoint_opens(tiny_run, tmp_path, capsys, no_loading):
    run, q = str(tiny_run.out), tmp_path / "q"
    pose = tmp_path / "huge.json"  # regression: tried a 40 GB allocation
    pose.write_text(json.dumps({"camera_to_world": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
                                "intrinsics": {"fx": 1e4, "fy": 1e4, "cx": 25e3, "cy": 25e3,
                                               "width": 50_000, "height": 50_000}}))
    assert main(["query", run, "chair", "--pose", str(pose), "--out", str(q)]) == 2
    _one_line_error(capsys, "huge.json: intrinsics width x height: 50000x50000 is not a render size")
    # regression: failed after every frame was rendered
    assert main(["render", run, "--phrase", "chair", "--out", str(tmp_path / "x.avi")]) == 2
    _one_line_error(capsys, "x.avi: video output must end in .mp4 or .gif")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a regular file")
    for argv in (["query", run, "chair", "--camera", "eval:0", "--out", str(blocker / "q")],
                 ["render", run, "--phrase", "chair", "--out", str(blocker / "v.gif")],
                 ["export", run, "--phrase", "chair", "--out", str(blocker / "c.ply")],
                 ["eval", run, "--out", str(blocker / "e.json")]):
        assert main(argv) == 2
        _one_line_error(capsys, f"--out {blocker}/", f"{blocker} is a file, so no folder can be made below it")
    assert main(["export", run, "--phrase", "chair", "--points", str(tmp_path / "gone.ply"),
                 "--out", str(tmp_path / "c.ply")]) == 2  # was silently ignored: the capture was fused instead
    _one_line_error(capsys, f"--points {tmp_path}/gone.ply: no such file or folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.json", "notes.txt"]  # nothing written


def test_bad_counts_and_sizes_are_refused_by_the_parser(tiny_run, capsys, no_loading):
    run = str(tiny_run.out)
    render = ["render", run, "--phrase", "chair", "--out", "v.gif"]
    # regression: --size 0x0 said "relevancy_per_scale has no points to search over"
    _refused_by_the_parser(capsys, [*render, "--size", "0x0"], "size '0x0': 0x0 is not a render size")
    _refused_by_the_parser(capsys, [*render, "--size", "50000x50000"], "50000x50000 is not a render size")
    _refused_by_the_parser(capsys, [*render, "--fps", "0"], "argument --fps: '0' must be a finite number > 0")
    _refused_by_the_parser(capsys, [*render, "--frames", "0"], "argument --frames: '0' must be at least 1")
    _refused_by_the_parser(capsys, ["query", run, "chair", "--camera", "train:-1", "--out", "q"],
                           "argument --camera: 'train:-1': train:I takes a frame number")
    _refused_by_the_parser(capsys, ["eval", run, "--max-views", "-1", "--out", "e.json"],
                           "argument --max-views: '-1' must be at least 1")
    _refused_by_the_parser(capsys, ["train", run, "--out", "r", "--steps", "0"], "argument --steps")


def _damaged_run(tiny_run, folder, change) -> tuple[str, str]:
    """A copy of the run's checkpoint with ``change`` applied to its payload: (run folder, checkpoint)."""
    source = tiny_run.out / "checkpoints" / "step-000004.ckpt"
    payload = torch.load(source, weights_only=True)
    change(payload)
    target = folder / "checkpoints" / source.name
    target.parent.mkdir(parents=True)
    torch.save(payload, target)
    return str(folder), str(target)


def test_damaged_checkpoints_are_one_line_errors(tiny_run, tmp_path, capsys):
    # regression: a checkpoint with the right format tag but missing keys ended in a traceback
    run, ckpt = _damaged_run(tiny_run, tmp_path / "no_model", lambda p: p.pop("model"))
    query = ["--camera", "eval:0", "--out", str(tmp_path / "q"), "--image-text", tiny_run.spec]
    assert main(["query", run, "chair", *query]) == 2
    _one_line_error(capsys, f"{ckpt}: damaged checkpoint, it has no ['model']")
    assert main([*tiny_run.train_args, "--out", run, "--resume"]) == 2
    _one_line_error(capsys, f"{ckpt}: damaged checkpoint, it has no ['model']")
    assert sorted(p.name for p in (tmp_path / "no_model").iterdir()) == ["checkpoints"]  # no fusion/, no features/

    run, ckpt = _damaged_run(tiny_run, tmp_path / "no_field", lambda p: p["meta"].pop("field_config"))
    assert main(["query", run, "chair", *query]) == 2
    _one_line_error(capsys, f"{ckpt}: does not fit this model (KeyError: 'field_config')")
    run, ckpt = _damaged_run(tiny_run, tmp_path / "no_weight", lambda p: p["model"].pop(next(iter(p["model"]))))
    assert main([*tiny_run.train_args, "--out", run, "--resume"]) == 2
    _one_line_error(capsys, f"{ckpt}: does not fit this model (RuntimeError: ", 'Missing key(s) in state_dict: "lower"')
    assert sorted(p.name for p in (tmp_path / "no_weight").iterdir()) == ["checkpoints"]  # found before any output
    assert not (tmp_path / "q").exists()


def test_a_full_disk_while_saving_keeps_the_last_checkpoint(tiny_run, tmp_path, capsys, monkeypatch):
    # regression: nothing was lost, but the user saw a raw traceback
    run = tmp_path / "run"
    shutil.copytree(tiny_run.out, run)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_full)
    assert main([*tiny_run.train_args, "--out", str(run), "--resume", "--steps", "5"]) == 2
    _one_line_error(capsys, f"could not write checkpoint {run}/checkpoints/step-000005.ckpt (No space left on device)",
                    f"{run}/checkpoints/step-000004.ckpt is intact (resume from it with --resume)")
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step-000004.ckpt"]
    assert (run / "checkpoints" / "latest").read_text() == "step-000004.ckpt\n"


def test_a_capture_without_a_training_frame_fails_before_fusing(tiny_room, tiny_run, tmp_path, capsys):
    # regression: a one-frame capture wrote fusion/ and features/ before train said it had no training frame
    one = tmp_path / "one"
    transforms = json.loads((tiny_room / "transforms.json").read_text())
    transforms["frames"] = transforms["frames"][:1]
    for key in ("file_path", "depth_file_path"):
        (one / transforms["frames"][0][key]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_room / transforms["frames"][0][key], one / transforms["frames"][0][key])
    (one / "transforms.json").write_text(json.dumps(transforms))
    args = ["train", str(one), "--out", str(tmp_path / "run"), "--preset", "tiny",
            "--image-text", tiny_run.spec, "--dense", tiny_run.spec]
    assert main(args) == 2
    _one_line_error(capsys, f"{one}: the capture has 1 frame", "--set data.eval_every=0")
    assert not (tmp_path / "run").exists() and not (one / "features").exists()
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a regular file")
    assert main(["train", str(tiny_room), "--out", str(blocker / "run"), "--preset", "tiny"]) == 2
    _one_line_error(capsys, f"--out {blocker}/run: {blocker} is a file")
