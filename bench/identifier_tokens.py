"""Identifier tokens: a stage-2 training step with each ``<objK>`` one learned token against the same
step with identifiers spelled as text (the baseline: every run before ``identifier_tokens``).

Trains ``--steps`` stage-2 steps of a recipe (``--preset`` and ``--set``, as a run was trained) on
its dataset twice, in two fresh ``lerf3d llm-train`` processes that differ only in
``identifier_tokens`` (0, the baseline, then N), each reading that run's pooled tokens back from a
copy of its ``tokens.pt`` so that no room is segmented again (stage 2 alone: the projector starts
untrained, which does not change a step's work). Reports the median step time after the first two steps (the optimiser's state is
allocated then), the mean length of the training sequences (the positions the LLM runs over, scene
block and conversation), and the answer tokens per step.

    python bench/identifier_tokens.py DATASET --run RUN --preset demo --set KEY=VALUE ... [--steps 12] [--header]

Prints one markdown table row (header with ``--header``) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/stage2_steps.py
from stage2_steps import add_recipe_arguments, recipe_arguments, stage2_steps  # noqa: E402

HEADER = ("| identifier tokens | steps | step s spelled (baseline) | step s tokens | ratio "
          "| sequence positions spelled / tokens | answer tokens per step |"
          "\n|---|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_recipe_arguments(parser)
    parser.add_argument("--identifier-tokens", type=int, default=24, help="N of the variant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        recipe = recipe_arguments(args)
        spelled, tokens = (stage2_steps(args.dataset, args.run, Path(tmp) / name, recipe, args.steps,
                                        [f"--set=identifier_tokens={count}"])
                           for name, count in (("spelled", 0), ("tokens", args.identifier_tokens)))
    base, new = (statistics.median(r["seconds"][2:]) for r in (spelled, tokens))
    if args.header:
        print(HEADER)
    print(f"| {args.identifier_tokens} | {args.steps} | {base:.2f} | {new:.2f} | {base / new:.2f}x "
          f"| {statistics.mean(spelled['positions']):.0f} / {statistics.mean(tokens['positions']):.0f} "
          f"| {statistics.mean(spelled['tokens']):.0f} / {statistics.mean(tokens['tokens']):.0f} |")


if __name__ == "__main__":
    main()
