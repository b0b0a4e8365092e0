"""Crops of an object's best views: square framing by hand, the crops a camera gives, and which
views are cropped."""

from __future__ import annotations

import numpy as np
import torch

from lerf3d.objects.crops import (
    CROP_LEVELS,
    crop_embeddings,
    crops_around,
    square_crop,
    view_size,
    visible_pixels,
)
from lerf3d.query.camera import QueryCamera
from lerf3d.types import Intrinsics


def object_crops(points, camera, image, size, levels=CROP_LEVELS):
    """The crops of an object's points as one view gives them."""
    return crops_around(visible_pixels(points, camera), image, size, levels)


def test_square_crop_is_centred_and_kept_inside_the_image():
    assert square_crop((40, 30), (60, 40), (50, 35), 1.0, 100, 80) == (40, 25, 20)  # side = the larger side
    assert square_crop((40, 30), (60, 40), (50, 35), 2.0, 100, 80) == (30, 15, 40)
    assert square_crop((40, 30), (60, 40), (45, 31), 1.0, 100, 80) == (35, 21, 20)  # on the given centre
    assert square_crop((0, 0), (10, 10), (5, 5), 2.0, 100, 80) == (0, 0, 20)  # shifted inside, not cut
    assert square_crop((0, 0), (100, 80), (50, 40), 1.5, 100, 80) == (10, 0, 80)  # shrunk to fit, still centred


def test_object_crops_frame_the_visible_object():
    k = Intrinsics(fx=50.0, fy=50.0, cx=32.0, cy=24.0, width=64, height=48)
    depth = np.full((48, 64), 2.0, np.float32)  # a wall 2 m ahead, facing the camera (OpenCV: z forward)
    camera = QueryCamera(k, np.eye(4), depth, "front")
    axes = torch.linspace(-0.2, 0.2, 9)
    square = torch.cartesian_prod(axes, axes)
    points = torch.cat([square, torch.full((len(square), 1), 2.0)], dim=1)  # a 40 cm patch on the wall
    image = torch.zeros(3, 48, 64)
    image[0, 14:35, 22:43] = 1.0  # the patch is red (it spans pixels 22..42 x 14..34)
    crops = object_crops(points, camera, image, size=16, levels=(1.0,))
    assert crops.shape == (1, 3, 16, 16) and float(crops[0, 0].mean()) > 0.9
    inside, around = object_crops(points, camera, image, size=16, levels=(*CROP_LEVELS, 4.0))[[0, -1]]
    assert float(inside[0].min()) > 0.99  # the default levels stay inside the object: nothing else in them
    assert float(around[0].mean()) < 0.5  # four times its size: mostly its surroundings
    behind = points.clone()
    behind[:, 2] = 3.0  # hidden behind the wall: no crop
    assert object_crops(behind, camera, image, size=16).shape[0] == 0


def test_an_open_piece_is_cropped_on_its_material_not_on_what_shows_through_it():
    # A table seen from the side, on a wall 2 m ahead: a 20 cm thick top over two thin legs. The
    # middle of its box is the wall between the legs; the median of its pixels is on the top.
    k = Intrinsics(fx=100.0, fy=100.0, cx=64.0, cy=48.0, width=128, height=96)
    camera = QueryCamera(k, np.eye(4), np.full((96, 128), 2.0, np.float32), "side")
    step = 0.01
    top = torch.cartesian_prod(torch.arange(-0.4, 0.4 + 1e-6, step), torch.arange(-0.3, -0.1 + 1e-6, step))
    leg_y = torch.arange(-0.1, 0.3 + 1e-6, step)
    legs = [torch.cartesian_prod(torch.arange(x, x + 0.05 + 1e-6, step), leg_y) for x in (-0.4, 0.35)]
    xy = torch.cat([top, *legs])
    points = torch.cat([xy, torch.full((len(xy), 1), 2.0)], dim=1)
    image = torch.zeros(3, 96, 128)
    columns = torch.round(64 + 50 * xy[:, 0]).long()
    rows = torch.round(48 + 50 * xy[:, 1]).long()
    image[0, rows, columns] = 1.0  # the table is red, the wall black
    crop = object_crops(points, camera, image, size=16, levels=(0.5,))[0]
    left, top_row, side = square_crop((44, 33), (84, 63), (64, 48), 0.5, 128, 96)  # at the box's middle
    at_middle = image[0, top_row : top_row + side, left : left + side]
    assert float(crop[0].mean()) > 0.4
    assert float(crop[0].mean()) > 1.5 * float(at_middle.mean())


def test_view_size_is_the_seen_share_times_the_pixels_across():
    pixels = torch.tensor([[10.0, 10.0], [30.0, 15.0], [20.0, 12.0]])  # 20 px across, 5 px high
    assert view_size(pixels, 6) == 0.5 * 20.0
    assert view_size(pixels, 3) == 20.0
    assert view_size(pixels[:0], 3) == 0.0


class MeanColourEncoder:
    """An image encoder whose embedding is a crop's mean colour (a test reads which view it saw)."""

    name = "test:colour"
    input_size = 8
    embedding_dim = 3

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3))


def test_crops_come_from_the_views_that_show_the_object_largest():
    # A 40 cm patch on a wall; "far" films it from 2 m, "near" from 1 m. Both see all of it, "far"
    # is listed first (as the most-seeing order may put it), and only one view is cropped.
    k = Intrinsics(fx=50.0, fy=50.0, cx=32.0, cy=24.0, width=64, height=48)
    axes = torch.linspace(-0.2, 0.2, 9)
    square = torch.cartesian_prod(axes, axes)
    points = torch.cat([square, torch.full((len(square), 1), 2.0)], dim=1)
    cameras = {}
    for name, z in (("far", 0.0), ("near", 1.0)):
        pose = np.eye(4)
        pose[2, 3] = z
        cameras[name] = QueryCamera(k, pose, np.full((48, 64), 2.0 - z, np.float32), name)
    images = {"far": np.zeros((48, 64, 3), np.uint8), "near": np.zeros((48, 64, 3), np.uint8)}
    images["far"][..., 2] = 255  # blue
    images["near"][..., 0] = 255  # red
    owner = torch.zeros(len(points), dtype=torch.long)
    picked = crop_embeddings(points, owner, [("far", "near")], cameras, images, MeanColourEncoder(), top_views=1)
    assert torch.allclose(picked[0], torch.tensor([1.0, 0.0, 0.0]), atol=1e-4)  # the near view, red
    both = crop_embeddings(points, owner, [("far", "near")], cameras, images, MeanColourEncoder(), top_views=2)
    assert float(both[0, 0]) > 0.6 and float(both[0, 2]) > 0.6  # both views when two are asked for
