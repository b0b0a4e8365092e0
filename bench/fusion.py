"""TSDF fusion backends: the dense PyTorch grid against open3d's sparse volume (the baseline).

Both fuse the same generated room at the same (automatic) voxel size; each is scored against the
room's ground truth with ``lerf3d.fusion.evaluate`` (accuracy: fused surface to the rendered one;
completeness: the other way; medians in centimetres) and timed over whole ``fuse_capture`` calls
(frame loading included), the median of ``--repeats`` after one warm-up. ``--device cuda`` runs the
PyTorch backend on a GPU (open3d stays on the CPU).

    python bench/fusion.py [--room demo] [--threads 2] [--repeats 3] [--device cpu] [--header]

Prints a markdown row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from lerf3d.capture import load_capture
from lerf3d.fusion import FusionConfig, fuse_capture
from lerf3d.fusion.evaluate import evaluate_fusion
from lerf3d.ground_truth import load_ground_truth

HEADER = ("| room | device, threads | voxel (cm) | open3d: s / accuracy / completeness (cm) / faces "
          "| torch: s / accuracy / completeness (cm) / faces | torch time vs open3d |\n|---|---|---|---|---|---|")


def timed(capture, config: FusionConfig, repeats: int):
    """The last result and the median seconds of ``repeats`` calls after a warm-up."""
    result = fuse_capture(capture, config)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fuse_capture(capture, config)
        if config.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return result, sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--room", choices=("tiny", "demo"), default="demo", help="generated room preset")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per backend")
    parser.add_argument("--device", default="cpu", help="torch device of the PyTorch backend")
    parser.add_argument("--header", action="store_true", help="print the table header first")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from data_tools.config import RoomConfig
    from data_tools.make_room import generate_room

    with tempfile.TemporaryDirectory() as tmp:
        room = generate_room(RoomConfig.preset(args.room, seed=0, cache_dir=Path(tmp) / "models"),
                             Path(tmp) / "room").out_dir
        capture, truth = load_capture(room), load_ground_truth(room)
        cells = []
        seconds = {}
        for backend in ("open3d", "torch"):
            config = FusionConfig(progress=False, backend=backend, device=args.device if backend == "torch" else "cpu")
            result, seconds[backend] = timed(capture, config, args.repeats)
            report = evaluate_fusion(result, capture, truth)
            cells.append(f"{seconds[backend]:.2f} / {100 * report.accuracy_median:.2f} / "
                         f"{100 * report.completeness_median:.2f} / {len(result.faces):,}")
    row = (f"| {args.room} ({len(capture.frames)} views) | {args.device}, {args.threads} | "
           f"{100 * result.voxel_size:.2f} | {cells[0]} | {cells[1]} | {seconds['torch'] / seconds['open3d']:.1f}x |")
    print((HEADER + "\n" if args.header else "") + row)


if __name__ == "__main__":
    main()
