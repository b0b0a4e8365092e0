"""The real-encoder path end to end: ``openclip:ViT-B-16`` and ``dino:dino_vits8`` (random weights of
the real architectures, built offline) on four of the tiny room's views (96x72; a ViT-B/16 crop
costs ~0.5 s on one shared core, so every view counts): features (the tiny preset's pyramid) ->
``lerf3d train`` (tiny, a few steps) -> ``query`` -> ``objects`` -> the viewer's query API -> ``ask``
with a Scene-LLM trained on the same encoder's features (``data_tools.qa_generate`` ->
``llm-prepare`` -> ``llm-train``, tiny preset: a random tiny LLM, one step per stage, so its answers
are text, not knowledge). Costs per stage: bench/real_encoders.py, docs/benchmarks.md."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("open_clip")
pytest.importorskip("transformers")  # the Scene-LLM's tiny random Llama
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "encoders"))  # the weight builders live there
from real_architectures import write_real_architectures  # noqa: E402
from served_view import query_served_view  # noqa: E402

from data_tools import qa_generate  # noqa: E402
from lerf3d_cli.main import main  # noqa: E402

STEPS = 3
VIEW_STRIDE = 3
"""Every third view of the tiny room's 12: four views around it, one of them held out."""
CLIP_DIM, DINO_DIM = 512, 384
"""ViT-B-16's CLIP embedding width and DINO ViT-S/8's token width."""
LLM_FRAME_STRIDE = 4
"""``llm-prepare --frame-stride``: back-project the first of the four views only; the other views
still decide what each frame sees."""
TINY_PYRAMID = ("--set", "pyramid.num_levels=3", "--set", "pyramid.min_tile_fraction=0.3",
                "--set", "pyramid.max_tile_fraction=0.5", "--set", "pyramid.large_stride_ratio=1.0")
"""``llm-prepare`` with the tiny training preset's coarse pyramid (38 crops per 96x72 view, against
180 for the Scene-LLM's default): ~1 s a ViT-B/16 crop on this CPU."""
QUESTIONS = ("How many chairs are there?", "Is there a table in the room?")


def _copy(room: Path, out: Path, relative: str) -> None:
    (out / relative).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(room / relative, out / relative)


def view_subset(room: Path, out: Path, stride: int) -> Path:
    """A nerfstudio capture of every ``stride``-th frame of ``room`` (transforms.json and its files),
    with its ``ground_truth.json`` cut to those frames (their instance masks copied)."""
    meta = json.loads((room / "transforms.json").read_text())
    meta["frames"] = meta["frames"][::stride]
    for frame in meta["frames"]:
        for key in ("file_path", "depth_file_path"):
            _copy(room, out, frame[key])
    (out / "transforms.json").write_text(json.dumps(meta))
    truth = json.loads((room / "ground_truth.json").read_text())
    kept = {Path(frame["file_path"]).stem for frame in meta["frames"]}
    truth["frames"] = {name: entry for name, entry in truth["frames"].items() if name in kept}
    for entry in truth["frames"].values():
        _copy(room, out, entry["mask_path"])
    (out / "ground_truth.json").write_text(json.dumps(truth))
    return out


def answers_printed(out: str) -> dict[str, str]:
    """Question -> answer of ``lerf3d ask``'s ``Q: ...`` / ``A: ...`` lines."""
    lines = out.splitlines()
    return {q[3:]: a[3:] for q, a in zip(lines, lines[1:]) if q.startswith("Q: ") and a.startswith("A: ")}


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_openclip_and_dino_features_train_query_segment_and_ask(tiny_room, tmp_path, capsys):
    from lerf3d.features.command import run_features
    from lerf3d.train import load_preset

    room = view_subset(tiny_room, tmp_path / "room", VIEW_STRIDE)
    image_text, dense = write_real_architectures(tmp_path / "weights")
    preset = load_preset("tiny")
    features_dir = tmp_path / "features"
    summary, features = run_features(room, features_dir, image_text, dense,
                                     pyramid=preset.features.pyramid, batch_size=preset.features.batch_size,
                                     show_progress=False)
    assert summary.num_frames == 4 and summary.cache_misses == 8  # a pyramid and a DINO map per view
    assert features.image_text_encoder.startswith("openclip:ViT-B-16@")
    assert features.dense_encoder.startswith("dino:dino_vits8@")
    first = next(iter(features.frames.values()))
    assert first.pyramid.levels[0].embeddings.shape[-1] == CLIP_DIM and first.dino.features.shape[-1] == DINO_DIM

    run = tmp_path / "run"
    args = ["train", str(room), "--out", str(run), "--preset", "tiny", "--steps", str(STEPS),
            "--image-text", image_text, "--dense", dense, "--features-dir", str(features_dir), "--no-objects",
            "--set", "logging.progress=false", "--set", "logging.tensorboard=false",
            "--set", "features.show_progress=false"]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "0 feature files computed" in out and f"trained {STEPS} steps to step {STEPS}" in out

    phrases = ["chair", "table"]
    assert main(["query", str(run), *phrases, "--camera", "eval:0", "--out", str(tmp_path / "q")]) == 0
    capsys.readouterr()
    (summary_json,) = (tmp_path / "q").glob("*_query.json")
    answers = json.loads(summary_json.read_text())["phrases"]
    assert [a["phrase"] for a in answers] == phrases
    assert all(math.isfinite(a["max_relevancy"]) and a["min_relevancy"] <= a["max_relevancy"] for a in answers)

    assert main(["objects", str(run)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    objects = json.loads((run / "objects" / "objects.json").read_text())
    assert objects["encoder"].startswith("openclip:ViT-B-16") and objects["objects"]

    camera, maps = query_served_view(run, phrases, tmp_path / "viewer", full_long_side=96)
    assert camera == "frame_00000" and list(maps) == phrases
    assert all(m.shape == (72, 96) and np.isfinite(m).all() for m in maps.values())

    # a Scene-LLM trained on the same OpenCLIP architecture's features, then asked about the room
    data, llm_run = tmp_path / "qa", tmp_path / "llm"
    assert qa_generate.main([str(room), "--out", str(data), "--val", "0", "--test", "0"]) == 0
    capsys.readouterr()
    assert main(["llm-prepare", str(data), "--encoder", image_text, "--frame-stride", str(LLM_FRAME_STRIDE),
                 *TINY_PYRAMID]) == 0, capsys.readouterr().err
    assert "wrote 1 scene feature file(s)" in capsys.readouterr().out
    assert main(["llm-train", str(data), "--out", str(llm_run), "--preset", "tiny", "--quiet",
                 "--steps1", "1", "--steps2", "1"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    record = json.loads((llm_run / "features.json").read_text())
    assert record["settings"]["encoder"] == image_text and "openclip:ViT-B-16@" in record["source"]
    (scene,) = (data / "features").glob("*.pt")  # the room's tokens, as llm-prepare computed them
    assert main(["ask", str(scene), *QUESTIONS, "--run", str(llm_run), "--max-new-tokens", "4"]) == 0, (
        capsys.readouterr().err
    )
    answers = answers_printed(capsys.readouterr().out)
    assert list(answers) == list(QUESTIONS) and all(a.strip() for a in answers.values()), answers
