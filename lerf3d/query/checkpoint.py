"""Opening a trained run for queries: the field, the image-text encoder it was trained with, its
capture, fused points and feature cache, all read through :mod:`lerf3d.runs`.

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
from lerf3d.encoders.spec import spec_of_name
from lerf3d.query.scene import QueryScene
from lerf3d.query.session import QuerySession, QuerySessionConfig
from lerf3d.runs import features_folder, load_trained_field, open_run, recorded_encoders, recorded_features


def build_encoder(recorded: str | None, spec: str | None, device: torch.device | str) -> ImageTextEncoder:
    """``spec`` or the recorded encoder's spec; a warning when the weights differ from training's."""
    from lerf3d.encoders import build_image_text_encoder

    if spec is None:
        if not recorded:
            raise ValueError("the checkpoint records no image-text encoder: pass --image-text SPEC")
        spec = spec_of_name(recorded)
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
    """A QuerySession on the field of a training checkpoint (a ``.ckpt`` file or a run directory), with
    the image-text encoder recorded in it (or ``encoder`` / the ``image_text`` spec)."""
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

    run, path = open_run(checkpoint)
    points_file = Path(points_path) if points_path is not None else run.fusion_points
    points = load_points(points_file) if points_file.is_file() else None
    field, ckpt = load_trained_field(path, device, points)
    meta = ckpt.meta
    if encoder is None:
        encoder = build_encoder(recorded_encoders(ckpt).image_text, image_text, device)
    session = QuerySession(field, encoder, device, config)
    capture_root = capture if capture is not None else meta.get("capture")
    scene_capture = None
    if load_capture_frames and capture_root is not None:
        from lerf3d.capture import IntrinsicsOverride, load_capture

        if not Path(capture_root).exists() and capture is None:
            raise FileNotFoundError(f"{path} was trained on {capture_root}, which is gone: "
                                    "pass --capture DIR")
        recorded = meta.get("capture_intrinsics")  # the camera --intrinsics gave at training
        override = IntrinsicsOverride(**recorded) if isinstance(recorded, dict) else None
        scene_capture = load_capture(capture_root, intrinsics=override)
    pyramid = recorded_features(ckpt, source=str(path)).pyramid
    features = features_folder(run, capture_root)
    train_frames = tuple(meta.get("train_frames", ()))
    return QueryScene(session, scene_capture, train_frames, pyramid, features, points)

