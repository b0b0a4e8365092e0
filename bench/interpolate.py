"""Bilinear pyramid lookups: torch's ``grid_sample`` kernel against four gathers (the baseline).

``lerf3d.features.interpolate.bilinear_grid_sample`` uses ``grid_sample`` when there are more samples
than grid nodes; ``bilinear_by_gathers`` is the same interpolation written out, the reference and
the kernel for fewer samples. This measures both on the same inputs: the
sizes a point-fusion baseline and a scene's 3D features see (tens of thousands of points against
one pyramid level of a 320x240 view, 384-wide MiniLM embeddings stored in float16), and a training
batch against the stacked levels of 40 images (fewer samples than nodes, float32; gathers there,
because a float32 node coordinate thousands of rows tall is off by ~1e-4 of a cell).

    python bench/interpolate.py [--repeats 5] [--threads 2] [--header]

Prints markdown rows for docs/benchmarks.md: milliseconds per call of each kernel and their ratio.
"""

from __future__ import annotations

import argparse
import time

import torch

from lerf3d.features.interpolate import bilinear_by_gathers, bilinear_by_grid_sample

CASES = (
    # (what, samples, grid rows, grid columns, embedding width, grid dtype)
    ("point fusion, one view, finest level", 60_000, 60, 80, 384, torch.float16),
    ("point fusion, one view, coarsest level", 60_000, 12, 16, 384, torch.float16),
    ("3D features of a scene, 24 views", 200_000, 60, 80, 384, torch.float16),
    # training stacks every image's level once, in float32 (lerf3d.train.targets.StackedGrid)
    ("training batch vs 40 stacked images", 4_096, 40 * 60, 80, 384, torch.float32),
)
"""The shapes measured."""

HEADER = ("| case | samples | grid nodes | grid dtype | gathers (ms) | grid_sample (ms) | grid_sample speed-up |\n"
          "|---|---|---|---|---|---|---|")


def per_call_ms(kernel, args: tuple, repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call."""
    kernel(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        kernel(*args)
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per kernel and case")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--header", action="store_true", help="print the table header first")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    rows = [HEADER] if args.header else []
    for what, samples, gh, gw, width, dtype in CASES:
        grid = torch.nn.functional.normalize(torch.randn(gh, gw, width, generator=generator), dim=-1).to(dtype)
        centres_y = torch.arange(gh, dtype=torch.float32) * 4 + 2  # crop centres 4 px apart
        centres_x = torch.arange(gw, dtype=torch.float32) * 4 + 2
        pixels = torch.rand(samples, 2, generator=generator) * torch.tensor([gw * 4.0, gh * 4.0])
        inputs = (grid, centres_y, centres_x, pixels)
        difference = (bilinear_by_gathers(*inputs) - bilinear_by_grid_sample(*inputs)).abs().max().item()
        if difference > 1e-4:
            raise SystemExit(f"{what}: the kernels disagree by {difference:.2e}")
        gathers = per_call_ms(bilinear_by_gathers, inputs, args.repeats)
        kernel = per_call_ms(bilinear_by_grid_sample, inputs, args.repeats)
        rows.append(f"| {what} | {samples:,} | {gh * gw:,} | {str(dtype).removeprefix('torch.')} | {gathers:.1f} | "
                    f"{kernel:.1f} | {gathers / kernel:.2f}x |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
