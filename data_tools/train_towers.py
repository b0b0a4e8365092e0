"""Train the embedded ``lerf3d:tiny`` towers on generated rooms and measure them on unseen rooms.

    python -m data_tools.train_towers [--preset default|catalogues|gpu|tiny | --config FILE.toml] [--set KEY=VALUE ...]
        [--out lerf3d/weights] [--seed 0] [--device cpu|cuda|auto]

The presets are TOML files in ``data_tools/configs/towers/`` read by :mod:`lerf3d.typed_config`;
``--set lit.steps=2000`` (any dotted key, repeatable) varies one.

1. rooms: training rooms (catalogue ``train`` models), evaluation rooms with other seeds, and rooms
   of ``held-out`` catalogue models (:mod:`data_tools.tower_data`);
2. the dense tower by DINO self-distillation on the training views (:mod:`data_tools.dino_train`);
3. the image-text tower, LiT-style against the frozen MiniLM text tower, on labelled crops,
   starting from the dense tower (:mod:`data_tools.lit_train`);
4. both saved (fp16) to ``--out``, reloaded through :mod:`lerf3d.encoders` and evaluated
   (:mod:`data_tools.tower_figures`); the figures are printed and written to ``MODEL_CARD.md``.

The same preset and seed give the same weights (fixed seeds, deterministic torch algorithms,
fixed thread count).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from data_tools.dino_train import DinoResult, train_dino
from data_tools.lit_train import LitResult, attribute_texts, temperature, text_table, train_lit
from data_tools.tower_build_data import prepare_data
from data_tools.tower_card import TowerReport, format_summary, write_model_card
from data_tools.tower_config import TowerTrainConfig, load_config, preset_names
from data_tools.tower_data import shell_crops
from data_tools.tower_figures import evaluate
from lerf3d.encoders.tiny import TINY_DENSE_FILE, TINY_IMAGE_TEXT_FILE, save_tiny_tower, shared_text_tower
from lerf3d.preflight import training_device


def save_towers(dino: DinoResult, lit: LitResult, out: Path, config: TowerTrainConfig, meta: dict[str, str]) -> None:
    dtype = getattr(torch, config.weights_dtype)
    save_tiny_tower(dino.teacher, out / TINY_DENSE_FILE, meta={**meta, "trained_by": "DINO"}, dtype=dtype)
    save_tiny_tower(lit.tower, out / TINY_IMAGE_TEXT_FILE, meta={**meta, "trained_by": "LiT"}, dtype=dtype)


def run(config: TowerTrainConfig, out: Path, work: Path, seed: int = 0, threads: int = 2,
        device: str = "cpu") -> TowerReport:
    """The whole pipeline; returns the figures (also written to ``out/MODEL_CARD.md``). ``device``
    trains the networks on a GPU ("cuda"); data, evaluation and the saved files are the same."""
    config.check_runnable()
    device = str(training_device(device))  # "auto": the GPU when there is one
    start = time.perf_counter()
    # CUDA has no deterministic kernel for some backward passes: warn there rather than stop
    torch.use_deterministic_algorithms(True, warn_only=device != "cpu")
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    # Data preparation is thousands of tiny tensor ops: one thread avoids pool hand-offs that cost
    # more than the ops themselves on a loaded two-core machine.
    torch.set_num_threads(1)
    data = prepare_data(config, work, seed, workers=threads)
    t_data = time.perf_counter() - start
    torch.set_num_threads(threads)
    dino = train_dino(data.views, config.dino, seed, data.view_masks, device)
    text_tower = shared_text_tower("cpu", torch.float32)
    texts = text_table(text_tower, data.labels, config.lit.templates)
    attributes = attribute_texts(text_tower, data.vocab.colours, data.vocab.materials, data.labels)
    lit = train_lit(data.train, texts, config.lit, seed, dense=dino.teacher, attributes=attributes, device=device,
                    shell=shell_crops(data.train, data.labels))
    meta = {"seed": str(seed), "command": "python -m data_tools.train_towers", "dino_steps": str(config.dino.steps), "lit_steps": str(config.lit.steps)}
    save_towers(dino, lit, out, config, meta)
    figures = evaluate(data, out, config, seed)
    report = TowerReport(
        config=config,
        seed=seed,
        labels=data.labels,
        crop_counts={"train": len(data.train), "eval": len(data.eval), "held_out": 0 if data.held_out is None else len(data.held_out), "views": len(data.views)},
        train_labels=sorted({data.labels[c] for c in data.train.labels.tolist()}),
        dino_losses=dino.losses,
        dino_instance_losses=dino.instance_losses,
        lit_losses=lit.losses,
        lit_accuracies=lit.accuracies,
        lit_init_tensors=lit.init_tensors,
        lit_bf16=lit.bf16,
        rooms_reused=data.rooms_reused,
        temperature=temperature(lit.tower),
        seconds={"data": t_data, "dino": dino.seconds, "lit": lit.seconds, "total": time.perf_counter() - start},
        threads=threads,
        device=device,
        **figures,
    )
    write_model_card(report, out / "MODEL_CARD.md")
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_tools.train_towers", description=__doc__.split("\n")[0])
    base = parser.add_mutually_exclusive_group()
    base.add_argument("--preset", default="default", help=f"run preset: {', '.join(preset_names())} (default: default; data_tools/configs/towers/)")
    base.add_argument("--config", type=Path, metavar="FILE.toml", help="a config file in the presets' form")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set lit.steps=2000 (repeatable, applied in order)")
    parser.add_argument("--out", type=Path, default=Path("lerf3d/weights"), help="where the tower files go")
    parser.add_argument("--work", type=Path, default=Path("outputs/tower_data"), help="generated rooms and crop caches")
    parser.add_argument("--seed", type=int, default=0, help="seed of crop sampling, augmentation and init")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help="where the networks train: cpu (default), cuda, or auto (the GPU when there is one)")
    parser.add_argument("--threads", type=int, default=2, help="CPU cores to use: torch threads for training, processes for rendering rooms (default 2)")
    return parser


def config_from_args(args: argparse.Namespace) -> TowerTrainConfig:
    """The run config of parsed arguments: the preset (or ``--config`` file), then each ``--set``;
    a ValueError when it is not valid or has an empty room set."""
    config = load_config(args.config or args.preset, args.set)
    config.check_runnable()
    return config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        training_device(args.device)
    except ValueError as exc:  # ConfigError included: one line naming the file or key
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = run(config, args.out, args.work, args.seed, args.threads, args.device)
    print(format_summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
