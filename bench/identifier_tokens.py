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
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HEADER = ("| identifier tokens | steps | step s spelled (baseline) | step s tokens | ratio "
          "| sequence positions spelled / tokens | answer tokens per step |"
          "\n|---|---|---|---|---|---|---|")

POSITIONS = """
import json, sys
from lerf3d.scene_llm.model.scene_llm import SceneLLM
from lerf3d_cli.main import main
seen, splice = [], SceneLLM.splice
def counted(self, *args, **kwargs):
    spliced = splice(self, *args, **kwargs)
    if self.training:
        seen.append(float(spliced.attention_mask.sum(1).float().mean()))
    return spliced
SceneLLM.splice = counted
code = main(sys.argv[1:])
out = sys.argv[sys.argv.index("--out") + 1]
open(out + "/positions.json", "w").write(json.dumps(seen))
sys.exit(code)
"""
"""``lerf3d llm-train`` recording the mean length of each training batch's spliced sequences."""


def train(dataset: Path, run: Path, out: Path, recipe: list[str], steps: int,
          identifier_tokens: int) -> dict[str, list[float]]:
    """Stage-2 steps of the recipe in a fresh process: per-step seconds, answer tokens and mean
    sequence positions."""
    out.mkdir(parents=True)
    shutil.copyfile(run / "tokens.pt", out / "tokens.pt")
    command = [sys.executable, "-c", POSITIONS, "llm-train", str(dataset), "--out", str(out), "--stages", "2",
               "--quiet", *recipe, f"--set=identifier_tokens={identifier_tokens}",
               f"--set=stage2.steps={steps}", f"--set=stage2.checkpoint_every={steps}"]
    subprocess.run(command, check=True)
    log = [json.loads(line) for line in (out / "stage2" / "log.jsonl").read_text().splitlines()]
    return {"seconds": [row["seconds"] for row in log], "tokens": [row["tokens"] for row in log],
            "positions": json.loads((out / "positions.json").read_text())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="the prepared dataset the run trained on")
    parser.add_argument("--run", type=Path, required=True,
                        help="a run of the same recipe on DATASET, whose tokens.pt is read back")
    parser.add_argument("--preset", default="demo", help="the recipe's preset")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="the recipe's overrides, as the run was trained (repeat)")
    parser.add_argument("--steps", type=int, default=12, help="stage-2 steps per variant")
    parser.add_argument("--identifier-tokens", type=int, default=24, help="N of the variant")
    parser.add_argument("--header", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        recipe = ["--preset", args.preset, *(f"--set={item}" for item in args.set)]
        spelled = train(args.dataset, args.run, Path(tmp) / "spelled", recipe, args.steps, 0)
        tokens = train(args.dataset, args.run, Path(tmp) / "tokens", recipe, args.steps, args.identifier_tokens)
    base, new = (statistics.median(r["seconds"][2:]) for r in (spelled, tokens))
    if args.header:
        print(HEADER)
    print(f"| {args.identifier_tokens} | {args.steps} | {base:.2f} | {new:.2f} | {base / new:.2f}x "
          f"| {statistics.mean(spelled['positions']):.0f} / {statistics.mean(tokens['positions']):.0f} "
          f"| {statistics.mean(spelled['tokens']):.0f} / {statistics.mean(tokens['tokens']):.0f} |")


if __name__ == "__main__":
    main()
