"""The figures of a tower training run: a console summary and the weights' ``MODEL_CARD.md``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data_tools.tower_eval import LARGE_CROP_FRACTION, DenseReport, RetrievalReport
from lerf3d.stats import INTERVAL_DRAWS, INTERVAL_LEVEL

BAR_TOP1 = 0.85
"""Quality bar: top-1 over all eval crops (trained labels, floor, wall, ceiling)."""
BAR_TOP1_LARGE = 0.90
"""Quality bar: top-1 over eval crops of at least LARGE_CROP_FRACTION of the image height."""
BAR_TEXT_TO_IMAGE = 0.90
"""Quality bar: share of labels whose text prefers their own crops (see RetrievalReport)."""
BAR_HELD_OUT_TOP1 = 0.60
"""Top-1 on held-out models of known labels a run over chosen catalogues must reach (kinds, not models)."""
BAR_HELD_OUT_TOP5 = 0.85
"""The same for top-5."""
BAR_DENSE_MARGIN = 0.10
"""Points by which the dense tower's nearest-centroid figure must beat random weights of its shape."""
ATTRIBUTE_BARS = {"colour": 0.80, "material": 0.70}
"""Top-1 on held-out models each attribute family must reach."""
ATTRIBUTE_EXAMPLES = {"colour": '"red chair"', "material": '"wooden table"'}
"""How each attribute family is phrased, for the card."""
REAL_CLIP_SPEC = "openclip:ViT-B-16/laion2b_s34b_b88k"
"""The real encoder a user switches to for open-vocabulary queries."""


@dataclass(frozen=True, eq=False)
class TowerReport:
    """Everything the model card states about a run."""

    config: object
    """The TowerTrainConfig of the run."""
    seed: int
    """--seed."""
    labels: list[str]
    """Label texts retrieval chooses among."""
    crop_counts: dict[str, int]
    """Crops per set, and DINO training views."""
    train_labels: list[str]
    """Labels that had training crops."""
    dino_losses: list[float]
    """DINO loss per step."""
    dino_instance_losses: list[float]
    """Patch instance-contrast loss per step (empty when it was off)."""
    lit_losses: list[float]
    """LiT loss per step."""
    lit_accuracies: list[float]
    """LiT training top-1 per step."""
    lit_init_tensors: int
    """Image backbone tensors copied from the dense tower."""
    temperature: float
    """Learned softmax temperature of the image-text tower."""
    seconds: dict[str, float]
    """Wall time per stage and in total."""
    threads: int
    """torch threads used for training."""
    device: str
    """Device the networks trained on ("cpu", or a GPU's "cuda")."""
    eval: RetrievalReport
    """Unseen rooms, trained models."""
    held_out: RetrievalReport | None
    """Unseen rooms of held-out catalogue models (furniture crops only); None when the run had no
    held-out rooms (its training rooms drew every model)."""
    synonyms: dict[str, tuple[float, int]]
    """Synonym top-1 and crop count."""
    dense: DenseReport
    """Trained dense tower."""
    dense_random: DenseReport
    """Same shape, random weights."""
    twins: tuple[frozenset[str], ...] = ()
    """Material-twin label groups among the run's models (:mod:`data_tools.twins`)."""
    lit_bf16: bool = False
    """Whether LiT ran its tower under bfloat16 autocast."""
    rooms_reused: tuple[int, int] = (0, 0)
    """(rooms found already generated in the work folder, rooms of the run): the data time of a
    run that reused rooms is not that of a fresh run."""
    per_catalogue: dict[str, dict[str, tuple[float, int]]] = field(default_factory=dict)
    """Crop set ("unseen rooms", "held-out models") -> catalogue -> (label top-1, crops); empty for a
    run over the Blend Swap CC-0 archive alone."""
    attributes: dict[str, tuple[float, int]] = field(default_factory=dict)
    """"colour, held-out models" and the like -> (top-1 among the family's words phrased with the
    crop's label, crops); empty when the rooms record no attributes."""
    coverage: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Unseen-room top-1 of furniture crops grouped by how many training rooms hold their model
    ("1 room" -> (top-1, crops); :func:`~data_tools.tower_eval.coverage_groups`)."""


def _mean(values: list[float], part: slice) -> float:
    chunk = values[part]
    return float(np.mean(chunk)) if chunk else float("nan")


def loss_drop(losses: list[float]) -> tuple[float, float]:
    """Mean loss of the first and of the last tenth of the steps (at least one step each)."""
    k = max(1, len(losses) // 10)
    return _mean(losses, slice(0, k)), _mean(losses, slice(-k, None))


def _bar(value: float, bar: float) -> str:
    return f"{value:.1%} (bar {bar:.0%}: {'met' if value >= bar else 'NOT met'})"


def _interval(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:.1%}-{bounds[1]:.1%}"


def _data_time(r: TowerReport) -> str:
    reused, total = r.rooms_reused
    note = f" ({reused} of {total} rooms reused from an earlier run, not generated)" if reused else ""
    return f"data {r.seconds['data']:.0f} s{note}"


def _twins_text(twins: tuple[frozenset[str], ...]) -> str:
    return "; ".join(" / ".join(sorted(g)) for g in twins) or "none"


def format_summary(r: TowerReport) -> str:
    """Console lines of the main figures."""
    d0, d1 = loss_drop(r.dino_losses)
    l0, l1 = loss_drop(r.lit_losses)
    syn = np.mean([a for a, _ in r.synonyms.values()]) if r.synonyms else float("nan")
    s = r.seconds
    return "\n".join(
        [
            f"data: {r.crop_counts['train']} train crops ({len(r.train_labels)} labels), {r.crop_counts['views']} DINO views, "
            f"{r.crop_counts['eval']} eval crops, {r.crop_counts['held_out']} held-out-room crops",
            f"DINO loss {d0:.3f} -> {d1:.3f}; LiT loss {l0:.3f} -> {l1:.3f}, temperature {r.temperature:.4f}",
            f"eval top-1 {_bar(r.eval.top1, BAR_TOP1)}, {INTERVAL_LEVEL:.0%} over rooms {_interval(r.eval.top1_interval)}, "
            f"top-5 {r.eval.top5:.1%}, macro {r.eval.macro_top1:.1%}",
            f"eval top-1 on crops >= {LARGE_CROP_FRACTION:.0%} of H {_bar(r.eval.top1_large, BAR_TOP1_LARGE)}, "
            f"{INTERVAL_LEVEL:.0%} over rooms {_interval(r.eval.top1_large_interval)}",
            f"labels whose text prefers their own crops {_bar(r.eval.text_to_image, BAR_TEXT_TO_IMAGE)} of {r.eval.labels}",
            f"with confusions between material twins forgiven ({_twins_text(r.twins)}): top-1 {r.eval.top1_twins:.1%}, "
            f"large crops {r.eval.top1_large_twins:.1%}",
            f"{_held_out_text(r.held_out)}; synonyms: mean top-1 {syn:.1%} over {len(r.synonyms)}",
            *[f"{name}: top-1 {acc:.1%} of {n} crops" for name, (acc, n) in r.attributes.items()],
            *[f"{where}, {cat}: top-1 {acc:.1%} of {n} crops"
              for where, table in r.per_catalogue.items() for cat, (acc, n) in table.items()],
            *[f"unseen rooms, models in {group} of training: top-1 {acc:.1%} of {n} crops" for group, (acc, n) in r.coverage.items()],
            f"dense maps: nearest-centroid {r.dense.centroid_accuracy:.1%} (random weights {r.dense_random.centroid_accuracy:.1%}), "
            f"separation {r.dense.pair_separation:.2f} (random {r.dense_random.pair_separation:.2f})",
            f"time: {_data_time(r)}, DINO {s['dino']:.0f} s, LiT {s['lit']:.0f} s, total {s['total']:.0f} s on {_where(r)}",
        ]
    )


def _rooms_line(name: str, rooms) -> str:
    seeds = rooms.seeds
    if not seeds:
        return f"| {name} | 0 | - | none |"
    span = f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    extra = ", ".join(sorted(rooms.overrides))
    return f"| {name} | {len(seeds)} | {span} | `{rooms.preset}` ({extra}) |"


def _per_label_table(per_label: dict[str, float]) -> list[str]:
    items = sorted(per_label.items(), key=lambda kv: (kv[1], kv[0]))
    cells = [f"{k} {v:.0%}" for k, v in items]
    return [", ".join(cells[i : i + 8]) for i in range(0, len(cells), 8)]


def _image_tower_line(init_from_dense: bool, init_tensors: int) -> str:
    """The image-text tower's shape, read off the architecture lerf3d builds."""
    from lerf3d.encoders.tiny import TinyImageTower

    tower = TinyImageTower()
    cfg = tower.cfg
    params = sum(p.numel() for p in tower.parameters()) / 1e6
    if cfg.backbone == "cnn":
        shape = (f"residual CNN, widths {'-'.join(map(str, cfg.cnn.widths))}, {cfg.cnn.image_size} px input, "
                 f"average-pooled")
    else:
        shape = f"ViT, patch {cfg.vit.patch_size}, width {cfg.vit.embed_dim}, {cfg.vit.depth} blocks, class token"
    init = (f"{init_tensors} backbone tensors start from the dense tower" if init_from_dense
            else "random initialisation (shares no layer with the dense ViT)")
    return f"{shape} -> linear {cfg.embedding_dim} (~{params:.1f}M parameters); {init}."


def _vocabulary_text(catalogues: str) -> str:
    """What the labels are, for the card's first paragraph."""
    if not catalogues:
        return "labels of the Sweet Home 3D CC0 furniture catalogue"
    return f"kinds of furniture of the Sweet Home 3D catalogues `{catalogues}`, one label per kind"


NOT_MEASURED = "not measured: no held-out rooms (the training rooms drew every model)"
"""What the card says of the held-out figures of a run without held-out rooms."""


def _held_out_text(held_out: RetrievalReport | None) -> str:
    if held_out is None:
        return f"held-out models: {NOT_MEASURED}"
    return f"held-out models: top-1 {held_out.top1:.1%}, top-5 {held_out.top5:.1%} ({held_out.crops} crops)"


def _held_out_rows(held_out: RetrievalReport | None, config) -> list[str]:
    if held_out is None:
        return [f"| held-out catalogue models | {NOT_MEASURED} | - | - |"]
    return [
        f"| held-out catalogue models: top-1 ({held_out.crops} furniture crops, {held_out.labels} labels) | "
        f"{held_out.top1:.1%} | - | {_held_out_bar(config, BAR_HELD_OUT_TOP1)} |",
        f"| held-out catalogue models: top-5 | {held_out.top5:.1%} | - | {_held_out_bar(config, BAR_HELD_OUT_TOP5)} |",
    ]


def _held_out_bar(config, bar: float) -> str:
    """The held-out bar of a run over chosen catalogues (kinds split by model); '-' otherwise."""
    return f"{bar:.0%}" if config.catalogues else "-"


def _attribute_rows(attributes: dict[str, tuple[float, int]]) -> list[str]:
    """Table rows of the attribute figures: top-1 among the family's words, phrased with the label."""
    rows = []
    for name, (acc, n) in attributes.items():
        family, where = name.split(", ", 1)
        bar = f"{ATTRIBUTE_BARS[family]:.0%}" if where == "held-out models" and family in ATTRIBUTE_BARS else "-"
        example = ATTRIBUTE_EXAMPLES.get(family, "")
        rows.append(f"| {family} word phrased with the label ({example}), {where} ({n} crops) | {acc:.1%} | - | {bar} |")
    return rows


def _per_catalogue_lines(per_catalogue: dict[str, dict[str, tuple[float, int]]]) -> list[str]:
    """A table of label top-1 per catalogue and crop set, so no catalogue hides behind another."""
    if not per_catalogue:
        return []
    sets = list(per_catalogue)
    catalogues = sorted({cat for table in per_catalogue.values() for cat in table})
    lines = ["Label top-1 per catalogue (crops of its models):", "",
             "| catalogue | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
    for cat in catalogues:
        cells = [f"{per_catalogue[s][cat][0]:.1%} ({per_catalogue[s][cat][1]})" if cat in per_catalogue[s] else "-"
                 for s in sets]
        lines.append(f"| {cat} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _coverage_lines(coverage: dict[str, tuple[float, int]]) -> list[str]:
    """Unseen-room top-1 by the training rooms of the crop's model: what memorising models costs."""
    if not coverage:
        return []
    cells = ", ".join(f"{group} {acc:.1%} ({n})" for group, (acc, n) in coverage.items())
    return ["Unseen-room top-1 of furniture crops by how many training rooms hold a crop of their model "
            f"(crops): {cells}.", ""]


def _where(r: TowerReport) -> str:
    """What the training ran on."""
    if r.device == "cpu":
        return f"{r.threads} torch threads on the CPU"
    return f"{r.device} ({r.threads} CPU threads for data and augmentation)"


def _instance_lines(r: TowerReport) -> list[str]:
    """The patch instance contrast of the DINO run, when it was on."""
    c = r.config.dino
    if c.instance_weight <= 0:
        return []
    i0, i1 = loss_drop(r.dino_instance_losses)
    return [f"  Plus the patch instance contrast (`data_tools/instance_contrast.py`, weight {c.instance_weight},",
            f"  temperature {c.instance_temp}): patches of one rendered instance pulled together, other instances of",
            f"  the view pushed away (instance masks only, never labels); its loss {i0:.3f} -> {i1:.3f}."]


def write_model_card(r: TowerReport, path: Path) -> None:
    """Write ``MODEL_CARD.md`` for the towers of a run."""
    c = r.config
    d0, d1 = loss_drop(r.dino_losses)
    l0, l1 = loss_drop(r.lit_losses)
    s = r.seconds
    lines = [
        "# lerf3d:tiny towers: model card",
        "",
        "Written by `python -m data_tools.train_towers` (`data_tools/train_towers.py`); every figure below",
        f"is from the run that wrote the weights beside this file (seed {r.seed}).",
        "",
        "## What they are for, and what not",
        "",
        "- `tiny_image_text.pt`: a small image tower aligned LiT-style with the frozen all-MiniLM-L6-v2 text",
        f"  tower. It recognises the **{_vocabulary_text(c.catalogues)}** (plus floor, wall,",
        "  ceiling) and close paraphrases of them, in renders like the generated rooms. It is **not**",
        "  an open-vocabulary CLIP: words far from those labels retrieve nothing meaningful, and real",
        "  photographs are outside its training data. Real CLIP is one flag away:",
        f"  `{REAL_CLIP_SPEC}`.",
        "- `tiny_dense.pt`: a small ViT trained by DINO self-distillation on the same renders; its patch",
        "  tokens are the dense \"DINO maps\" of lerf3d's DINO head. Real DINO: `dino:dino_vits8`.",
        "- Offline and small, so lerf3d's demo, tests and CI run with no downloads.",
        "",
        "## Data",
        "",
        "| rooms | count | seeds | settings |",
        "|---|---|---|---|",
        _rooms_line("training", c.train_rooms),
        _rooms_line("evaluation (unseen rooms)", c.eval_rooms),
        _rooms_line("held-out models", c.held_out_rooms),
        "",
        *([f"- Models: the catalogues `{c.catalogues}`, split by model within each label (a share of every",
           "  label's models appears only in the held-out rooms); the CC-BY models' authors are credited in",
           "  `CREDITS.md`."] if c.catalogues else []),
        f"- Labels: {len(r.labels)} texts to choose among (every catalogue label + floor, wall, ceiling);",
        f"  {len(r.train_labels)} of them had training crops.",
        f"- Training crops: {r.crop_counts['train']} square windows at tile sizes drawn uniformly from",
        f"  {c.crops.tile_fraction_range[0]}-{c.crops.tile_fraction_range[1]} of the image height (the crop pyramid's range), "
        f"{c.crops.random_windows} random + {c.crops.object_windows} per visible object per view,",
        "  labelled by the instance covering the largest share (at least 40 %) of the window; cached as",
        "  uint8 64x64 crops resized as the pyramid resizes them.",
        f"- Evaluation crops: {r.crop_counts['eval']} exact crop-pyramid windows (7 levels, 0.05-0.5 of H) of the",
        f"  evaluation rooms, same labelling, at most {c.eval_crops.per_label_level_room} per (room, label, level).",
        f"- DINO: {r.crop_counts['views']} training views shrunk to {c.dino_view_size[0]}x{c.dino_view_size[1]}.",
        "",
        "## Architecture and training",
        "",
        "- Dense tower: ViT, patch 8, width 192, 4 blocks, 3 heads, 64 px training crops (~1.8M parameters).",
        f"  DINO: {c.dino.steps} steps of {c.dino.batch_size} views, 2 global 64 px + {c.dino.num_local} local 32 px crops,",
        f"  head 3-layer MLP -> {c.dino.bottleneck_dim}-d bottleneck -> {c.dino.out_dim} prototypes, teacher EMA momentum",
        f"  {c.dino.momentum[0]} -> {c.dino.momentum[1]} (cosine), centring momentum {c.dino.center_momentum}, teacher temperature",
        f"  {c.dino.warmup_teacher_temp} -> {c.dino.teacher_temp} (warm-up), student {c.dino.student_temp}; AdamW lr {c.dino.lr}.",
        f"  Loss {d0:.3f} -> {d1:.3f} (first -> last tenth of the steps).",
        *_instance_lines(r),
        f"- Image-text tower: {_image_tower_line(c.lit.init_from_dense, r.lit_init_tensors)}",
        "  Text side: all-MiniLM-L6-v2, frozen; label texts under",
        f"  {len(c.lit.templates)} templates ({', '.join(repr(t) for t in c.lit.templates)}) computed once.",
        f"  Softmax over all label texts + LERF's canonical negatives with a learned temperature (now {r.temperature:.4f}),",
        f"  label smoothing {c.lit.label_smoothing}"
        + (f"; plus, weight {c.lit.text_to_image_weight}, each label's bare text picking its own crops among the batch's"
           " (text -> image)" if c.lit.text_to_image_weight > 0 else "")
        + f", crops drawn ~ count^-{c.lit.balance_power} per catalogue model; augmentation: random",
        f"  resized crop ({c.lit.crop_scale[0]}-{c.lit.crop_scale[1]} of the area), flips, colour jitter"
        + (f"; {c.lit.paste_fraction:.0%} of the furniture crops pasted over other rooms' floor, wall or ceiling crops"
           " through their instance mattes." if c.lit.paste_fraction > 0 else "."),
        f"  {c.lit.steps} steps of {c.lit.batch_size} crops, AdamW lr {c.lit.lr}, "
        f"{'bfloat16 autocast (weights and logits float32)' if r.lit_bf16 else 'float32'}. Loss {l0:.3f} -> {l1:.3f}.",
        f"- Weights stored as {c.weights_dtype}.",
        f"- Wall time ({_where(r)}): {_data_time(r)}, DINO {s['dino']:.0f} s,",
        f"  LiT {s['lit']:.0f} s, total {s['total']:.0f} s ({s['total'] / 60:.1f} min).",
        "",
        "## Quality (rooms never used in training)",
        "",
        "Zero-shot retrieval: a crop is right when its label's bare text (how a LERF query is typed) has the",
        f"highest cosine among all {len(r.labels)} label texts. Text -> image: for each label with evaluation crops,",
        "the mean cosine of its text with its own crops must exceed the mean with the crops of every other label.",
        "",
        f"The {INTERVAL_LEVEL:.0%} intervals resample the evaluation rooms ({INTERVAL_DRAWS} draws with replacement;",
        "`lerf3d.stats.room_bootstrap`): a room's crops share its models and its light, so the room is the unit",
        "of the evaluation, and the interval says how much the figure owes to which rooms were drawn.",
        "",
        f"| figure | value | {INTERVAL_LEVEL:.0%} over rooms | bar |",
        "|---|---|---|---|",
        f"| top-1, all evaluation crops ({r.eval.crops}, {r.eval.labels} labels) | {r.eval.top1:.1%} | {_interval(r.eval.top1_interval)} | {BAR_TOP1:.0%} |",
        f"| top-1, crops >= {LARGE_CROP_FRACTION:.0%} of image height | {r.eval.top1_large:.1%} | {_interval(r.eval.top1_large_interval)} | {BAR_TOP1_LARGE:.0%} |",
        f"| labels whose text prefers their own crops | {r.eval.text_to_image:.1%} | - | {BAR_TEXT_TO_IMAGE:.0%} |",
        f"| top-1, a material twin's label counted as right | {r.eval.top1_twins:.1%} | - | - |",
        f"| top-1 on large crops, the same | {r.eval.top1_large_twins:.1%} | - | - |",
        f"| top-5, all evaluation crops | {r.eval.top5:.1%} | - | - |",
        f"| mean per-label top-1 | {r.eval.macro_top1:.1%} | - | - |",
        *_held_out_rows(r.held_out, c),
        *_attribute_rows(r.attributes),
        "",
        *_per_catalogue_lines(r.per_catalogue),
        *_coverage_lines(r.coverage),
        "Material twins: catalogue models of different labels made of exactly the same materials (the",
        "same texture images and colours; `data_tools/twins.py`), so a crop that misses the geometry that",
        f"differs (a handle, the full width) shows the same pixels: {_twins_text(r.twins)}.",
        "",
        "Per-label top-1 on the evaluation rooms (worst first):",
        "",
        *[f"  {row}" for row in _per_label_table(r.eval.per_label)],
        "",
        *([] if r.held_out is None else
          ["Held-out models, per label: " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(r.held_out.per_label.items())), ""]),
        "Synonyms (the word replaces its label's text among all label texts; top-1 on that label's crops):",
        "",
        *[f"- \"{k.split(' -> ')[0]}\" for {k.split(' -> ')[1]}: {a:.0%} of {n} crops" for k, (a, n) in r.synonyms.items()],
        "",
        f"Dense maps ({r.dense.views} evaluation views, 128 px maps): a cell's feature is nearest to its own object's",
        f"mean feature for {r.dense.centroid_accuracy:.1%} of cells (random weights of the same shape:",
        f"{r.dense_random.centroid_accuracy:.1%}); object-pair separation {r.dense.pair_separation:.2f} (random {r.dense_random.pair_separation:.2f}).",
        f"Above random: {_bar(r.dense.centroid_accuracy - r.dense_random.centroid_accuracy, BAR_DENSE_MARGIN)}.",
        "",
        "## Limitations",
        "",
        "- Vocabulary: the catalogue's labels and words close to them in MiniLM's space; anything else is",
        "  guesswork. Similar labels (\"chair\", \"oak chair\") are told apart by the look of their one or two",
        "  models, so a different-looking chair in a real scan may get either name.",
        "- Domain: pybullet TinyRenderer images of generated rooms; real photographs were never seen.",
        "- Small crops (5 % of the image height, a few pixels upsampled) are often ambiguous.",
        "- Material twins (above) differ only in geometry a crop may not show, so a crop of one is",
        "  often given the other's label.",
        f"- For real scenes use `{REAL_CLIP_SPEC}` and `dino:dino_vits8`.",
        "",
    ]
    path.write_text("\n".join(lines))
