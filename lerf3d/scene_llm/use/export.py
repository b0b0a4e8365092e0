"""Ship a trained run as a small weights folder: what ``lerf3d ask`` needs, nothing to resume from.

    OUT/config.json          the run's SceneLLMConfig
    OUT/features.json        how scene features must be computed (encoder spec + weights digest, scale)
    OUT/stage<k>/projector.pt   the projector, float16 storage
    OUT/stage<k>/lora.pt        the LoRA adapters, float16 storage (stage 2)
    OUT/stage<k>/identifiers.pt the learned identifier rows, float16 storage (identifier_tokens runs)
    OUT/CARD.md              what it is, how it was trained and evaluated, how to rebuild it

The folder is a run folder without checkpoints (``lerf3d.scene_llm.use.load`` reads it as any run);
float16 storage halves the files and the loaders cast back to the model's dtype. Full fine-tuned
LLM weights are not shipped (hundreds of MB): export a LoRA run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from lerf3d.atomic import atomic_dir
from lerf3d.scene_llm.model.identifiers import IDENTIFIERS_NAME
from lerf3d.scene_llm.model.projector import load_projector, save_projector
from lerf3d.scene_llm.tokens.record import RUN_FEATURES_RECORD
from lerf3d.scene_llm.train.config import LoraSettings
from lerf3d.scene_llm.train.run_files import (
    CONFIG_NAME,
    VOCABULARY_NAME,
    load_lora,
    save_lora,
    save_tensors,
    stage_dir,
)
from lerf3d.scene_llm.use.load import latest_stage
from lerf3d.torch_files import load_torch_file

CARD_NAME = "CARD.md"


def _half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def export_run(run_dir: str | Path, out_dir: str | Path, card: str, stage: int | None = None) -> list[Path]:
    """Write the shippable files of ``run_dir``'s ``stage`` (default: the latest) and ``card`` to
    ``out_dir``, replacing what it held only once every file is written (:func:`~lerf3d.atomic.
    atomic_dir`: a failed export leaves the old folder as it was); returns the files written."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    stage = latest_stage(run_dir) if stage is None else stage
    source = stage_dir(run_dir, stage)
    if (source / "llm.pt").is_file():
        raise ValueError(
            f"{source} is a full fine-tune: its LLM weights are too large to ship; export a LoRA run"
        )
    with atomic_dir(out_dir) as tmp:
        target = stage_dir(tmp, stage)
        target.mkdir(parents=True)
        names = []
        for name in (CONFIG_NAME, RUN_FEATURES_RECORD, VOCABULARY_NAME):
            if (run_dir / name).is_file():
                shutil.copyfile(run_dir / name, tmp / name)
                names.append(name)
        projector, cfg = load_projector(source / "projector.pt")
        save_projector(projector.half(), cfg, target / "projector.pt")
        names.append(f"{target.name}/projector.pt")
        if (source / IDENTIFIERS_NAME).is_file():
            save_tensors(target / IDENTIFIERS_NAME,
                         _half(load_torch_file(source / IDENTIFIERS_NAME, "identifier rows")))
            names.append(f"{target.name}/{IDENTIFIERS_NAME}")
        if (source / "lora.pt").is_file():
            settings, state = load_lora(source / "lora.pt")
            lora = LoraSettings(**{**settings, "target_modules": tuple(settings["target_modules"])})
            save_lora(target / "lora.pt", lora, _half(state))
            names.append(f"{target.name}/lora.pt")
        (tmp / CARD_NAME).write_text(card)
        names.append(CARD_NAME)
    return [out_dir / name for name in names]
