"""A tower build's data: its rooms generated (or reused) and their crops cut, labelled and cached
(:func:`prepare_data`), held in one :class:`TowerData`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from data_tools.instance_contrast import room_masks
from data_tools.tower_config import TowerTrainConfig
from data_tools.tower_data import (
    CROP_FORMAT,
    CropSet,
    RunVocabulary,
    generate_rooms,
    room_eval_crops,
    room_train_crops,
    room_views,
)
from data_tools.twins import catalog_twins


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
    held_out: CropSet | None
    """Crops of rooms of held-out models; None when the run has no held-out rooms."""
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

    train, evals = crops(train_dirs, config.train_rooms.seeds, "train"), crops(eval_dirs, config.eval_rooms.seeds, "eval")
    held_out = crops(held_dirs, config.held_out_rooms.seeds, "heldout") if held_dirs else None
    used = {vocab.models[i] for c in (train, evals, held_out) if c is not None for i in c.models.unique().tolist()}
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
