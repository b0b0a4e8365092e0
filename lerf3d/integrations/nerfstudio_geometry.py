"""lerf3d frames and rays <-> nerfstudio cameras and rays (pure conversions).

The plugin keeps lerf3d's world frame (metres, Z up, the capture's own poses: no re-centring or
re-scaling), because the language field's scale input is in metres. nerfstudio's cameras use the
OpenGL convention (x right, y up, z backward), lerf3d's the OpenCV one (x right, y down, z
forward): the two differ by flipping the camera's y and z axes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras, CameraType
from nerfstudio.cameras.rays import RayBundle as NerfstudioRayBundle
from nerfstudio.data.scene_box import SceneBox

from lerf3d.field.rays import RayBundle, clip_to_box
from lerf3d.geometry import opencv_to_opengl
from lerf3d.types import Frame

DIRECTIONS_NORM = "directions_norm"
"""Ray metadata set by ``Cameras.generate_rays``: the norm of the camera-frame direction whose
forward component is 1, i.e. 1 / (unit direction . camera forward)."""


def opengl_pose(frame: Frame) -> Float[np.ndarray, "3 4"]:
    """The frame's camera-to-world pose in nerfstudio's (OpenGL) camera convention, 3x4."""
    return opencv_to_opengl(frame.camera_to_world)[:3]


def nerfstudio_cameras(frames: Sequence[Frame]) -> Cameras:
    """Pinhole nerfstudio cameras of ``frames`` in lerf3d's world frame (same pixel-centre convention)."""
    if not frames:
        raise ValueError("nerfstudio_cameras needs at least one frame")
    poses = torch.tensor(np.stack([opengl_pose(f) for f in frames]), dtype=torch.float32)  # (N, 3, 4)

    def column(name: str) -> torch.Tensor:
        return torch.tensor([[float(getattr(f.intrinsics, name))] for f in frames])  # (N, 1)

    return Cameras(
        camera_to_worlds=poses,
        fx=column("fx"),
        fy=column("fy"),
        cx=column("cx"),
        cy=column("cy"),
        width=column("width").int(),
        height=column("height").int(),
        camera_type=CameraType.PERSPECTIVE,
    )


def scene_box(lower: Float[torch.Tensor, "3"], upper: Float[torch.Tensor, "3"]) -> SceneBox:
    """nerfstudio's axis-aligned scene box (the viewer's crop box) from two corners."""
    return SceneBox(aabb=torch.stack([lower, upper]).float().cpu())  # (2, 3)


def rays_from_nerfstudio(
    bundle: NerfstudioRayBundle,
    lower: Float[torch.Tensor, "3"],
    upper: Float[torch.Tensor, "3"],
    min_near: float,
) -> RayBundle:
    """lerf3d rays for nerfstudio camera rays (flattened), clipped to the box like lerf3d's eval views.

    The rays carry no camera index (novel views use the mean appearance code) and no depth (samples
    follow the occupancy grid), exactly as :meth:`lerf3d.train.DataManager.eval_view` builds them.
    """
    norm = bundle.metadata.get(DIRECTIONS_NORM)
    if norm is None:
        raise ValueError(
            f"nerfstudio rays need metadata[{DIRECTIONS_NORM!r}] (set by Cameras.generate_rays) to turn ray "
            "distances into z-depths"
        )
    origins = bundle.origins.reshape(-1, 3)  # (R, 3)
    directions = bundle.directions.reshape(-1, 3)  # (R, 3)
    z_scale = 1.0 / norm.reshape(-1)  # (R,)
    zeros = torch.zeros_like(z_scale)
    rays = RayBundle(origins, directions, z_scale, zeros, zeros)
    return clip_to_box(rays, lower.to(origins.device), upper.to(origins.device), min_near)
