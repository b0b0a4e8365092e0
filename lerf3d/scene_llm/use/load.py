"""Rebuild a trained ``SceneLLM`` from a run folder (for answering questions and evaluation)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from lerf3d.scene_llm.model.bridge import bridge_labels
from lerf3d.scene_llm.model.identifiers import IDENTIFIERS_NAME, load_identifier_rows
from lerf3d.scene_llm.model.llm import load_llm
from lerf3d.scene_llm.model.projector import load_projector
from lerf3d.scene_llm.model.scene_llm import SceneLLM
from lerf3d.scene_llm.tokens.record import RUN_FEATURES_RECORD, run_feature_record
from lerf3d.scene_llm.train.config import LoraSettings, SceneLLMConfig
from lerf3d.scene_llm.train.run_files import (
    VOCABULARY_NAME,
    load_config,
    load_lora,
    load_run_vocabulary,
    stage_dir,
)
from lerf3d.torch_files import load_torch_file


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
    model = SceneLLM(loaded, projector, pcfg, cfg.encoding, labels=written_labels(run_dir, cfg),
                     **cfg.layout_options)
    if (directory / "lora.pt").is_file():
        from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

        settings, state = load_lora(directory / "lora.pt")
        lora = LoraSettings(**{**settings, "target_modules": tuple(settings["target_modules"])})
        model.llm = get_peft_model(model.llm, LoraConfig(
            r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
            target_modules=list(lora.target_modules), bias="none"))
        set_peft_model_state_dict(model.llm, state)
    elif (directory / "llm.pt").is_file():
        model.llm.load_state_dict(load_torch_file(directory / "llm.pt", "fine-tuned LLM weights", device))
    if cfg.identifier_tokens:
        load_identifier_rows(model.llm, directory / IDENTIFIERS_NAME)
    if cfg.question_hints:
        model.use_text_tower(run_text_tower(run_dir, device))
    return LoadedRun(model.eval(), cfg, stage)


def written_labels(run_dir: Path, cfg: SceneLLMConfig) -> list[str]:
    """The label bridge's names in its order, which the run's scene block writes (a census counts
    them, named links name tokens by them; from the run's object names); empty for a run that
    writes neither."""
    if not (cfg.census or cfg.neighbour_names):
        return []
    return bridge_labels(required_vocabulary(run_dir, "writes its tokens' names"), cfg.bridge)


def object_labels(run_dir: str | Path, cfg: SceneLLMConfig) -> list[str]:
    """The names the run's tokens are named by as objects (``TokenConfig.name_objects``): its object
    names, as training named them; empty for a run whose tokens are not."""
    return required_vocabulary(run_dir, "names its tokens as objects") if cfg.tokens.name_objects else []


def required_vocabulary(run_dir: str | Path, needs: str) -> list[str]:
    """The run's object names, which something the run ``needs`` them for cannot do without: a
    FileNotFoundError naming the file when the run records none."""
    vocabulary = load_run_vocabulary(run_dir)
    if vocabulary is None:
        raise FileNotFoundError(f"{Path(run_dir) / VOCABULARY_NAME}: the run {needs} but records no object names")
    return vocabulary


def run_text_tower(run_dir: Path, device: torch.device | str = "cpu"):
    """The text tower of the encoder the run's features came from (``list[str] -> (P, F)``), which
    question hints embed questions with; ValueError when the run records no encoder."""
    record = run_feature_record(run_dir)
    if record is None:
        raise ValueError(f"{run_dir}: the run writes question hints but has no {RUN_FEATURES_RECORD} "
                         "naming its features' encoder, whose text tower embeds the questions")
    from lerf3d.encoders import build_image_text_encoder

    return build_image_text_encoder(record.settings.encoder, device).encode_text
