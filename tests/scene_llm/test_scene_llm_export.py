"""Object-token training on a prepared generated room, shipping the run, and the demo preset's config."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from lerf3d.scene_llm.data.dataset import DatasetConfig, generate_dataset, load_split
from lerf3d.scene_llm.tokens import prepare as prepare_module
from lerf3d.scene_llm.tokens.frames import TokenEncoding
from lerf3d.scene_llm.tokens.prepare import PrepareConfig, prepare_dataset
from lerf3d.scene_llm.tokens.record import check_feature_source
from lerf3d.scene_llm.tokens.scenes import TokenConfig, TokenStore
from lerf3d.scene_llm.train.config import SceneLLMConfig, preset
from lerf3d.scene_llm.train.loop import train_scene_llm
from lerf3d.scene_llm.use.export import export_run
from lerf3d.scene_llm.use.load import load_scene_llm
from lerf3d.torch_files import UnreadableFileError
from lerf3d.typed_config import from_mapping

OBJECT_TINY = dataclasses.replace(
    preset("tiny"),
    tokens=TokenConfig(mode="segment"),
    encoding=TokenEncoding(room_relative=True, fourier_bands=2, extents=True),
)


class ColourEncoder:
    """A colour statistic standing in for a trained tower."""

    name, embedding_dim, input_size = "test:colour", 6, 16

    def encode_image(self, images):
        mean = images.mean(dim=(2, 3))  # (B, 3)
        return torch.nn.functional.normalize(torch.cat([mean, 1 - mean], dim=1), dim=1)


@pytest.fixture(scope="module")
def prepared(tiny_room, tmp_path_factory):
    from lerf3d.features import FeatureExtractor, FeatureExtractorConfig

    data = tmp_path_factory.mktemp("prepared") / "data"
    generate_dataset([tiny_room], data, DatasetConfig(balance_labels=False))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            prepare_module,
            "build_extractor",
            lambda cfg, cache, device: FeatureExtractor(
                FeatureExtractorConfig(pyramid=cfg.pyramid, show_progress=False),
                ColourEncoder(),
                None,
                cache,
                device,
            ),
        )
        prepare_dataset(data, PrepareConfig(fusion_voxel=0.05))
    return data


def test_demo_preset_round_trips_through_json():
    demo = preset("demo")
    assert demo.tokens.mode == "segment" and demo.bridge.enabled and demo.encoding.extents
    assert from_mapping(SceneLLMConfig, json.loads(json.dumps(dataclasses.asdict(demo)))) == demo


def test_object_tokens_train_ask_and_ship(prepared, tmp_path):
    store = TokenStore.from_dataset(prepared, ["room_0"], OBJECT_TINY.tokens)
    scene = store.scene("room_0")
    assert 2 <= scene.num_tokens <= OBJECT_TINY.tokens.segments.max_tokens and scene.bounds is not None
    captions = load_split(prepared, 1, "train")
    frame = store.tokens_for("room_0", captions[0].frame)
    assert frame.frame == "ego" and frame.num_tokens <= scene.num_tokens

    run = tmp_path / "run"
    train_scene_llm(OBJECT_TINY, prepared, run, progress=False)
    card = "# a card\n"
    written = export_run(run, tmp_path / "ship", card)
    assert {p.name for p in written} == {"config.json", "features.json", "vocabulary.json", "projector.pt", "lora.pt",
                                         "CARD.md"}
    assert not (tmp_path / "ship" / "stage2" / "checkpoints").exists()
    shipped, trained = load_scene_llm(tmp_path / "ship"), load_scene_llm(run)
    assert shipped.config == trained.config == OBJECT_TINY
    inputs = trained.model.scene_inputs(scene)
    torch.testing.assert_close(
        shipped.model.projector(inputs), trained.model.projector(inputs), atol=1e-2, rtol=1e-2
    )
    question = load_split(prepared, 2, "train")[0].question
    assert isinstance(shipped.model.generate(scene, question, 4), str)

    source = store.scenes["room_0"].points.source
    check_feature_source(tmp_path / "ship", source)  # the same encoder: fine
    with pytest.raises(ValueError, match="trained on"):
        check_feature_source(tmp_path / "ship", source.replace("test:colour", "lerf3d:tiny#0123"))


def test_a_wall_linked_run_trains_loads_and_reads_its_walls(prepared, tmp_path):
    """Object tokens with wall gaps in their inputs and ``by the W wall`` after each block: the run
    trains, its config round-trips, and the loaded model writes one wall per scene token (the
    scene block grows by those words) and none for a view's egocentric tokens."""
    walled = dataclasses.replace(OBJECT_TINY, identifiers=True, wall_links=True,
                                 encoding=dataclasses.replace(OBJECT_TINY.encoding, wall_gaps=True))
    train_scene_llm(walled, prepared, tmp_path / "run", progress=False)
    loaded = load_scene_llm(tmp_path / "run")
    assert loaded.config == walled and loaded.model.wall_links
    store = TokenStore.from_dataset(prepared, ["room_0"], walled.tokens)
    scene = store.scene("room_0")
    inputs = loaded.model.scene_inputs(scene)[None]
    mask = torch.ones(1, scene.num_tokens, dtype=torch.bool)
    walls = loaded.model.token_links.texts(inputs, mask)[0]
    assert len(walls) == scene.num_tokens and all(w[0].startswith("by the ") for w in walls)
    captions = load_split(prepared, 1, "train")
    view = store.tokens_for("room_0", captions[0].frame)
    ego = loaded.model.token_links.texts(loaded.model.scene_inputs(view)[None],
                                         torch.ones(1, view.num_tokens, dtype=torch.bool))[0]
    assert all(w == [""] for w in ego)
    question = load_split(prepared, 2, "train")[0].question
    assert isinstance(loaded.model.generate(scene, question, 4), str)


def test_full_fine_tunes_are_not_shipped(synthetic_dataset, tmp_path):
    full = dataclasses.replace(
        preset("tiny"), stage2=dataclasses.replace(preset("tiny").stage2, llm_mode="full")
    )
    train_scene_llm(full, synthetic_dataset, tmp_path / "run", stages=(2,), progress=False)
    with pytest.raises(ValueError, match="full fine-tune"):
        export_run(tmp_path / "run", tmp_path / "ship", "card")


def test_a_failed_export_leaves_the_shipped_folder_as_it_was(tmp_path):
    ship = tmp_path / "ship"
    ship.mkdir()
    (ship / "CARD.md").write_text("# the weights shipped before\n")
    stage = tmp_path / "run" / "stage2"
    stage.mkdir(parents=True)
    (stage / "projector.pt").write_bytes(b"not a checkpoint")  # a run whose projector cannot be read
    with pytest.raises(UnreadableFileError, match="projector.pt: unreadable projector checkpoint"):
        export_run(tmp_path / "run", ship, "# a new card\n")
    assert [p.name for p in ship.iterdir()] == ["CARD.md"]
    assert (ship / "CARD.md").read_text() == "# the weights shipped before\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "ship"]
