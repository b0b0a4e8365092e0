"""Stage-2 training steps of a Scene-LLM recipe in a fresh process, measured: the shared part of the
training-step benchmarks (``bench/identifier_tokens.py``, ``bench/train_step.py``).

The child process is ``lerf3d llm-train`` on a copy of a run's ``tokens.pt`` (so no room is
segmented again; stage 2 alone: the projector starts untrained, which does not change a step's work),
optionally after ``prelude``: Python that patches the code under measurement (a benchmark's
baseline). It records the mean length of each batch's spliced sequences.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, sys
from lerf3d.scene_llm.model.scene_llm import SceneLLM
from lerf3d_cli.main import main
{prelude}
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
"""``lerf3d llm-train`` after the prelude, recording the mean length of each training batch's spliced sequences."""


def stage2_steps(dataset: Path, run: Path, out: Path, recipe: list[str], steps: int,
                 extra: list[str] = (), prelude: str = "") -> dict[str, list[float]]:
    """``steps`` stage-2 steps of ``recipe`` (``--preset``/``--set`` arguments) plus ``extra`` in a
    fresh process: per-step seconds, losses, answer tokens, and mean sequence positions per batch."""
    out.mkdir(parents=True)
    shutil.copyfile(run / "tokens.pt", out / "tokens.pt")
    command = [sys.executable, "-c", CHILD.format(prelude=prelude), "llm-train", str(dataset), "--out", str(out),
               "--stages", "2", "--quiet", *recipe, *extra,
               f"--set=stage2.steps={steps}", f"--set=stage2.checkpoint_every={steps}"]
    subprocess.run(command, check=True)
    log = [json.loads(line) for line in (out / "stage2" / "log.jsonl").read_text().splitlines()]
    return {"seconds": [row["seconds"] for row in log], "losses": [row["loss"] for row in log],
            "tokens": [row["tokens"] for row in log],
            "positions": json.loads((out / "positions.json").read_text())}


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """The dataset, the run whose tokens are read back, the recipe and the step count."""
    parser.add_argument("dataset", type=Path, help="the prepared dataset the run trained on")
    parser.add_argument("--run", type=Path, required=True,
                        help="a run of the same recipe on DATASET, whose tokens.pt is read back")
    parser.add_argument("--preset", default="demo", help="the recipe's preset")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="the recipe's overrides, as the run was trained (repeat)")
    parser.add_argument("--steps", type=int, default=12, help="stage-2 steps per variant")
    parser.add_argument("--header", action="store_true", help="print the table's header first")


def recipe_arguments(args: argparse.Namespace) -> list[str]:
    """The ``lerf3d llm-train`` arguments of the recipe in ``args``."""
    return ["--preset", args.preset, *(f"--set={item}" for item in args.set)]
