"""Generate Scene-LLM question/answer data from generated rooms (or any capture with ground truth).

    python -m data_tools.qa_generate ROOM [ROOM ...] --out DIR [--seed 0] [--val 0.2] [--test 0.2]

Each ROOM is a capture folder with ``ground_truth.json`` (``python -m data_tools.make_room``).
Writes ``DIR/scenes.json`` and ``DIR/stage{1,2}_{train,val,test}.jsonl``; see
``lerf3d.scene_llm.data.dataset``. Counting and existence questions draw absent labels from the furniture
catalogue, in proportion to the number of rooms holding each label (so a label is about as often
absent as present; ``--no-balance``: uniformly). Egocentric left/right questions are asked from
views of each capture (``--no-egocentric``: none). At the end it prints, per question type, how the
answers are spread and the share of the commonest one (what always giving it would score).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from lerf3d.scene_llm.data.balance import format_distribution, merge_distributions
from lerf3d.scene_llm.data.dataset import SPLITS, DatasetConfig, generate_dataset
from lerf3d.scene_llm.data.questions import QuestionConfig


def catalogue_labels() -> list[str]:
    """Labels of the furniture catalogue (the primitive fallback's when the archive is missing)."""
    from data_tools.catalog import load_catalog

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a missing archive is reported by make_room, not here
        return load_catalog().labels()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_tools.qa_generate",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("rooms", nargs="+", type=Path, help="capture folders with ground_truth.json")
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and sampled questions")
    parser.add_argument("--val", type=float, default=0.2, help="share of scenes for validation")
    parser.add_argument("--test", type=float, default=0.2, help="share of scenes for testing")
    parser.add_argument("--min-pixels", type=int, default=QuestionConfig.min_pixels,
                        help="pixels for an object to be named in a frame caption")
    parser.add_argument("--no-catalogue", action="store_true",
                        help="draw absent labels only from the rooms themselves")
    parser.add_argument("--no-balance", action="store_true",
                        help="draw absent labels uniformly, not in proportion to the rooms holding them")
    parser.add_argument("--train-only-wordings", action="store_true",
                        help="spread training questions over the training-only wording families too")
    parser.add_argument("--no-egocentric", action="store_true",
                        help="no left/right questions from views of the rooms (no capture poses read)")
    parser.add_argument("--ego-pairs", type=int, default=QuestionConfig.max_ego_pairs,
                        help="at most this many egocentric left/right questions per room")
    parser.add_argument("--all-counts", action="store_true",
                        help="ask the count of every present label (more questions, mostly 0 and 1) instead "
                             "of spreading counting answers over 0, 1 and more")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        questions = QuestionConfig(min_pixels=args.min_pixels, max_ego_pairs=args.ego_pairs,
                                   balance_counts=not args.all_counts)
        config = DatasetConfig(seed=args.seed, val_fraction=args.val, test_fraction=args.test,
                               questions=questions, balance_labels=not args.no_balance,
                               egocentric=not args.no_egocentric,
                               train_only_wordings=args.train_only_wordings)
        vocabulary = [] if args.no_catalogue else catalogue_labels()
        summary = generate_dataset(args.rooms, args.out, config, vocabulary)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for split in SPLITS:
        scenes = sorted(n for n, e in summary.scenes.items() if e.split == split)
        counts = ", ".join(f"{t} {n}" for t, n in sorted(summary.counts[split].items())) or "nothing"
        print(f"{split}: {len(scenes)} scene(s) {scenes}: {counts}")
    print("answers per type, all splits (majority share = what always giving the commonest answer scores):")
    for line in format_distribution(merge_distributions(summary.answers.values())):
        print(f"  {line}")
    print(f"wrote {summary.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
