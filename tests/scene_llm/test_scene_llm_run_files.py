"""A scene-LLM run's step checkpoints and adapter files: written whole, read back, damage named."""

from __future__ import annotations

import pytest
import torch

from lerf3d.scene_llm.train.config import LoraSettings
from lerf3d.scene_llm.train.run_files import load_latest_step, load_lora, save_lora, save_step
from lerf3d.torch_files import UnreadableFileError


def test_the_newest_step_reads_back_and_older_ones_are_pruned(tmp_path):
    assert load_latest_step(tmp_path) is None  # a fresh run
    for step in (10, 20, 30):
        save_step(tmp_path, step, {"weights": torch.full((2,), float(step))}, keep=2)
    assert sorted(p.name for p in tmp_path.glob("step-*.pt")) == ["step-000020.pt", "step-000030.pt"]
    latest = load_latest_step(tmp_path)
    assert latest["step"] == 30 and torch.equal(latest["weights"], torch.full((2,), 30.0))


def test_a_damaged_or_missing_step_is_named(tmp_path):
    path = save_step(tmp_path, 5, {"weights": torch.zeros(500)}, keep=1)
    path.write_bytes(path.read_bytes()[:300])  # the machine died while something else rewrote it
    with pytest.raises(UnreadableFileError, match=r"step-000005\.pt: unreadable step checkpoint"):
        load_latest_step(tmp_path)
    path.unlink()
    with pytest.raises(ValueError, match=r"latest names 'step-000005\.pt', which is not a step checkpoint"):
        load_latest_step(tmp_path)
    torch.save({"step": 5}, path)  # a tensor file of another kind
    with pytest.raises(ValueError, match="is not a lerf3d-scene-llm-step"):
        load_latest_step(tmp_path)


def test_adapters_read_back_and_a_foreign_file_is_refused(tmp_path):
    save_lora(tmp_path / "lora.pt", LoraSettings(rank=4), {"a.lora_A.weight": torch.ones(4, 8)})
    settings, state = load_lora(tmp_path / "lora.pt")
    assert settings["rank"] == 4 and torch.equal(state["a.lora_A.weight"], torch.ones(4, 8))
    (tmp_path / "other.pt").write_bytes(b"\x00" * 64)
    with pytest.raises(UnreadableFileError, match=r"other\.pt: unreadable LoRA adapter file"):
        load_lora(tmp_path / "other.pt")


def test_a_run_config_that_is_not_json_is_named(tmp_path):
    from lerf3d.scene_llm.data.dataset import load_vocabulary
    from lerf3d.scene_llm.train.config import SceneLLMConfig
    from lerf3d.scene_llm.train.run_files import load_config

    (tmp_path / "config.json").write_text('{"seed": 0,')  # cut short
    with pytest.raises(ValueError, match=r"config\.json: the run's config is not JSON"):
        load_config(tmp_path, SceneLLMConfig)
    (tmp_path / "scenes.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"scenes\.json: malformed manifest"):
        load_vocabulary(tmp_path)


def test_a_manifest_vocabulary_that_is_not_a_list_of_names_is_named(tmp_path):
    from lerf3d.scene_llm.data.dataset import load_vocabulary

    (tmp_path / "scenes.json").write_text('{"scenes": {}, "vocabulary": "sofa"}')  # a name, not a list
    with pytest.raises(ValueError, match=r"scenes\.json: malformed manifest \(vocabulary"):
        load_vocabulary(tmp_path)
    (tmp_path / "scenes.json").write_text('{"scenes": {}, "vocabulary": ["sofa", "chair"]}')
    assert load_vocabulary(tmp_path) == ["sofa", "chair"]
