"""Files of a Scene-LLM run: resumable step checkpoints and the small shippable parts.

Layout of a run folder::

    config.json                     the SceneLLMConfig (dataclasses.asdict)
    tokens.pt                       every token set the run pooled, for its next start (lerf3d.scene_llm.tokens.cache)
    stage<k>/checkpoints/step-NNNNNN.pt, latest    resumable: everything trained + optimiser state
    stage<k>/projector.pt           the projector alone (lerf3d.scene_llm.model.projector format)
    stage<k>/lora.pt                LoRA adapter weights only (stage 2, lora), a few hundred kB
    stage<k>/identifiers.pt         learned identifier rows (identifier_tokens runs, lerf3d.scene_llm.model.identifiers)
    stage<k>/llm.pt                 all LLM weights (stage 2, full fine-tuning)
    stage<k>/log.jsonl              one line per step: step, loss, tokens, lr

Every file is written under a temporary name and renamed into place (``lerf3d.atomic``): a crash
leaves the previous version intact. Step files hold tensors and plain data only (``weights_only``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from lerf3d.atomic import atomic_path, write_json_atomic
from lerf3d.torch_files import load_torch_file
from lerf3d.typed_config import from_mapping

STEP_FORMAT = "lerf3d-scene-llm-step/1"
"""Tag of step checkpoints; bump when the payload changes."""
LORA_FORMAT = "lerf3d-scene-llm-lora/1"
"""Tag of shippable LoRA files."""
CONFIG_NAME = "config.json"
VOCABULARY_NAME = "vocabulary.json"
"""File of a run folder: the object names of its training data (its label bridge's labels), what
``lerf3d ask --explain`` names the scene's tokens with."""
TOKENS_NAME = "tokens.pt"
"""File of a run folder: its pooled tokens, which a resumed run reads instead of pooling again."""
LATEST_NAME = "latest"
STEP_PATTERN = re.compile(r"^step-(\d{6})\.pt$")


def stage_dir(run_dir: str | Path, stage: int) -> Path:
    return Path(run_dir) / f"stage{stage}"


def save_step(directory: Path, step: int, payload: dict[str, Any], keep: int) -> Path:
    """Write ``step-NNNNNN.pt`` then point ``latest`` at it; delete all but the newest ``keep``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"step-{step:06d}.pt"
    with atomic_path(path) as tmp:
        torch.save({"format": STEP_FORMAT, "step": step, **payload}, tmp)
    with atomic_path(directory / LATEST_NAME) as tmp:
        tmp.write_text(path.name + "\n")
    steps = sorted(p for p in directory.iterdir() if STEP_PATTERN.match(p.name))
    for old in steps[:-keep]:
        old.unlink()
    return path


def load_latest_step(directory: Path) -> dict[str, Any] | None:
    """The newest step checkpoint's payload, or None when there is none; ValueError when corrupt."""
    pointer = directory / LATEST_NAME
    if not pointer.is_file():
        return None
    path = directory / pointer.read_text().strip()
    if not STEP_PATTERN.match(path.name) or not path.is_file():
        raise ValueError(f"{pointer} names {path.name!r}, which is not a step checkpoint in {directory}")
    payload = load_torch_file(path, "step checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != STEP_FORMAT:
        raise ValueError(f"{path} is not a {STEP_FORMAT} checkpoint")
    return payload


def save_lora(path: Path, settings: Any, state_dict: dict[str, torch.Tensor]) -> None:
    """Adapter weights only, with their settings (a dataclass)."""
    payload = {"format": LORA_FORMAT, "settings": asdict(settings),
               "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_lora(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(settings as a dict, adapter state dict) of :func:`save_lora`'s file."""
    payload = load_torch_file(path, "LoRA adapter file")
    if not isinstance(payload, dict) or payload.get("format") != LORA_FORMAT:
        raise ValueError(f"{path} is not a {LORA_FORMAT} file")
    return payload["settings"], payload["state_dict"]


def save_tensors(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, tmp)


def write_log(path: Path, history: list[dict[str, float]]) -> None:
    """The per-step log, rewritten whole (atomic): a resumed run never shows steps twice."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(row) + "\n" for row in history))


def read_log(path: str | Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def save_config(run_dir: Path, config: Any) -> Path:
    return write_json_atomic(Path(run_dir) / CONFIG_NAME, asdict(config))


def load_config(run_dir: str | Path, cls: type) -> Any:
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no Scene-LLM run here")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: the run's config is not JSON ({err})") from None
    return from_mapping(cls, data, source=str(path))


def save_vocabulary(run_dir: str | Path, labels: list[str]) -> Path:
    """The run's object names, sorted, one JSON list."""
    return write_json_atomic(Path(run_dir) / VOCABULARY_NAME, sorted({label.strip() for label in labels}))


def load_run_vocabulary(run_dir: str | Path) -> list[str] | None:
    """The run's object names, None when the run has no record of them; ValueError naming a bad file."""
    path = Path(run_dir) / VOCABULARY_NAME
    if not path.is_file():
        return None
    try:
        labels = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err})") from None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x.strip() for x in labels):
        raise ValueError(f"{path}: expected a non-empty list of object names")
    return labels
