"""A real photograph: the Middlebury 2014 motorcycle pair (scikit-image) as a 2-view metric RGB-D
nerfstudio capture, read and fused; the fused surface checked against the ground-truth disparity."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skimage")
from middlebury import BASELINE_M, depth_errors, load_stereo_pair, write_middlebury_capture  # noqa: E402

from lerf3d.capture import load_capture, load_depth  # noqa: E402

FACTOR = 4


@pytest.fixture(scope="module")
def pair():
    return load_stereo_pair()


def test_the_disparity_is_the_left_images(pair):
    """Left pixel x matches right pixel x - d (the Middlebury disp0 convention the capture relies on)."""
    ys, xs = np.nonzero(np.isfinite(pair.disparity))
    d = pair.disparity[ys, xs]
    left = pair.left[ys, xs].astype(float)

    def mismatch(shift):
        x = np.rint(xs + shift).astype(int)
        ok = (x >= 0) & (x < pair.left.shape[1])
        return np.abs(left[ok] - pair.right[ys[ok], x[ok]]).mean()

    assert mismatch(-d) < 0.3 * mismatch(d)


def test_reads_as_a_two_view_metric_capture(pair, tmp_path):
    capture = load_capture(write_middlebury_capture(tmp_path / "moto", pair, FACTOR))
    assert len(capture.frames) == 2
    left, right = capture.frames
    assert (left.intrinsics.width, left.intrinsics.height) == (185, 125)
    assert left.intrinsics.fx == pytest.approx(3979.911 / 4 / FACTOR)
    assert right.intrinsics.cx - left.intrinsics.cx == pytest.approx(124.343 / 4 / FACTOR)
    offset = right.camera_to_world[:3, 3] - left.camera_to_world[:3, 3]
    assert offset @ left.camera_to_world[:3, 0] == pytest.approx(BASELINE_M)
    depth = load_depth(left)
    valid = depth[depth > 0]
    assert valid.size > 0.8 * depth.size and 2.0 < np.median(valid) < 3.5  # the motorcycle, ~2.7 m away


def test_fused_depth_matches_the_ground_truth_disparity(pair, tmp_path):
    from lerf3d.fusion.tsdf import FusionConfig, fuse_capture

    capture = load_capture(write_middlebury_capture(tmp_path / "moto", pair, FACTOR))
    fusion = fuse_capture(capture, FusionConfig(progress=False))
    errors = depth_errors(fusion.points.xyz.astype(np.float64), pair)
    assert errors.size > 0.5 * len(fusion.points.xyz)
    assert np.median(errors) < 0.01
    print(f"median depth error {100 * np.median(errors):.2f} % over {errors.size} points, "
          f"voxel {fusion.voxel_size * 100:.1f} cm")
