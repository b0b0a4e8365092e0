"""Crop-pyramid extraction speed: batched crops vs encoding one crop at a time.

Both methods run on the same images in the same process, after one warm-up; the row also reports
the largest difference between their embeddings (they must agree up to float16 rounding).

    python bench/features.py                     # lerf3d:tiny, random weights (~3 min, 2 cores)
    python bench/features.py --spec lerf3d:tiny  # any registry spec (needs its weights)

Prints one markdown table row (header with ``--header``) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.features.pyramid import (
    FeaturePyramid,
    extract_pyramid,
    extract_pyramid_one_by_one,
    image_to_tensor,
)
from lerf3d.features.tiling import PyramidConfig, pyramid_layout

HEADER = (
    "| encoder | device, threads | image | crops/img | batch | batched img/s | one-by-one img/s | speed-up "
    "| max diff |\n|---|---|---|---|---|---|---|---|---|"
)


def random_tiny_encoder(device: torch.device) -> ImageTextEncoder:
    """The ``lerf3d:tiny`` image tower with random weights: its speed is that of the trained one, and
    it needs no weight file and no text tower (the benchmark never encodes text)."""
    from lerf3d.encoders.spec import TINY_SPEC
    from lerf3d.encoders.tiny import TinyImageTextEncoder, TinyImageTower

    torch.manual_seed(0)
    return TinyImageTextEncoder(f"{TINY_SPEC} (random weights)", TinyImageTower(), torch.nn.Identity(), device)


def synthetic_images(count: int, height: int, width: int) -> list[np.ndarray]:
    """Smooth gradients with random rectangles: enough texture that no crop is constant."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    images = []
    for _ in range(count):
        blue = np.full(xx.shape, rng.uniform(0, 255))
        image = np.stack([xx * 255 / width, yy * 255 / height, blue], axis=-1)
        for _ in range(12):
            y0, x0 = rng.integers(0, height), rng.integers(0, width)
            image[y0 : y0 + height // 5, x0 : x0 + width // 5] = rng.integers(0, 256, size=3)
        images.append(image.astype(np.uint8))
    return images


def time_extraction(run, images: list[torch.Tensor]) -> tuple[float, list[FeaturePyramid]]:
    """Seconds for ``run`` over every image (device synchronised), and the pyramids."""
    if images[0].is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    pyramids = [run(image) for image in images]
    if images[0].is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start, pyramids


def max_difference(a: list[FeaturePyramid], b: list[FeaturePyramid]) -> float:
    return max(
        float((la.embeddings.float() - lb.embeddings.float()).abs().max())
        for pa, pb in zip(a, b)
        for la, lb in zip(pa.levels, pb.levels)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # one small image by default: the one-by-one loop takes minutes per image on a laptop CPU, and
    # the crop count (so the encoder's work) hardly depends on resolution since tiles scale with H
    parser.add_argument("--images", type=int, default=1, help="images per method")
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--spec", default=None, help="registry spec; default: random-weight tiny tower")
    parser.add_argument("--header", action="store_true", help="print the table header first")
    args = parser.parse_args()

    device = torch.device(args.device)
    if args.spec is None:
        encoder = random_tiny_encoder(device)
    else:
        from lerf3d.encoders.registry import build_image_text_encoder

        encoder = build_image_text_encoder(args.spec, device)
    config = PyramidConfig()
    images = [image_to_tensor(rgb, device) for rgb in synthetic_images(args.images, args.height, args.width)]
    crops = sum(layout.num_crops for layout in pyramid_layout(config, args.height, args.width))

    def batched(image):
        return extract_pyramid(image, encoder, config, args.batch_size)

    def one_by_one(image):
        return extract_pyramid_one_by_one(image, encoder, config)

    with torch.no_grad():
        side = encoder.input_size
        encoder.encode_image(torch.rand(args.batch_size, 3, side, side, device=device))  # warm-up
    batched_s, batched_out = time_extraction(batched, images)
    naive_s, naive_out = time_extraction(one_by_one, images)
    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    if args.header:
        print(HEADER)
    print(
        f"| {encoder.name} | {device.type}, {threads} | {args.width}x{args.height} | {crops} "
        f"| {args.batch_size} "
        f"| {args.images / batched_s:.3f} | {args.images / naive_s:.3f} | {naive_s / batched_s:.1f}x "
        f"| {max_difference(batched_out, naive_out):.1e} |"
    )


if __name__ == "__main__":
    main()
