"""Training and evaluation data of the embedded towers: generated rooms, labelled crops, views.

Rooms come from :func:`data_tools.make_room.generate_room` (the same path as the demo scene).
Crops are square windows at the crop pyramid's tile sizes (:mod:`lerf3d.features.tiling`), cut and
resized exactly as :func:`lerf3d.features.pyramid.gather_crops` does at inference, and labelled by
their dominant ground-truth instance. Everything is cached as uint8 tensors so epochs are cheap.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from data_tools.catalog import Catalog
from data_tools.config import RoomConfig
from data_tools.crop_windows import CROP_SIZE, cut_crops, cut_masks, pyramid_windows, window_instances
from data_tools.make_room import generate_room
from lerf3d.features.tiling import MAX_TILE_FRACTION, MIN_TILE_FRACTION, PyramidConfig
from lerf3d.ground_truth import GroundTruth, load_ground_truth
from lerf3d.typed_config import apply_overrides

STRUCTURE_LABELS = ("floor", "wall", "ceiling")
"""Labels of the room shell (instance ids 1-6, see data_tools/README.md); crops of them are kept."""


@dataclass(frozen=True)
class RoomSetConfig:
    """One set of generated rooms: seeds ``first_seed`` .. ``first_seed + count - 1`` of a room preset."""

    first_seed: int = 0
    """Seed of the set's first room; sets of one run must not share seeds."""
    count: int = 0
    """Rooms in the set (consecutive seeds)."""
    preset: str = "large"
    """``RoomConfig`` preset the rooms start from (:data:`data_tools.config.PRESETS_DIR`)."""
    overrides: tuple[str, ...] = ()
    """``key=value`` replacements of the preset's fields (views, size, model split, ...), read as
    ``python -m data_tools.make_room --set`` reads them: ``"num_views=24"``, ``"model_split=train"``."""
    room_kinds: tuple[str, ...] = ()
    """Kinds of room the set's rooms take in turn (the k-th seed gets ``room_kinds[k % n]``; ``""``
    is the preset's generic room, others :data:`data_tools.room_kinds.ROOM_KINDS`). Empty: every
    room the preset's kind. Kinds change which pieces stand together, not which models are seen:
    the generic room draws from every label, and the layouts of the ``default`` preset's 150
    training rooms place all 112 training-split models, the ``catalogues`` preset's 600 all but 2
    of 368 (counted). No preset uses them."""

    def __post_init__(self) -> None:
        if self.first_seed < 0 or self.count < 0:
            raise ValueError(f"first_seed and count must be >= 0, got {self.first_seed}, {self.count}")
        for k in range(max(1, len(self.room_kinds))):  # an unknown preset, key or kind fails here, not mid-run
            self.room_config(self.first_seed + k)

    @property
    def seeds(self) -> tuple[int, ...]:
        """The rooms' seeds."""
        return tuple(range(self.first_seed, self.first_seed + self.count))

    def room_config(self, seed: int) -> RoomConfig:
        config = apply_overrides(RoomConfig.preset(self.preset, seed=seed), self.overrides)
        if not self.room_kinds:
            return config
        return replace(config, room=self.room_kinds[(seed - self.first_seed) % len(self.room_kinds)])


@dataclass(frozen=True)
class CropSamplingConfig:
    """How training crops are drawn from a view."""

    random_windows: int = 24
    """Windows per view at uniformly random positions and tile sizes (mostly floor and wall)."""
    object_windows: int = 6
    """Windows per visible furniture instance per view, centred on a random pixel of it."""
    max_structure_per_view: int = 10
    """Cap on floor/wall/ceiling crops per view, so furniture is not drowned out."""
    tile_fraction_range: tuple[float, float] = (MIN_TILE_FRACTION, MAX_TILE_FRACTION)
    """Tile side / image height is drawn uniformly from this range (the pyramid's span)."""
    thin_object_share: float = 0.0
    """When > 0, a window is labelled by the furniture instance that fills :data:`~data_tools.crop_windows.MIN_DOMINANT_SHARE`
    of its furniture pixels (the room shell left out) and at least this share of the whole window,
    even where floor or wall fill the rest (as a photo of a chair shows the floor around it); other
    windows by the whole-window rule. Open, thin pieces (a chair's legs and back, a table) seldom
    fill 40 % of a window, so under the whole-window rule alone their windows are mostly labelled
    floor or wall. 0: the whole-window rule alone (evaluation crops always use it). Off in every
    preset: at 0.15 chairs and tables scored no better on unseen rooms and floor and wall windows
    were lost to the pieces in front of them (``docs/towers_catalogues.md``)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.thin_object_share <= 1.0:
            raise ValueError(f"thin_object_share must be in [0, 1], got {self.thin_object_share}")


@dataclass(frozen=True)
class EvalSamplingConfig:
    """How evaluation crops are drawn: the exact pyramid windows, thinned to a balanced subset."""

    pyramid: PyramidConfig = field(default_factory=PyramidConfig)
    """The crop pyramid whose windows are evaluated."""
    per_label_level_room: int = 8
    """At most this many crops per (room, label, pyramid level), drawn at random."""


@dataclass(frozen=True, eq=False)
class CropSet:
    """Labelled crops, uint8 at :data:`CROP_SIZE`."""

    images: torch.Tensor
    """(N, 3, S, S) uint8 crops."""
    labels: torch.Tensor
    """(N,) int64 index into the label list of the run."""
    tile_fractions: torch.Tensor
    """(N,) float32 tile side / image height."""
    rooms: torch.Tensor
    """(N,) int64 seed of the room the crop comes from."""
    models: torch.Tensor
    """(N,) int64 index into the run's model list (:func:`model_keys`): the catalogue model of the
    crop's dominant instance, or its shell label. Sampling is balanced over these: one label's
    models can be common and rare (an armchair model in eleven rooms, another in one)."""
    colours: torch.Tensor
    """(N,) int64 index into the run's colour words (:attr:`RunVocabulary.colours`) of the dominant
    instance's model; -1 where it has none (or the run names no colours)."""
    materials: torch.Tensor
    """(N,) int64 index into the run's material words, as ``colours``."""
    masks: torch.Tensor | None = None
    """(N, S, S) uint8 alpha matte of the crop's dominant instance (:func:`~data_tools.crop_windows.cut_masks`:
    255 where the crop pixel lies wholly on it), what background pasting (``LitConfig.paste_fraction``)
    keeps of a crop; None for sets cut without mattes."""

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, keep: torch.Tensor) -> CropSet:
        return CropSet(**{k: v[keep] for k, v in self._tensors().items()})

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def save(self, path: Path) -> None:
        torch.save(self._tensors(), path)

    @staticmethod
    def load(path: Path) -> CropSet:
        return CropSet(**torch.load(path, weights_only=True))

    @staticmethod
    def concat(sets: list[CropSet]) -> CropSet:
        """One set of all ``sets``' crops; mattes only when every set has them."""
        names = [f.name for f in fields(CropSet) if all(getattr(s, f.name) is not None for s in sets)]
        return CropSet(**{name: torch.cat([getattr(s, name) for s in sets]) for name in names})


CROP_FORMAT = 2
"""Version of cached crop sets: 2 added the instance mattes (:attr:`CropSet.masks`); a cache
written under another version is cut again."""

ROOM_STAMP = "tower_room_config.json"
"""File in a generated room's folder holding the config it was generated with."""


def _generate_if_stale(config: RoomConfig, room_dir: Path) -> bool:
    """Generate one room unless its stamp matches ``config``; True when it was reused."""
    stamp = room_dir / ROOM_STAMP
    wanted = json.dumps(asdict(config), default=str, sort_keys=True)
    if stamp.is_file() and stamp.read_text() == wanted:
        return True
    generate_room(config, room_dir)
    stamp.write_text(wanted)
    return False


def generate_rooms(rooms: RoomSetConfig, folder: Path, desc: str, workers: int = 1) -> tuple[list[Path], int]:
    """Generate (or reuse: generation is deterministic per config) the rooms of a set; returns
    their folders and how many were reused (their stamp matched the config) rather than generated.
    ``workers`` > 1 renders rooms in that many spawned processes (a room is single-threaded
    rasterisation, so two workers use both cores); the rooms are the same either way."""
    dirs = [folder / f"{desc}_{seed}" for seed in rooms.seeds]
    configs = [rooms.room_config(seed) for seed in rooms.seeds]
    with ExitStack() as stack:
        run = map
        if workers > 1 and len(dirs) > 1:  # spawn: pybullet and torch state are not fork-safe
            context = multiprocessing.get_context("spawn")
            run = stack.enter_context(ProcessPoolExecutor(min(workers, len(dirs)), mp_context=context)).map
        # results come in room order; a failed room raises here with its own error
        reused = sum(tqdm(run(_generate_if_stale, configs, dirs), total=len(dirs), desc=f"rooms ({desc})", leave=False))
    return dirs, reused


def read_rgb(gt: GroundTruth, frame: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of one frame of a generated room."""
    from PIL import Image

    return np.array(Image.open(gt.path.parent / "images" / f"{frame}.png").convert("RGB"))


def read_view(gt: GroundTruth, frame: str) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB and (H, W) int32 instance mask of one frame of a generated room."""
    return read_rgb(gt, frame), gt.load_mask(frame)


def instance_labels(gt: GroundTruth, label_index: dict[str, int], attribute: str = "label") -> np.ndarray:
    """Lookup table instance id -> index of the object's ``attribute`` (its label, or its recorded
    ``colour`` / ``material`` word) in ``label_index``; -1 when unrecorded or outside the list."""
    table = np.full(max(o.instance_id for o in gt.objects) + 1, -1, np.int64)
    for obj in gt.objects:
        value = getattr(obj, attribute)
        table[obj.instance_id] = -1 if value is None else label_index.get(value, -1)
    return table


def model_keys(catalog_ids: list[str]) -> list[str]:
    """The model list of a run: catalogue ids, then the room shell's labels (one "model" each)."""
    return sorted(set(catalog_ids)) + list(STRUCTURE_LABELS)


def instance_models(gt: GroundTruth, model_index: dict[str, int]) -> np.ndarray:
    """Lookup table instance id -> model index (:func:`model_keys`): each furniture object's
    ``catalog_id``, the room shell by its label."""
    table = np.full(max(o.instance_id for o in gt.objects) + 1, -1, np.int64)
    for obj in gt.objects:
        key = obj.label if obj.is_structure else obj.catalog_id
        if key not in model_index:
            raise ValueError(f"{gt.path}: object {obj.instance_id} has catalogue model {key!r}, not in the run's model list")
        table[obj.instance_id] = model_index[key]
    return table


def sample_train_windows(
    mask: np.ndarray, furniture_ids: set[int], config: CropSamplingConfig, rng: np.random.Generator
) -> np.ndarray:
    """(n, 3) candidate windows (top, left, side): random ones plus ones centred on furniture."""
    h, w = mask.shape
    lo, hi = config.tile_fraction_range
    centres = [rng.uniform((0, 0), (h, w), size=(config.random_windows, 2))]
    for inst in sorted(furniture_ids & set(np.unique(mask).tolist())):
        ys, xs = np.nonzero(mask == inst)
        pick = rng.integers(len(ys), size=config.object_windows)
        centres.append(np.stack([ys[pick], xs[pick]], axis=1) + 0.5)
    centres = np.concatenate(centres)
    sides = np.clip(np.rint(rng.uniform(lo, hi, size=len(centres)) * h), 1, min(h, w)).astype(np.int64)
    top = np.clip(np.rint(centres[:, 0] - sides / 2), 0, h - sides).astype(np.int64)
    left = np.clip(np.rint(centres[:, 1] - sides / 2), 0, w - sides).astype(np.int64)
    return np.stack([top, left, sides], axis=1)


def lookup(table: np.ndarray, instances: np.ndarray) -> np.ndarray:
    """``table[instances]``, -1 for id 0 ("nothing") and ids past the table."""
    ok = (instances > 0) & (instances < len(table))
    return np.where(ok, table[np.where(ok, instances, 0)], -1)


@dataclass(frozen=True)
class RunVocabulary:
    """The label, model and attribute lists crop indices point into."""

    labels: list[str]
    """Label texts (:func:`catalogue_labels`)."""
    models: list[str]
    """Catalogue model ids and shell labels (:func:`model_keys`)."""
    colours: list[str] = field(default_factory=list)
    """Colour words crops are labelled with (rooms of chosen catalogues record one per object,
    :mod:`data_tools.attributes`); empty: none."""
    materials: list[str] = field(default_factory=list)
    """Material words, as ``colours``."""

    @staticmethod
    def of_catalog(catalog: Catalog, attributes: bool = False) -> RunVocabulary:
        """Every label and model of a catalogue (the room shell included); with ``attributes``, the
        colour and material words of :mod:`data_tools.attributes`."""
        colours, materials = ([], []) if not attributes else attribute_words()
        return RunVocabulary(catalogue_labels(catalog.labels()), model_keys([e.catalog_id for e in catalog.entries]),
                             colours, materials)

    def tables(self, gt: GroundTruth) -> tuple[np.ndarray, ...]:
        """Instance id -> label, model, colour and material index of one room (:class:`CropSet`)."""
        labels = instance_labels(gt, {name: i for i, name in enumerate(self.labels)})
        models = instance_models(gt, {key: i for i, key in enumerate(self.models)})
        colours = instance_labels(gt, {name: i for i, name in enumerate(self.colours)}, "colour")
        materials = instance_labels(gt, {name: i for i, name in enumerate(self.materials)}, "material")
        return labels, models, colours, materials


def attribute_words() -> tuple[list[str], list[str]]:
    """(colour words, material words) that rooms of chosen catalogues record per object."""
    from data_tools.attributes import COLOURS, MATERIAL_WORDS

    return list(COLOURS), sorted(MATERIAL_WORDS)


def room_train_crops(
    room_dir: Path, seed: int, vocab: RunVocabulary, config: CropSamplingConfig, rng: np.random.Generator
) -> CropSet:
    """Labelled training crops of every view of one room."""
    gt = load_ground_truth(room_dir)
    labels = vocab.labels
    table, *attached = vocab.tables(gt)  # labels; models, colours, materials
    structure = shell_labels(labels)
    furniture = {o.instance_id for o in gt.furniture}
    shell = np.array(sorted(o.instance_id for o in gt.objects if o.is_structure), np.int64)
    sets = []
    for frame in sorted(gt.mask_paths):
        rgb, mask = read_view(gt, frame)
        windows = sample_train_windows(mask, furniture, config, rng)
        inst = window_instances(mask, windows, shell, config.thin_object_share)
        lab = lookup(table, inst)
        is_structure = np.isin(lab, structure)
        drop = np.flatnonzero(is_structure)[config.max_structure_per_view :]
        keep = np.flatnonzero(lab >= 0)
        keep = np.setdiff1d(keep, drop)
        sets.append(_crop_set(rgb, mask, windows[keep], inst[keep], lab[keep], [lookup(t, inst[keep]) for t in attached], seed))
    return CropSet.concat(sets)


def room_eval_crops(
    room_dir: Path, seed: int, vocab: RunVocabulary, config: EvalSamplingConfig, rng: np.random.Generator
) -> CropSet:
    """Balanced subset of the labelled pyramid windows of every view of one room."""
    gt = load_ground_truth(room_dir)
    table, *attached = vocab.tables(gt)  # labels; models, colours, materials
    views, chosen = [], {}
    for v, frame in enumerate(sorted(gt.mask_paths)):
        rgb, mask = read_view(gt, frame)
        windows, levels = pyramid_windows(config.pyramid, *mask.shape)
        inst = window_instances(mask, windows)
        lab = lookup(table, inst)
        views.append((rgb, mask, windows, inst, [lookup(t, inst) for t in attached]))
        for i in np.flatnonzero(lab >= 0):
            chosen.setdefault((int(lab[i]), int(levels[i])), []).append((v, i, int(lab[i])))
    picks: list[tuple[int, int, int]] = []
    for key in sorted(chosen):
        group = chosen[key]
        order = rng.permutation(len(group))[: config.per_label_level_room]
        picks += [group[j] for j in sorted(order)]
    sets = []
    for v, (rgb, mask, windows, inst, per_window) in enumerate(views):
        mine = [(i, lab) for (pv, i, lab) in picks if pv == v]
        if mine:
            idx, lab = np.array([m[0] for m in mine]), np.array([m[1] for m in mine])
            sets.append(_crop_set(rgb, mask, windows[idx], inst[idx], lab, [t[idx] for t in per_window], seed))
    return CropSet.concat(sets)


def _crop_set(rgb: np.ndarray, mask: np.ndarray, windows: np.ndarray, instances: np.ndarray, labels: np.ndarray,
              attached: list[np.ndarray], seed: int) -> CropSet:
    """Crops of ``windows`` with the mattes of their dominant ``instances`` in the view's instance
    ``mask``, their labels and ``attached`` = [models, colours, materials] indices."""
    image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)  # (3, H, W)
    n = len(windows)
    models, colours, materials = (torch.as_tensor(a, dtype=torch.int64).reshape(n) for a in attached)
    images = cut_crops(image, windows) if n else torch.zeros(0, 3, CROP_SIZE, CROP_SIZE, dtype=torch.uint8)
    masks = cut_masks(mask, windows, instances) if n else torch.zeros(0, CROP_SIZE, CROP_SIZE, dtype=torch.uint8)
    return CropSet(
        images=images,
        labels=torch.as_tensor(labels, dtype=torch.int64).reshape(n),
        tile_fractions=torch.as_tensor(windows[:, 2] / rgb.shape[0], dtype=torch.float32).reshape(n),
        rooms=torch.full((n,), seed, dtype=torch.int64),
        models=models,
        colours=colours,
        materials=materials,
        masks=masks,
    )


def room_views(room_dir: Path, size: tuple[int, int]) -> torch.Tensor:
    """(V, 3, h, w) uint8 views of a room resized to ``size`` = (h, w): the DINO training images."""
    gt = load_ground_truth(room_dir)
    out = []
    for frame in sorted(gt.mask_paths):
        rgb = read_rgb(gt, frame)  # the masks, when wanted, are read once by instance_contrast.room_masks
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()  # (1, 3, H, W)
        small = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)
        out.append(small.round().clamp(0, 255).to(torch.uint8)[0])
    return torch.stack(out)


def shell_labels(labels: list[str]) -> list[int]:
    """Indices in ``labels`` of the room shell's labels (:data:`STRUCTURE_LABELS`)."""
    return [i for i, name in enumerate(labels) if name in STRUCTURE_LABELS]


def shell_crops(crops: CropSet, labels: list[str]) -> torch.Tensor:
    """(n,) int64 indices of the crops labelled floor, wall or ceiling (:func:`shell_labels`)."""
    return torch.nonzero(torch.isin(crops.labels, torch.tensor(shell_labels(labels), dtype=torch.int64))).flatten()


def catalogue_labels(archive_labels: list[str]) -> list[str]:
    """The label list of a run: catalogue labels, then the room shell's labels."""
    return sorted(set(archive_labels) - set(STRUCTURE_LABELS)) + list(STRUCTURE_LABELS)
