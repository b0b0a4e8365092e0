"""Train the embedded ``lerf3d:tiny`` towers on generated rooms and measure them on unseen rooms.

    python -m data_tools.train_towers [--preset default|tiny | --config FILE.toml] [--set KEY=VALUE ...]
        [--out lerf3d/weights] [--seed 0] [--device cpu|cuda|auto]

The presets are TOML files in ``data_tools/configs/towers/`` read by :mod:`lerf3d.typed_config`;
``--set lit.steps=2000`` (any dotted key, repeatable) varies one.

1. rooms: training rooms (catalogue ``train`` models), evaluation rooms with other seeds, and rooms
   of ``held-out`` catalogue models (:mod:`data_tools.tower_data`);
2. the dense tower by DINO self-distillation on the training views (:mod:`data_tools.dino_train`);
3. the image-text tower, LiT-style against the frozen MiniLM text tower, on labelled crops,
   starting from the dense tower (:mod:`data_tools.lit_train`);
4. both saved (fp16) to ``--out``, reloaded through :mod:`lerf3d.encoders` and evaluated
   (:mod:`data_tools.tower_eval`); the figures are printed and written to ``MODEL_CARD.md``.

The same preset and seed give the same weights (fixed seeds, deterministic torch algorithms,
fixed thread count).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from data_tools.catalog import Catalog, load_catalog
from data_tools.catalogues import load_catalogues, parse_selection
from data_tools.dino_train import DinoConfig, DinoResult, train_dino
from data_tools.instance_contrast import room_masks
from data_tools.lit_train import (
    LitConfig,
    LitResult,
    attribute_table,
    attribute_texts,
    temperature,
    text_table,
    train_lit,
)
from data_tools.tower_card import TowerReport, format_summary, write_model_card
from data_tools.tower_data import (
    CROP_FORMAT,
    CropSamplingConfig,
    CropSet,
    EvalSamplingConfig,
    RoomSetConfig,
    RunVocabulary,
    generate_rooms,
    read_view,
    room_eval_crops,
    room_train_crops,
    room_views,
    shell_crops,
    shell_labels,
)
from data_tools.tower_eval import (
    SYNONYMS,
    attribute_accuracy,
    coverage_groups,
    dense_separation,
    encode_crops,
    grouped_top1,
    retrieval,
    rooms_per_model,
    synonym_accuracy,
)
from data_tools.twins import catalog_twins
from lerf3d import typed_config
from lerf3d.encoders import ViTDenseEncoder, build_dense_encoder, build_image_text_encoder
from lerf3d.encoders.spec import TINY_SPEC
from lerf3d.encoders.tiny import TINY_DENSE_FILE, TINY_IMAGE_TEXT_FILE, save_tiny_tower, shared_text_tower
from lerf3d.encoders.vit import ViT
from lerf3d.ground_truth import load_ground_truth
from lerf3d.preflight import training_device

ROOM_SETS = ("train_rooms", "eval_rooms", "held_out_rooms")
"""The room sets of a run (fields of :class:`TowerTrainConfig`)."""

PRESETS_DIR = Path(__file__).resolve().parent / "configs" / "towers"
"""The run presets, one TOML file each (package data): ``default`` (the run behind the packaged
weights), ``catalogues`` (all five catalogues: kinds, held-out models per kind, attribute words) and
``tiny`` (an end-to-end check of this script in seconds)."""


@dataclass(frozen=True)
class TowerTrainConfig:
    """Everything a tower training run depends on. The defaults are those of each part; the room
    sets are empty, so a run takes its rooms and sizes from a preset (:data:`PRESETS_DIR`)."""

    catalogues: str = ""
    """Catalogues the rooms draw from, which also give the labels. Empty: the Blend Swap CC-0 archive
    alone, labelled by its model names (the packaged weights). ``all`` or a comma-separated list of
    :data:`data_tools.catalogues.CATALOGUES`: one label per kind of thing, models split by label (a
    share of every label's models only in the held-out rooms), and each object's colour and material
    words (trained when ``lit.attribute_weight`` > 0, always evaluated). Applied to every room set
    (:meth:`room_set`), so the sets cannot disagree."""
    train_rooms: RoomSetConfig = field(default_factory=RoomSetConfig)
    """Rooms whose views and crops train both towers (catalogue ``train`` models only). Many
    rooms of few views: a model's look varies more between rooms (neighbours, lighting, walls)
    than between views of one room. With 30 rooms the tower fitted 92 % of its training crops but
    only 78 % of unseen rooms'. With 90 rooms and 14000 steps it still scored 93.9 % on its
    training crops against 85.6 % on unseen rooms; 150 rooms at the same steps lifted the unseen
    rooms to 87.2 % (large crops 89.1 -> 90.1 %, measured). Over all five catalogues (about 800
    models) 600 rooms of 8 views beat 200 of 24, the same views: a model seen in one training room
    scored 23 % on unseen rooms, one seen in four or more 80 % (``docs/towers_catalogues.md``). A room
    of 24 views costs about 3.3 s to render on one core; two worker processes render 1.7x faster."""
    eval_rooms: RoomSetConfig = field(default_factory=RoomSetConfig)
    """Unseen rooms of the same models: the quality bar is measured on these. Thirty, because the
    room is the unit that varies: on five disjoint sets of six rooms the same tower scored 82.4 %
    to 88.5 % top-1 and 85.6 % to 92.5 % on large crops (measured), mostly through which of two
    identical-looking material twins a room happens to hold. The card gives an interval over rooms."""
    held_out_rooms: RoomSetConfig = field(default_factory=RoomSetConfig)
    """Rooms of catalogue models never used in training (reported, no bar)."""
    crops: CropSamplingConfig = field(default_factory=CropSamplingConfig)
    """Training crop sampling (the presets draw 12 windows per visible object: furniture crops are
    what is scarce)."""
    eval_crops: EvalSamplingConfig = field(default_factory=EvalSamplingConfig)
    """Evaluation crop sampling (pyramid windows)."""
    dino_view_size: tuple[int, int] = (120, 160)
    """(h, w) the views are shrunk to for DINO's random resized crops."""
    dino: DinoConfig = field(default_factory=DinoConfig)
    """Dense tower training. DINO alone is short (the default preset: 150 steps): 400 steps (943 s)
    gave maps that tell objects apart no better than random weights of the same shape (85.8 % against
    85.6 % of cells nearest their object's mean); the ``catalogues`` preset adds the patch instance
    contrast (``dino.instance_weight``), which trains exactly that."""
    lit: LitConfig = field(default_factory=LitConfig)
    """Image-text tower training (about 0.125 s a step on 2 threads under bfloat16 autocast, 0.18 s
    in float32). Steps are what pays: on the first six evaluation rooms the tower reached 75.8 %
    top-1 at 2000 steps, 80.9 % at 7000 and 82.7 % at 11000 (a 1.5x wider CNN: 76.1 % at 2000, for
    1.6x the time); the default preset runs 14000."""
    dense_eval_views: int = 24
    """Evaluation views used for the dense-map figures."""
    weights_dtype: str = "float16"
    """Storage dtype of the tower files (halves them; the loaders compute in float32)."""

    def __post_init__(self) -> None:
        if self.catalogues:
            parse_selection(self.catalogues)  # a ValueError naming an unknown catalogue
        for name in ROOM_SETS:
            if any(item.split("=", 1)[0].strip() == "catalogues" for item in getattr(self, name).overrides):
                raise ValueError(f"{name}.overrides sets catalogues; set the run's catalogues instead "
                                 "(every room set draws from them)")
        sets = (self.train_rooms.seeds, self.eval_rooms.seeds, self.held_out_rooms.seeds)
        seen: set[int] = set()
        for seeds in sets:
            if seen & set(seeds):
                raise ValueError(f"room seeds {sorted(seen & set(seeds))} are in two room sets")
            seen |= set(seeds)

    def room_set(self, name: str) -> RoomSetConfig:
        """The room set ``name`` (one of :data:`ROOM_SETS`) drawing from the run's catalogues."""
        rooms = getattr(self, name)
        if not self.catalogues:
            return rooms
        return replace(rooms, overrides=(*rooms.overrides, f"catalogues={self.catalogues}"))

    def catalog(self) -> Catalog:
        """The catalogue the rooms draw from (:attr:`catalogues`)."""
        return load_catalogues(parse_selection(self.catalogues)) if self.catalogues else load_catalog()

    def check_runnable(self) -> None:
        """A ValueError naming the first room set that has no rooms (a run needs all three)."""
        for name in ROOM_SETS:
            if getattr(self, name).count < 1:
                raise ValueError(f"{name}.count must be >= 1 for a run (set it in the preset or with --set {name}.count=N)")


def preset_names() -> list[str]:
    """Names of the shipped run presets."""
    return typed_config.preset_names(PRESETS_DIR)


def load_config(preset: str | Path = "default", overrides: Iterable[str] = ()) -> TowerTrainConfig:
    """A preset name (or ``.toml`` file in the presets' form) with each ``key=value`` override applied
    in order. Unknown presets, keys and wrong types are :class:`~lerf3d.typed_config.ConfigError`
    (a ValueError) naming the file and key."""
    return typed_config.apply_overrides(typed_config.load_preset(TowerTrainConfig, preset, PRESETS_DIR), overrides)


def _cached_crops(path: Path, key: str, make) -> CropSet:
    """A crop set cached beside its room, rebuilt when its key (config and seeds) changes."""
    stamp = path.with_suffix(".json")
    if path.is_file() and stamp.is_file() and stamp.read_text() == key:
        return CropSet.load(path)
    crops = make()
    crops.save(path)
    stamp.write_text(key)
    return crops


@dataclass(frozen=True, eq=False)
class TowerData:
    """Prepared data of a run."""

    vocab: RunVocabulary
    """Label, model and attribute lists; crop indices point into them."""
    catalogue_of_model: list[str]
    """Catalogue of each of ``vocab.models`` ("" for the room shell): per-catalogue figures."""
    train: CropSet
    """Training crops."""
    eval: CropSet
    """Crops of unseen rooms (trained models)."""
    held_out: CropSet
    """Crops of rooms of held-out models."""
    views: torch.Tensor
    """(V, 3, h, w) uint8 training views for DINO."""
    view_masks: torch.Tensor | None
    """(V, h, w) instance masks of the views (only when DINO's instance contrast is on)."""
    eval_dirs: list[Path]
    """Evaluation room folders (for the dense figures)."""
    twins: tuple[frozenset[str], ...]
    """Material-twin label groups (:mod:`data_tools.twins`) among the models of the run's rooms."""
    rooms_reused: tuple[int, int]
    """(rooms already generated in the work folder, rooms of the run)."""

    @property
    def labels(self) -> list[str]:
        """Label list; crop label indices point into it."""
        return self.vocab.labels


def prepare_data(config: TowerTrainConfig, work: Path, seed: int, workers: int = 1) -> TowerData:
    """Generate the rooms (in ``workers`` processes) and cut, label and cache their crops."""
    catalog = config.catalog()
    vocab = RunVocabulary.of_catalog(catalog, attributes=bool(config.catalogues))
    train_dirs, train_reused = generate_rooms(config.room_set("train_rooms"), work, "train", workers)
    eval_dirs, eval_reused = generate_rooms(config.room_set("eval_rooms"), work, "eval", workers)
    held_dirs, held_reused = generate_rooms(config.room_set("held_out_rooms"), work, "heldout", workers)

    def crops(dirs: list[Path], seeds: tuple[int, ...], kind: str) -> CropSet:
        sampling = config.crops if kind == "train" else config.eval_crops
        cut = room_train_crops if kind == "train" else room_eval_crops
        out = []
        for room_dir, room_seed in tqdm(list(zip(dirs, seeds, strict=True)), desc=f"crops ({kind})", leave=False):
            key = json.dumps([asdict(sampling), asdict(vocab), seed, kind, CROP_FORMAT], default=str)
            rng = np.random.default_rng([seed, room_seed, len(kind)])
            out.append(_cached_crops(room_dir / f"crops_{kind}.pt", key, lambda: cut(room_dir, room_seed, vocab, sampling, rng)))
        return CropSet.concat(out)

    train, evals, held_out = (
        crops(train_dirs, config.train_rooms.seeds, "train"),
        crops(eval_dirs, config.eval_rooms.seeds, "eval"),
        crops(held_dirs, config.held_out_rooms.seeds, "heldout"),
    )
    used = {vocab.models[i] for c in (train, evals, held_out) for i in c.models.unique().tolist()}
    by_id = {e.catalog_id: e.catalogue for e in catalog.entries}
    return TowerData(
        vocab=vocab,
        catalogue_of_model=[by_id.get(m, "") for m in vocab.models],
        train=train,
        eval=evals,
        held_out=held_out,
        views=torch.cat([room_views(d, config.dino_view_size) for d in train_dirs]),
        view_masks=torch.cat([room_masks(d, config.dino_view_size) for d in train_dirs]) if config.dino.instance_weight > 0 else None,
        eval_dirs=eval_dirs,
        twins=catalog_twins(catalog, only=used),
        rooms_reused=(train_reused + eval_reused + held_reused, len(train_dirs) + len(eval_dirs) + len(held_dirs)),
    )


def save_towers(dino: DinoResult, lit: LitResult, out: Path, config: TowerTrainConfig, meta: dict[str, str]) -> None:
    dtype = getattr(torch, config.weights_dtype)
    save_tiny_tower(dino.teacher, out / TINY_DENSE_FILE, meta={**meta, "trained_by": "DINO"}, dtype=dtype)
    save_tiny_tower(lit.tower, out / TINY_IMAGE_TEXT_FILE, meta={**meta, "trained_by": "LiT"}, dtype=dtype)


def evaluate(data: TowerData, out: Path, config: TowerTrainConfig, seed: int) -> dict:
    """Figures of the saved towers, loaded the way lerf3d loads them."""
    encoder = build_image_text_encoder(f"{TINY_SPEC}@{out}", "cpu")
    texts = encoder.encode_text(data.labels).float()
    emb = encode_crops(encoder, data.eval)
    held_emb = encode_crops(encoder, data.held_out)
    furniture = ~torch.isin(data.held_out.labels, torch.tensor(shell_labels(data.labels), dtype=torch.int64))
    frames = [(gt, f) for gt in map(load_ground_truth, data.eval_dirs) for f in sorted(gt.mask_paths)]
    pick = np.random.default_rng(seed).permutation(len(frames))[: config.dense_eval_views]
    images, masks = zip(*(read_view(*frames[i]) for i in sorted(pick)), strict=True)
    dense = build_dense_encoder(f"{TINY_SPEC}@{out}", "cpu")
    torch.manual_seed(seed)
    random_vit = ViT(dense.backbone.cfg)
    random_dense = ViTDenseEncoder("random", random_vit, dense.patch_size, dense.feature_dim, dense.target_size, "cpu")
    held = data.held_out.subset(furniture)
    per_catalogue = {"unseen rooms": grouped_top1(emb, data.eval, texts, data.catalogue_of_model),
                     "held-out models": grouped_top1(held_emb[furniture], held, texts, data.catalogue_of_model)}
    attributes = {}
    for kind, words, field_name in (("colour", data.vocab.colours, "colours"),
                                    ("material", data.vocab.materials, "materials")):
        table = attribute_table(encoder.encode_text, words, data.labels)
        for where, embs, crops in (("unseen rooms", emb, data.eval), ("held-out models", held_emb[furniture], held)):
            if words:
                attributes[f"{kind}, {where}"] = attribute_accuracy(embs, crops.labels, getattr(crops, field_name), table)
    groups = coverage_groups(rooms_per_model(data.train, len(data.vocab.models)), [bool(c) for c in data.catalogue_of_model])
    return {
        "coverage": grouped_top1(emb, data.eval, texts, groups),
        "eval": retrieval(emb, data.eval, texts, data.labels, data.twins),
        "held_out": retrieval(held_emb[furniture], held, texts, data.labels, data.twins),
        "per_catalogue": per_catalogue if config.catalogues else {},
        "attributes": attributes,
        "twins": data.twins,
        "synonyms": synonym_accuracy(emb, data.eval, encoder, data.labels, SYNONYMS),
        "dense": dense_separation(dense, list(images), list(masks)),
        "dense_random": dense_separation(random_dense, list(images), list(masks)),
    }


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
        crop_counts={"train": len(data.train), "eval": len(data.eval), "held_out": len(data.held_out), "views": len(data.views)},
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
