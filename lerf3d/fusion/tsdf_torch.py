"""Dense TSDF fusion in PyTorch, on the CPU or a GPU: the backend for machines without open3d.

The same projective TSDF as open3d's volume (Curless & Levoy 1996; KinectFusion): every voxel
centre is projected into each depth map; where the measured depth ``d`` and the voxel's camera depth
``z`` give ``sdf = d - z >= -trunc``, the truncated value ``min(1, sdf / trunc)`` and the pixel's colour
join the voxel's running weighted mean. The grid is dense over the captured points' bounds (padded by
the truncation band), so its memory grows with the scene's volume; the surface is the zero level set,
extracted with scikit-image's marching cubes, keeping only triangles whose edge ends were both seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from lerf3d.fusion.frames import frame_colour, frame_depth, measured_bounds
from lerf3d.geometry import project_camera_points, to_camera_frame
from lerf3d.types import Frame, Intrinsics, PointSet

MAX_VOXELS = 128 * 2**20
"""Largest dense grid (about 2.7 GB of float32 values: signed distance, weight, colour)."""
CHUNK_VOXELS = 4 * 2**20
"""Voxels projected at once (bounds the temporary memory of one integration step)."""


@dataclass(frozen=True, eq=False)
class DenseSurface:
    """The zero level set of a fused grid, in world metres."""

    vertices: np.ndarray
    """(V, 3) float32."""
    faces: np.ndarray
    """(F, 3) int32, counter-clockwise seen from the free-space side."""
    vertex_colors: np.ndarray
    """(V, 3) float32 in [0, 1]."""
    vertex_normals: np.ndarray
    """(V, 3) float32 unit normals pointing into free space."""


class DenseTSDF:
    """A dense voxel grid of truncated signed distances, weights and colours on one torch device."""

    def __init__(self, lower: np.ndarray, upper: np.ndarray, voxel: float, trunc: float, device: str = "cpu"):
        self.voxel, self.trunc, self.device = float(voxel), float(trunc), torch.device(device)
        pad = trunc + voxel
        self.origin = np.asarray(lower, np.float64) - pad
        self.shape = tuple(int(n) for n in np.ceil((np.asarray(upper) + pad - self.origin) / voxel).astype(int) + 1)
        count = int(np.prod(self.shape))
        if count > MAX_VOXELS:
            raise ValueError(f"a dense TSDF of {self.shape} voxels ({count / 2**20:.0f} M) at {voxel * 100:.2f} cm "
                             f"is over {MAX_VOXELS // 2**20} M voxels: pass a larger voxel size "
                             "(--voxel-size / FusionConfig.voxel_size) or install open3d (its volume is sparse)")
        self.tsdf = torch.ones(count, device=self.device)
        self.weight = torch.zeros(count, device=self.device)
        self.color = torch.zeros(count, 3, device=self.device)

    def _camera_points(self, camera_to_world: np.ndarray):
        """Per x-slab of the grid, its voxel centres in the camera frame, float32: the camera frame is
        affine in the voxel index, so the grid origin and the steps along its axes are taken to it
        once in float64 (:func:`~lerf3d.geometry.to_camera_frame`) and the slabs only add float32
        offsets (micrometre error over tens of metres)."""
        # the grid origin and one voxel further along x, y and z
        corners = torch.from_numpy(self.origin + np.vstack([np.zeros(3), np.eye(3) * self.voxel]))
        cam = to_camera_frame(corners, camera_to_world)  # float64
        start, steps = (t.to(device=self.device, dtype=torch.float32) for t in (cam[0], cam[1:] - cam[0]))
        # steps row a: the camera-frame step of +1 voxel along a
        _, ny, nz = self.shape
        j = torch.arange(ny, device=self.device, dtype=torch.float32).repeat_interleave(nz)
        k = torch.arange(nz, device=self.device, dtype=torch.float32).repeat(ny)
        plane = start + j[:, None] * steps[1] + k[:, None] * steps[2]  # (ny * nz, 3), the slab x = 0
        slabs = max(1, CHUNK_VOXELS // (ny * nz))
        for i0 in range(0, self.shape[0], slabs):
            i = torch.arange(i0, min(i0 + slabs, self.shape[0]), device=self.device, dtype=torch.float32)
            yield i0 * ny * nz, (plane[None] + i[:, None, None] * steps[0]).reshape(-1, 3)

    def integrate(self, depth: np.ndarray, rgb: np.ndarray, intrinsics: Intrinsics, camera_to_world: np.ndarray,
                  depth_max: float) -> None:
        """Fold one depth map (metres, 0 = none) and its colour (H, W, 3 in [0, 1]) into the grid."""
        depth_t = torch.as_tensor(depth, device=self.device).reshape(-1)
        rgb_t = torch.as_tensor(rgb, device=self.device).reshape(-1, 3)
        height, width = depth.shape
        for start, points in self._camera_points(camera_to_world):
            seen = project_camera_points(points, intrinsics)
            pixel = (seen.pixels[:, 1].floor().long().clamp(0, height - 1) * width
                     + seen.pixels[:, 0].floor().long().clamp(0, width - 1))
            measured = depth_t[pixel]
            sdf = measured - seen.depth
            update = seen.in_view & (measured > 0) & (measured < depth_max) & (sdf >= -self.trunc)
            rows = torch.nonzero(update).squeeze(1)
            if len(rows) == 0:
                continue
            cells = rows + start
            value = (sdf[rows] / self.trunc).clamp(max=1.0)
            weight = self.weight[cells]
            self.tsdf[cells] = (self.tsdf[cells] * weight + value) / (weight + 1)
            self.color[cells] = (self.color[cells] * weight[:, None] + rgb_t[pixel[rows]]) / (weight[:, None] + 1)
            self.weight[cells] = weight + 1

    def extract(self) -> DenseSurface:
        """The zero level set between observed voxels (scikit-image marching cubes on the CPU)."""
        from scipy.ndimage import map_coordinates
        from skimage.measure import marching_cubes

        tsdf = self.tsdf.reshape(self.shape).cpu().numpy()
        seen = (self.weight > 0).reshape(self.shape).cpu().numpy()
        if not (tsdf[seen] < 0).any() or not (tsdf[seen] > 0).any():
            raise ValueError("the fused volume has no surface (no voxel on both sides of a measured depth)")
        verts, faces, _, _ = marching_cubes(tsdf, level=0.0, allow_degenerate=False)
        # a vertex sits on a grid edge: both of its ends must have been seen, else the "surface" is
        # the border between measured space and the unobserved +1 default
        lo, hi = np.floor(verts).astype(int), np.ceil(verts).astype(int)
        good = seen[tuple(lo.T)] & seen[tuple(hi.T)]
        faces = faces[good[faces].all(axis=1)]
        used = np.unique(faces)
        remap = np.full(len(verts), -1, np.int64)
        remap[used] = np.arange(len(used))
        verts, faces = verts[used], remap[faces]
        grid = self.color.reshape(*self.shape, 3).cpu().numpy()
        colours = np.stack([map_coordinates(grid[..., c], verts.T, order=1) for c in range(3)], axis=1)
        world = (self.origin + verts * self.voxel).astype(np.float32)
        return DenseSurface(world, faces.astype(np.int32), np.clip(colours, 0, 1).astype(np.float32),
                            vertex_normals(world, faces))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit area-weighted mean of the incident faces' normals (right-hand rule on each face's order)."""
    corners = vertices[faces].astype(np.float64)
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])  # length = 2 area
    normals = np.zeros_like(vertices, dtype=np.float64)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return (normals / np.where(length > 0, length, 1.0)).astype(np.float32)


def fuse_dense(frames: Sequence[Frame], voxel: float, trunc: float, depth_max: float, device: str = "cpu",
               progress: bool = True) -> DenseSurface:
    """Integrate ``frames`` into a dense grid on ``device`` and extract its surface."""
    lower, upper = measured_bounds(frames, depth_max)
    if not np.all(np.isfinite(lower)):
        raise ValueError(f"no valid depth below {depth_max} m in any frame")
    volume = DenseTSDF(lower, upper, voxel, trunc, device)
    with torch.no_grad():
        for frame in tqdm(frames, desc="TSDF fusion", unit="frame", disable=not progress):
            depth, intrinsics = frame_depth(frame)
            colour = frame_colour(frame, depth.shape).astype(np.float32) / 255.0
            volume.integrate(depth, colour, intrinsics, frame.camera_to_world, depth_max)
    return volume.extract()


def sample_surface(surface: DenseSurface, per_m2: float, minimum: int = 1000, seed: int = 0) -> PointSet:
    """Points spread uniformly over the triangles (area-weighted choice, uniform barycentric
    coordinates), with colours and normals interpolated from the vertices."""
    corners = surface.vertices[surface.faces].astype(np.float64)  # (F, 3, 3)
    areas = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    count = max(minimum, int(areas.sum() * per_m2))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(areas), size=count, p=areas / areas.sum())
    r1, r2 = np.sqrt(rng.random(count)), rng.random(count)
    weights = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], axis=1)[:, :, None]  # (N, 3, 1)
    faces = surface.faces[chosen]

    def blend(values: np.ndarray) -> np.ndarray:
        return (values[faces] * weights).sum(axis=1).astype(np.float32)

    normals = blend(surface.vertex_normals)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return PointSet(blend(surface.vertices), blend(surface.vertex_colors), normals)
