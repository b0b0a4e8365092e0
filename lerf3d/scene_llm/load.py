"""Rebuild a trained ``SceneLLM`` from a run folder (for answering questions and evaluation)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from lerf3d.atomic import write_json_atomic
from lerf3d.scene_llm.checkpoint import config_from_dict, load_config, load_lora, stage_dir
from lerf3d.scene_llm.llm import load_llm
from lerf3d.scene_llm.model import SceneLLM
from lerf3d.scene_llm.prepare import PrepareConfig
from lerf3d.scene_llm.projector import load_projector
from lerf3d.scene_llm.train_config import LoraSettings, SceneLLMConfig

RUN_FEATURES_RECORD = "features.json"
"""File of a run folder: how its training features were computed (settings) and what computed them
(the features' ``source``, encoder weights digest included)."""


@dataclass(frozen=True)
class FeatureRecord:
    """How a run's training features were made."""

    settings: PrepareConfig
    """Encoder spec, scale, fusion voxel, pyramid (``lerf3d.scene_llm.prepare``)."""
    source: str
    """``FeaturePoints.source`` of the training scenes, e.g. ``backproject:lerf3d:tiny#<digest>@0.5m``."""


def save_feature_record(run_dir: str | Path, record: FeatureRecord) -> Path:
    return write_json_atomic(Path(run_dir) / RUN_FEATURES_RECORD, dataclasses.asdict(record))


def run_feature_record(run_dir: str | Path) -> FeatureRecord | None:
    """The run's :class:`FeatureRecord`, None when it has none (runs on hand-made features)."""
    path = Path(run_dir) / RUN_FEATURES_RECORD
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return FeatureRecord(config_from_dict(PrepareConfig, data["settings"]), str(data["source"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: malformed feature record ({err})") from None


def check_feature_source(run_dir: str | Path, source: str) -> None:
    """ValueError when features from ``source`` are not what the run was trained on (another encoder,
    other tower weights or another scale): its answers would be noise, not a worse answer."""
    record = run_feature_record(run_dir)
    if record is not None and record.source != source:
        raise ValueError(f"these scene features come from {source!r}, but the run {run_dir} was trained on "
                         f"{record.source!r}: compute them with the run's encoder weights and scale")


@dataclass(frozen=True, eq=False)
class LoadedRun:
    """A trained model and the config it was trained with."""

    model: SceneLLM
    """In eval mode."""
    config: SceneLLMConfig
    """The run's config (its ``tokens`` say how to pool a new scene)."""
    stage: int
    """Stage whose weights were loaded."""


def latest_stage(run_dir: Path) -> int:
    """The highest stage with a saved projector."""
    for stage in (2, 1):
        if (stage_dir(run_dir, stage) / "projector.pt").is_file():
            return stage
    raise FileNotFoundError(f"{run_dir}: no trained stage (no stage1/ or stage2/ projector.pt)")


def load_scene_llm(
    run_dir: str | Path, stage: int | None = None, device: torch.device | str = "cpu"
) -> LoadedRun:
    """The LLM of the run's config with the stage's projector, and its LoRA adapters or fine-tuned
    weights for stage 2 (stage None: the latest trained)."""
    run_dir = Path(run_dir)
    cfg = load_config(run_dir, SceneLLMConfig)
    stage = latest_stage(run_dir) if stage is None else stage
    directory = stage_dir(run_dir, stage)
    loaded = load_llm(cfg.llm, device)
    projector, pcfg = load_projector(directory / "projector.pt", device=device, dtype=loaded.model.dtype)
    model = SceneLLM(loaded, projector, pcfg, cfg.encoding)
    if (directory / "lora.pt").is_file():
        from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

        settings, state = load_lora(directory / "lora.pt")
        lora = LoraSettings(**{**settings, "target_modules": tuple(settings["target_modules"])})
        model.llm = get_peft_model(model.llm, LoraConfig(
            r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
            target_modules=list(lora.target_modules), bias="none"))
        set_peft_model_state_dict(model.llm, state)
    elif (directory / "llm.pt").is_file():
        model.llm.load_state_dict(torch.load(directory / "llm.pt", map_location=device, weights_only=True))
    return LoadedRun(model.eval(), cfg, stage)
