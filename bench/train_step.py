"""Scene-LLM training step: causal attention without a padding mask and frozen weights held in
bfloat16, against the step as it was before both (the baseline), on a real recipe and dataset.

Both changes keep the maths: a right-padded batch's padding is never attended by a real position
(``lerf3d.scene_llm.model.splice.causal_only``), and under bfloat16 autocast a frozen weight held in
bfloat16 is what autocast would have cast it to (``lerf3d.scene_llm.train.precision``). Each variant
trains ``--steps`` stage-2 steps of the recipe in a fresh ``lerf3d llm-train`` process on a copy of a
run's pooled tokens (``bench/stage2_steps.py``); the baseline's process patches both changes out.
Variants: baseline, each change alone, both. Reports the median step after the first two (the
optimiser's state is allocated then), the ratio to the baseline (the median over those steps of the
baseline's time over the variant's for the same step: every variant draws the same batches, whose
lengths vary more than the variants' times do), and the largest difference of a step's loss from
the baseline's.

    python bench/train_step.py DATASET --run RUN --preset demo --set KEY=VALUE ... [--steps 12] [--header]

Prints markdown table rows (header with ``--header``) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/stage2_steps.py
from stage2_steps import add_recipe_arguments, recipe_arguments, stage2_steps  # noqa: E402

MASKED = """
import lerf3d.scene_llm.model.scene_llm as scene_llm
scene_llm.causal_only = lambda mask, positions: (mask, positions)  # the padding mask, as before
"""
"""Patch: every batch keeps its padding mask and positions (0 at padding)."""

FLOAT32_WEIGHTS = """
import contextlib
import lerf3d.scene_llm.train.loop as loop
loop.autocast_weights = lambda model, enabled: contextlib.nullcontext(0)  # weights cast on every call
"""
"""Patch: frozen weights stay float32, autocast casts them on each call, as before."""

VARIANTS = {"baseline": MASKED + FLOAT32_WEIGHTS, "no padding mask": FLOAT32_WEIGHTS,
            "bfloat16 frozen weights": MASKED, "both": ""}

HEADER = ("| variant | steps | step s | ratio to baseline, per step | largest loss difference | sequence positions |"
          "\n|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_recipe_arguments(parser)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        help="which to run (the baseline always runs first)")
    args = parser.parse_args()
    recipe = recipe_arguments(args)
    names = ["baseline", *(v for v in args.variants if v != "baseline")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index, name in enumerate(names):
            results[name] = stage2_steps(args.dataset, args.run, Path(tmp) / str(index), recipe, args.steps,
                                         prelude=VARIANTS[name])
    base = results["baseline"]
    if args.header:
        print(HEADER)
    for name, result in results.items():
        step = statistics.median(result["seconds"][2:])
        ratio = statistics.median(b / v for b, v in zip(base["seconds"][2:], result["seconds"][2:], strict=True))
        gap = max(abs(a - b) for a, b in zip(result["losses"], base["losses"], strict=True))
        print(f"| {name} | {args.steps} | {step:.2f} | {ratio:.2f}x | {gap:.1e} "
              f"| {statistics.mean(result['positions']):.0f} |")


if __name__ == "__main__":
    main()
