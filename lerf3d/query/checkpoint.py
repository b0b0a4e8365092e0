"""Opening a training checkpoint for queries: the field (through the trainer's loader), the
image-text encoder it was trained with, its capture, fused points and feature cache.

A checkpoint path may name a ``.ckpt`` file or a run directory (its latest checkpoint). Around a
checkpoint ``RUN/checkpoints/step-N.ckpt`` the trainer leaves ``RUN/fusion/points.ply`` (restores
the occupancy grid, so novel views without depth sample the surface) and features in
``CAPTURE/features`` or ``RUN/features``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.query.scene import QueryScene
from lerf3d.query.session import QuerySession, QuerySessionConfig

ENCODER_DIGEST_SEPARATOR = "#"
"""Encoder names are ``SPEC`` or ``SPEC#weight-digest`` (lerf3d.encoders.tiny): the spec rebuilds it."""
FUSION_POINTS = Path("fusion") / "points.ply"
"""Fused points inside a run directory (lerf3d.train.command.fused_scene)."""
FEATURES_DIR = "features"
"""Feature cache folder beside the capture or inside the run (lerf3d.train.command.features_folder)."""


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint file ``path`` names (a run directory means its latest checkpoint)."""
    from lerf3d.train.checkpoints import latest_checkpoint

    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path / "checkpoints") or latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"{path}: no checkpoint in it or in its checkpoints/ folder")
        return found
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    return path


def run_directory(checkpoint: Path) -> Path:
    """The run a checkpoint belongs to (RUN/checkpoints/step-N.ckpt -> RUN)."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def build_encoder(recorded: str | None, spec: str | None, device: torch.device | str) -> ImageTextEncoder:
    """``spec`` or the recorded encoder's spec; a warning when the weights differ from training's."""
    from lerf3d.encoders import build_image_text_encoder

    if spec is None:
        if not recorded:
            raise ValueError("the checkpoint records no image-text encoder: pass --image-text SPEC")
        spec = recorded.split(ENCODER_DIGEST_SEPARATOR)[0]
    encoder = build_image_text_encoder(spec, device)
    if recorded and encoder.name != recorded:
        warnings.warn(f"the field was trained with {recorded!r}, querying with {encoder.name!r}: "
                      "relevancy is only meaningful in the embedding space the field was trained in",
                      stacklevel=2)
    return encoder


def session_from_checkpoint(
    checkpoint: str | Path,
    device: torch.device | str = "cpu",
    encoder: ImageTextEncoder | None = None,
    image_text: str | None = None,
    config: QuerySessionConfig = QuerySessionConfig(),
    points_path: str | Path | None = None,
) -> QuerySession:
    """A QuerySession on a trained field (``QuerySession.from_checkpoint``)."""
    return open_scene(checkpoint, device=device, encoder=encoder, image_text=image_text, config=config,
                      points_path=points_path, load_capture_frames=False).session


def open_scene(
    checkpoint: str | Path,
    capture: str | Path | None = None,
    device: torch.device | str = "cpu",
    image_text: str | None = None,
    encoder: ImageTextEncoder | None = None,
    config: QuerySessionConfig = QuerySessionConfig(),
    points_path: str | Path | None = None,
    load_capture_frames: bool = True,
) -> QueryScene:
    """Everything the query commands need from a checkpoint (and the files of its run)."""
    from lerf3d.fusion import load_points
    from lerf3d.train import TrainConfig, from_mapping, load_trained_field

    path = resolve_checkpoint(checkpoint)
    run = run_directory(path)
    points_file = Path(points_path) if points_path is not None else run / FUSION_POINTS
    points = load_points(points_file) if points_file.is_file() else None
    field, ckpt = load_trained_field(path, device, points)
    meta = ckpt.meta
    if encoder is None:
        encoder = build_encoder(meta.get("image_text_encoder"), image_text, device)
    session = QuerySession(field, encoder, device, config)
    capture_root = capture if capture is not None else meta.get("capture")
    scene_capture = None
    if load_capture_frames and capture_root is not None:
        from lerf3d.capture import load_capture

        if not Path(capture_root).exists() and capture is None:
            raise FileNotFoundError(f"{path} was trained on {capture_root}, which is gone: "
                                    "pass --capture DIR")
        scene_capture = load_capture(capture_root)
    train_config = from_mapping(TrainConfig, ckpt.config, source=str(path)) if ckpt.config else TrainConfig()
    features = Path(capture_root) / FEATURES_DIR if capture_root is not None else None
    if features is None or not features.is_dir():
        features = run / FEATURES_DIR
    train_frames = tuple(meta.get("train_frames", ()))
    return QueryScene(session, scene_capture, train_frames, train_config.features.pyramid, features, points)

