"""Training throughput and held-out quality: ``lerf3d train`` against nerfstudio's nerfacto.

Same capture, same machine, same run, CPU both; each method trains in its own process (so its
peak RSS is its own) and is timed over its optimisation steps alone (no data setup, evaluation or
checkpoints), in wall time and in CPU time (all threads; on a machine shared with other work the
CPU-time ratio is the steadier one). Three runs:

1. nerfacto (nerfstudio's method config, in-process data manager) for ``--steps`` steps;
2. lerf3d with ``--preset`` for the same number of steps (learning-rate decay over those steps);
3. lerf3d with the preset's own schedule for as much CPU time as nerfacto's steps took, capped at
   the preset's steps: the PSNR at equal compute.

Time to a target PSNR: the target is nerfacto's final held-out PSNR of the same run. nerfacto is
only scored at its end (a score takes minutes per frame), so its time to the target is its whole
training time. Run 3 scores the same held-out frames every ``--curve-every`` steps and at its end,
outside the timed blocks (its clock counts training steps only; the evaluations add to the run's
length, not to its times), writes that curve (step, train wall and CPU seconds, PSNR) to
``OUT/curve_lerf3d.json`` and reports the first point at or above the target: a time at the curve's
resolution (the target was reached by then), or "not reached" within the budget ("-" with
``--curve-every 0``). Run 3 still trains for its whole budget, so its row also gives the PSNR at
equal compute.

Held-out frames are every ``eval_every``-th frame (the preset's; nerfstudio's "interval" split
holds out the same frames, checked); the first ``--eval-frames`` of them are scored (nerfacto
takes minutes per 320x240 frame on a CPU), with lerf3d's PSNR on whole images. About 10 minutes
on 2 idle cores with the defaults, nerfacto's 20 steps and 2 frames being most of it, plus run 3's
curve (a few seconds per frame per point).

    python bench/train.py --header --threads 1        # generated demo room, default preset
    python bench/train.py --capture DIR --steps 50    # any lerf3d capture readable by nerfstudio too

On a machine shared with other work pass ``--threads 1``: two intra-op threads that wait on each
other while the scheduler runs something else make both methods several times slower.

Without ``--image-text``, lerf3d's language targets come from random-weight ``lerf3d:tiny`` towers:
their speed is that of the trained ones, and no language gradient reaches the radiance field, so
the colour PSNR does not depend on them either. Prints one markdown row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import torch

# A sibling script module (bench/ is not a package; it is sys.path[0] when this file runs as a script).
from train_methods import CurvePoint, RunResult, run_lerf3d, run_nerfacto

COLUMNS = (
    "capture", "lerf3d preset, features", "threads", "steps", "rays/batch lerf3d / nerfacto",
    "rays/s lerf3d / nerfacto", "speed-up wall / CPU time", "held-out PSNR lerf3d / nerfacto (dB)",
    "lerf3d within nerfacto's CPU time: steps, PSNR, depth err",
    "time to nerfacto's final PSNR, lerf3d / nerfacto (s)", "peak RSS lerf3d / nerfacto (GB)",
)
HEADER = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS)


def first_reaching(curve: list[CurvePoint], target: float) -> CurvePoint | None:
    """The first point of ``curve`` (in step order) whose PSNR is at least ``target``; None if none is."""
    return next((point for point in curve if point.psnr >= target), None)


def worker(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    run = run_lerf3d if args.worker == "lerf3d" else run_nerfacto
    result = run(args)
    args.result.write_text(json.dumps(asdict(result)))


def spawn(
    args: argparse.Namespace, method: str, name: str, budget: float | None = None, curve_every: int = 0
) -> RunResult:
    """Run one method in a fresh process; its result comes back as JSON."""
    result = args.out / f"{name}.json"
    command = [
        sys.executable, __file__, "--worker", method, "--result", str(result), "--capture", str(args.capture),
        "--out", str(args.out), "--preset", args.preset, "--steps", str(args.steps),
        "--threads", str(args.threads), "--eval-frames", str(args.eval_frames),
        "--curve-every", str(curve_every),
    ]
    for flag, value in (("--image-text", args.image_text), ("--dense", args.dense), ("--budget", budget)):
        if value is not None:
            command += [flag, str(value)]
    command += ["--no-language"] if args.no_language else []
    print(f"[bench] {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    subprocess.run(command, check=True)
    return RunResult(**json.loads(result.read_text()))


def prepare(args: argparse.Namespace) -> None:
    """The demo room (generated once into OUT/room) and random-weight towers, unless given."""
    if args.capture is None:
        from data_tools.config import RoomConfig
        from data_tools.make_room import generate_room

        room = args.out / "room"
        if not (room / "transforms.json").is_file():
            generate_room(RoomConfig.preset("demo", seed=0), room)
        args.capture, args.capture_label = room, "demo room (generated, seed 0)"
    if args.image_text is None and not args.no_language:
        from lerf3d.encoders.spec import TINY_SPEC
        from lerf3d.encoders.tiny import (
            TINY_DENSE_FILE,
            TINY_IMAGE_TEXT_FILE,
            TinyImageTower,
            save_tiny_tower,
            tiny_dense_vit,
        )
        from lerf3d.encoders.vit import ViT

        towers = args.out / "towers"
        if not (towers / TINY_DENSE_FILE).is_file():
            towers.mkdir(parents=True, exist_ok=True)
            torch.manual_seed(0)
            save_tiny_tower(TinyImageTower(), towers / TINY_IMAGE_TEXT_FILE)
            save_tiny_tower(ViT(tiny_dense_vit()), towers / TINY_DENSE_FILE)
        args.image_text = args.dense = f"{TINY_SPEC}@{towers}"
        args.features_label = "tiny towers (random weights)"


def write_curve(args: argparse.Namespace, nerfacto: RunResult, timed: RunResult) -> None:
    """``OUT/curve_lerf3d.json``: the equal-compute run's curve, with the target it is read against."""
    data = {
        "target_psnr": nerfacto.psnr,
        "target": "nerfacto's final held-out PSNR",
        "nerfacto": {"steps": nerfacto.steps, "wall_seconds": nerfacto.train_seconds,
                     "cpu_seconds": nerfacto.train_cpu_seconds},
        "eval_frames": timed.eval_frames,
        "points": [asdict(point) for point in timed.curve],
    }
    (args.out / "curve_lerf3d.json").write_text(json.dumps(data, indent=2) + "\n")


def describe_time_to_target(nerfacto: RunResult, timed: RunResult) -> str:
    """Both methods' times to nerfacto's final PSNR, wall and CPU seconds (for the log)."""
    hit = first_reaching(timed.curve, nerfacto.psnr)
    if hit:
        ours = f"lerf3d {hit.wall_seconds:.1f} s ({hit.cpu_seconds:.1f} CPU s, step {hit.step})"
    elif timed.curve:
        ours = f"lerf3d not reached in {timed.steps} steps ({timed.train_cpu_seconds:.1f} CPU s)"
    else:
        ours = "lerf3d not scored during training (--curve-every 0)"
    return (
        f"time to nerfacto's final PSNR ({nerfacto.psnr:.2f} dB): {ours}; nerfacto "
        f"{nerfacto.train_seconds:.1f} s ({nerfacto.train_cpu_seconds:.1f} CPU s), its whole run "
        f"(scored only at its end)"
    )


def row(args: argparse.Namespace, ours: RunResult, nerfacto: RunResult, timed: RunResult) -> str:
    depth = f"{timed.depth_error_m * 100:.1f} cm" if timed.depth_error_m is not None else "-"
    hit = first_reaching(timed.curve, nerfacto.psnr)
    to_target = f"{hit.wall_seconds:.1f}" if hit else "not reached" if timed.curve else "-"
    return (
        f"| {args.capture_label} | {args.preset}, {args.features_label} "
        f"| {args.threads or torch.get_num_threads()} "
        f"| {ours.steps} | {ours.rays_per_batch} / {nerfacto.rays_per_batch} "
        f"| {ours.rays_per_second:,.0f} / {nerfacto.rays_per_second:,.0f} "
        f"| {ours.rays_per_second / nerfacto.rays_per_second:.1f}x / "
        f"{ours.rays_per_cpu_second / nerfacto.rays_per_cpu_second:.1f}x "
        f"| {ours.psnr:.2f} / {nerfacto.psnr:.2f} | {timed.steps}, {timed.psnr:.2f} dB, {depth} "
        f"| {to_target} / {nerfacto.train_seconds:.1f} "
        f"| {ours.peak_rss_gb:.2f} / {nerfacto.peak_rss_gb:.2f} |"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", type=Path, default=None, help="default: the generated demo room")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_train"), help="work folder")
    parser.add_argument("--preset", default="default", help="lerf3d preset")
    parser.add_argument("--steps", type=int, default=20, help="training steps of each method")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--eval-frames", type=int, default=2, help="held-out frames scored; 0: all")
    parser.add_argument(
        "--curve-every", type=int, default=25,
        help="score lerf3d's equal-compute run every N steps for the time to nerfacto's PSNR; 0: off",
    )
    parser.add_argument("--image-text", default=None, help="image-text encoder; default: random tiny towers")
    parser.add_argument("--dense", default=None, help="dense encoder spec (with --image-text)")
    parser.add_argument("--no-language", action="store_true", help="train lerf3d's radiance field only")
    parser.add_argument("--header", action="store_true", help="print the table header first")
    parser.add_argument("--worker", choices=("lerf3d", "nerfacto"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=float, default=None, help=argparse.SUPPRESS)  # CPU seconds
    args = parser.parse_args()
    args.features_label = "no language" if args.no_language else (args.image_text or "")
    args.capture_label = Path(args.capture).name if args.capture is not None else ""
    return args


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    prepare(args)
    nerfacto = spawn(args, "nerfacto", "nerfacto")
    ours = spawn(args, "lerf3d", "lerf3d")
    timed = spawn(
        args, "lerf3d", "lerf3d_equal_time", budget=nerfacto.train_cpu_seconds, curve_every=args.curve_every
    )
    if ours.eval_frames != nerfacto.eval_frames:
        raise SystemExit(f"held-out frames differ: {ours.eval_frames} (lerf3d), {nerfacto.eval_frames}")
    for run in (nerfacto, ours, timed):
        print(f"[bench] {run.describe()}", file=sys.stderr)
    write_curve(args, nerfacto, timed)
    print(f"[bench] {describe_time_to_target(nerfacto, timed)}", file=sys.stderr)
    if args.header:
        print(HEADER)
    print(row(args, ours, nerfacto, timed))


if __name__ == "__main__":  # nerfstudio's data loaders may spawn workers: the guard is required
    main()
