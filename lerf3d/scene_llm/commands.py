"""The Scene-LLM sub-commands of ``lerf3d``: prepare features, train, ask, evaluate.

    lerf3d llm-prepare DATASET [--encoder lerf3d:tiny]        features/<scene>.pt of every scene
    lerf3d llm-train DATASET --out RUN [--preset demo]         stage 1 + 2 (torchrun for DDP)
    lerf3d ask SCENE "how many chairs are there?" [--run RUN]  or no question: an interactive prompt
    lerf3d llm-eval RUN DATASET [--split test]                 exact match vs text-only and majority

DATASET folders come from ``python -m data_tools.qa_generate``. The arguments are declared here
(argparse only: ``lerf3d --help`` must not import torch); the work lives in each command's module
(``run(args)``), imported when the command runs. Errors a user fixes by installing something (the
LLM package, tower weights) become one-line messages like the other ``lerf3d`` errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from lerf3d.preflight import positive_float_arg, positive_int_arg

DEFAULT_RUN = Path(__file__).resolve().parents[1] / "weights" / "scene_llm_demo"
"""The packaged demo weights (projector + LoRA for SmolLM2-135M, see its CARD.md): the run ``lerf3d
ask`` uses when none is given."""


def add_prepare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, help="dataset folder (python -m data_tools.qa_generate)")
    parser.add_argument("--encoder", default=None, help="image-text encoder spec (default: lerf3d:tiny)")
    parser.add_argument("--scale", type=positive_float_arg, default=None,
                        help="feature scale in metres (default: 0.5)")
    parser.add_argument("--voxel", type=positive_float_arg, default=None, help="fusion voxel in metres (default: 0.04)")
    parser.add_argument("--frame-stride", type=positive_int_arg, default=None, help="back-project every n-th frame")
    parser.add_argument("--overwrite", action="store_true", help="recompute existing scene files")
    parser.add_argument("--device", default="cpu", help="torch device of the encoder")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a feature setting (repeatable), e.g. --set pyramid.num_levels=2",
    )


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, help="dataset folder with features/ (lerf3d llm-prepare)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (re-run the command to resume)")
    base = parser.add_mutually_exclusive_group()
    base.add_argument(
        "--preset",
        default="demo",
        help="tiny (tests: random tiny LLM, seconds) or demo (SmolLM2-135M, minutes on a CPU); "
        "lerf3d/configs/scene_llm/",
    )
    base.add_argument("--config", type=Path, metavar="FILE.toml", help="a config file in the presets' form")
    parser.add_argument("--stages", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set stage2.lora.rank=16 (repeatable; applied after the flags below)",
    )
    parser.add_argument("--llm", help="Hugging Face model id or local folder (--set llm.name=...)")
    parser.add_argument("--steps1", type=int, help="stage-1 steps (--set stage1.steps=...)")
    parser.add_argument("--steps2", type=int, help="stage-2 steps (--set stage2.steps=...)")
    parser.add_argument(
        "--batch-size", type=positive_int_arg, help="examples per step per process, both stages (stageN.batch_size)"
    )
    parser.add_argument(
        "--full", action="store_true", help="stage 2 fine-tunes the whole LLM instead of LoRA (stage2.llm_mode=full)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto",
        help="where to train (auto: CUDA when torch sees a GPU, each torchrun process on its own)",
    )


def add_ask_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", type=Path, help="capture folder, or a prepared features/<scene>.pt file")
    parser.add_argument(
        "questions", nargs="*", help="question(s); none and no --questions: an interactive prompt"
    )
    parser.add_argument(
        "--questions",
        dest="question_file",
        type=Path,
        metavar="FILE",
        help='ask every question of FILE (.txt: one a line; .jsonl: {"question": ...} a line)',
    )
    parser.add_argument(
        "--run",
        type=Path,
        default=DEFAULT_RUN,
        help="trained Scene-LLM run folder (default: the packaged demo weights)",
    )
    parser.add_argument("--encoder", default=None, help="image-text encoder (default: the run's record)")
    parser.add_argument(
        "--scale", type=positive_float_arg, default=None, help="feature scale, metres (default: the run's)"
    )
    parser.add_argument("--stage", type=int, choices=[1, 2], help="stage weights (default: the latest)")
    parser.add_argument("--max-new-tokens", type=positive_int_arg, default=None,
                        help="answer length cap, tokens (default: the run's)")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument(
        "--view", metavar="FRAME", default=None,
        help="ask from this frame of the capture (egocentric tokens: left/right as that camera sees it)",
    )
    parser.add_argument(
        "--explain", action="store_true",
        help="after each answer, print the objects it rests on (identifier, name, centre, size), and the "
             "hint line the model read when its run has question hints",
    )


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="trained Scene-LLM run folder")
    parser.add_argument("dataset", type=Path, help="dataset folder with features/")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--limit", type=positive_int_arg, help="evaluate the first N questions only")
    parser.add_argument("--no-baselines", action="store_true", help="score the run only")
    parser.add_argument(
        "--train-dataset", type=Path, default=None,
        help="dataset whose training questions give the majority baselines (default: DATASET's own; "
        "give the run's training set when DATASET is an evaluation-only set)",
    )
    parser.add_argument("--out", type=Path, default=None, help="report JSON (default: RUN/eval_<split>.json; "
                        "with --train-dataset, RUN/eval_<DATASET folder>_<split>.json)")
    parser.add_argument(
        "--against", type=Path, default=None,
        help="another run's report on the same questions: print this run's difference per type, with its "
        "interval over the rooms",
    )
    parser.add_argument("--device", default="cpu", help="torch device")


COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], str, str]] = {
    "llm-prepare": (
        add_prepare_arguments,
        "lerf3d.scene_llm.tokens.prepare",
        "compute the 3D language features of a Scene-LLM dataset",
    ),
    "llm-train": (
        add_train_arguments,
        "lerf3d.scene_llm.train.loop",
        "train Scene-LLM: projector (stage 1), then projector + LoRA or LLM (stage 2)",
    ),
    "ask": (
        add_ask_arguments,
        "lerf3d.scene_llm.use.ask",
        "ask questions about a scene (an interactive prompt without a question)",
    ),
    "llm-eval": (
        add_eval_arguments,
        "lerf3d.scene_llm.use.evaluate",
        "exact-match accuracy of a Scene-LLM run per question type, against baselines",
    ),
}
"""Sub-command -> (its arguments, the module whose ``run(args)`` does the work, help line)."""


USAGE_ERROR = 2
"""Exit status of a command that could not run (bad input, a missing file or missing weights), as
argparse's own usage errors."""


def run_command(module_name: str, args: argparse.Namespace) -> int:
    """``module_name.run(args)`` with its errors as one ``lerf3d COMMAND: error: ...`` line and exit
    status 2: what ``lerf3d COMMAND`` and ``python -m MODULE`` both do."""
    from lerf3d.encoders.checkpoints import MissingWeightsError
    from lerf3d.scene_llm.model.llm import MissingLLMError

    try:
        return import_module(module_name).run(args)
    except (MissingLLMError, MissingWeightsError, FileNotFoundError, ValueError) as err:
        print(f"lerf3d {args.command}: error: {err}", file=sys.stderr)
        return USAGE_ERROR


def _runner(module_name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return run_command(module_name, args)

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the Scene-LLM sub-commands to ``lerf3d``'s sub-parsers (``build_parser`` calls this)."""
    for name, (add_arguments, module_name, help_line) in COMMANDS.items():
        parser = subparsers.add_parser(name, help=help_line, description=help_line)
        add_arguments(parser)
        parser.set_defaults(func=_runner(module_name))
