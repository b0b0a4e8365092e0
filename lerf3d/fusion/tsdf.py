"""TSDF fusion of a posed RGB-D capture into a mesh, a coloured point set and scene bounds.

Two backends with the same maths: open3d's scalable (hashed voxel block) TSDF volume on the CPU, and a
dense PyTorch grid (:mod:`lerf3d.fusion.tsdf_torch`) on the CPU or a GPU, for machines where open3d
is not installed (it has no wheels for some Python versions and platforms). ``backend="auto"`` takes
open3d when it imports, else PyTorch. open3d is pinned to 0.19.0: 0.20.0 needs Debian's libusb and
then silently returns empty meshes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from lerf3d.fusion.frames import frame_colour, frame_depth, measured_points
from lerf3d.types import Capture, Frame, PointSet, SceneBounds

# A room-scale default: ~256 voxels across the largest side keeps fusion well under a second per
# view on a CPU while resolving furniture legs (KinectFusion uses 512^3 over 3 m; we fuse fewer views).
AUTO_VOXELS_ACROSS = 256
# Below 5 mm consumer depth noise dominates (RealSense/Kinect: ~1% of range).
MIN_AUTO_VOXEL = 0.005
# Truncation of the signed distance, in voxels (KinectFusion-style band; 3-5 voxels is usual).
DEFAULT_TRUNC_VOXELS = 4.0
BACKENDS = ("auto", "open3d", "torch")


@dataclass(frozen=True)
class FusionConfig:
    """Settings of TSDF fusion."""

    voxel_size: float | None = None
    """Voxel edge in metres; None picks one from the extent and pixel footprint (auto_voxel_size)."""
    trunc_voxels: float = DEFAULT_TRUNC_VOXELS
    """Truncation distance of the SDF in voxels."""
    depth_max: float = 10.0
    """Depth beyond this many metres is ignored (sensor noise grows with range)."""
    frame_stride: int = 1
    """Fuse every n-th frame."""
    points_per_m2: float = 0.0
    """If > 0, sample the point set uniformly on the mesh at this density instead of using its vertices."""
    progress: bool = True
    """Show a progress bar over frames."""
    backend: str = "auto"
    """``open3d`` (sparse voxel blocks, CPU), ``torch`` (dense grid on ``device``) or ``auto`` (open3d
    when it imports, else torch)."""
    device: str = "cpu"
    """Torch device of the ``torch`` backend (``cuda`` fuses on a GPU); open3d always runs on the CPU."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"FusionConfig.backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.voxel_size is not None and not self.voxel_size > 0:
            raise ValueError(f"FusionConfig.voxel_size must be positive metres, got {self.voxel_size}")
        if not self.trunc_voxels >= 1:
            raise ValueError(f"FusionConfig.trunc_voxels must be >= 1, got {self.trunc_voxels}")
        if not self.depth_max > 0:
            raise ValueError(f"FusionConfig.depth_max must be positive, got {self.depth_max}")
        if self.frame_stride < 1:
            raise ValueError(f"FusionConfig.frame_stride must be >= 1, got {self.frame_stride}")


@dataclass(frozen=True, eq=False)
class FusionResult:
    """What fusion hands to the next stages."""

    vertices: np.ndarray
    """(V, 3) float32 mesh vertices, world metres."""
    faces: np.ndarray
    """(F, 3) int32 triangle indices."""
    vertex_colors: np.ndarray
    """(V, 3) float32 colours in [0, 1]."""
    points: PointSet
    """Coloured surface points (mesh vertices with normals, or uniform samples)."""
    bounds: SceneBounds
    """Axis-aligned bounds of the fused surface."""
    voxel_size: float
    """Voxel edge used, metres."""
    backend: str = "open3d"
    """Which TSDF volume made it: ``open3d``, or ``torch:<device>`` (the dense PyTorch grid)."""


def _frame_rgbd(frame: Frame, depth_max: float):
    """An open3d RGBD image and matching intrinsics (colour resized to the depth resolution)."""
    import open3d as o3d

    depth, intr = frame_depth(frame)
    rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
        o3d.geometry.Image(np.ascontiguousarray(frame_colour(frame, depth.shape))),
        o3d.geometry.Image(depth.astype(np.float32)),
        depth_scale=1.0,
        depth_trunc=depth_max,
        convert_rgb_to_intensity=False,
    )
    pinhole = o3d.camera.PinholeCameraIntrinsic(intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy)
    return rgbd, pinhole


def auto_voxel_size(capture: Capture, depth_max: float, max_frames: int = 8) -> float:
    """A voxel edge suited to the capture: the larger of extent / AUTO_VOXELS_ACROSS and the median
    pixel footprint (depth / f), since voxels finer than a pixel only fuse noise into the mesh."""
    frames = capture.frames[:: max(1, len(capture.frames) // max_frames)]
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    footprints = []
    for frame in frames:
        world, depths, intr = measured_points(frame, depth_max)
        if not len(depths):
            continue
        footprints.append(np.median(depths) / intr.fy)
        lo, hi = np.minimum(lo, world.min(0)), np.maximum(hi, world.max(0))
    if not np.all(np.isfinite(lo)):
        raise ValueError(f"capture {capture.root}: no valid depth below {depth_max} m in any frame")
    return max(MIN_AUTO_VOXEL, float((hi - lo).max()) / AUTO_VOXELS_ACROSS, float(np.median(footprints)))


def resolve_backend(backend: str) -> str:
    """``open3d`` or ``torch``: ``auto`` is open3d when it imports; asking for a missing open3d fails."""
    if backend == "torch":
        return "torch"
    try:
        import open3d  # noqa: F401
    except ImportError as err:
        if backend == "open3d":
            raise ImportError(f"FusionConfig.backend='open3d' but open3d does not import ({err}); "
                              "`pip install open3d==0.19.0` or use backend='torch'") from err
        return "torch"
    return "open3d"


def fuse_capture(capture: Capture, config: FusionConfig = FusionConfig()) -> FusionResult:
    """Integrate every (stride-th) frame of ``capture`` into a TSDF and extract the surface."""
    if not capture.has_depth:
        raise ValueError(f"capture {capture.root}: TSDF fusion needs depth in every frame")
    voxel = config.voxel_size
    if voxel is None:
        voxel = auto_voxel_size(capture, config.depth_max)
    frames = capture.frames[:: config.frame_stride]
    if resolve_backend(config.backend) == "torch":
        return _fuse_torch(capture, frames, voxel, config)
    import open3d as o3d

    volume = o3d.pipelines.integration.ScalableTSDFVolume(
        voxel_length=voxel,
        sdf_trunc=voxel * config.trunc_voxels,
        color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8,
    )
    for frame in tqdm(frames, desc="TSDF fusion", unit="frame", disable=not config.progress):
        rgbd, pinhole = _frame_rgbd(frame, config.depth_max)
        volume.integrate(rgbd, pinhole, np.linalg.inv(frame.camera_to_world))
    mesh = volume.extract_triangle_mesh()
    mesh.compute_vertex_normals()
    vertices = np.asarray(mesh.vertices, dtype=np.float32)
    if len(vertices) == 0:
        raise ValueError(f"capture {capture.root}: fusion produced an empty surface (check depth scale/poses)")
    colors = np.asarray(mesh.vertex_colors, dtype=np.float32)
    normals = np.asarray(mesh.vertex_normals, dtype=np.float32)
    if config.points_per_m2 > 0:
        n = max(1000, int(mesh.get_surface_area() * config.points_per_m2))
        pcd = mesh.sample_points_uniformly(number_of_points=n)
        points = PointSet(
            np.asarray(pcd.points, np.float32), np.asarray(pcd.colors, np.float32), np.asarray(pcd.normals, np.float32)
        )
    else:
        points = PointSet(vertices, colors, normals)
    bounds = SceneBounds(vertices.min(0).astype(np.float64), vertices.max(0).astype(np.float64))
    return FusionResult(vertices, np.asarray(mesh.triangles, np.int32), colors, points, bounds, float(voxel))


def _fuse_torch(capture: Capture, frames: tuple[Frame, ...], voxel: float, config: FusionConfig) -> FusionResult:
    from lerf3d.fusion.tsdf_torch import fuse_dense, sample_surface

    try:
        surface = fuse_dense(frames, voxel, voxel * config.trunc_voxels, config.depth_max, config.device,
                             config.progress)
    except ValueError as err:
        raise ValueError(f"capture {capture.root}: {err} (check depth scale/poses)") from None
    if len(surface.faces) == 0:
        raise ValueError(f"capture {capture.root}: fusion produced an empty surface (check depth scale/poses)")
    vertices = surface.vertices
    if config.points_per_m2 > 0:
        points = sample_surface(surface, config.points_per_m2, minimum=1000)
    else:
        points = PointSet(vertices, surface.vertex_colors, surface.vertex_normals)
    bounds = SceneBounds(vertices.min(0).astype(np.float64), vertices.max(0).astype(np.float64))
    return FusionResult(vertices, surface.faces, surface.vertex_colors, points, bounds, float(voxel),
                        backend=f"torch:{config.device}")
