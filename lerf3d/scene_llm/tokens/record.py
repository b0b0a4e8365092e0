"""What a Scene-LLM run's training features were: their settings and their source, in the run folder.

A run trained on features of one encoder (weights digest included) and scale answers noise on
features of another, so the run records them and every later use checks against the record.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from lerf3d.atomic import write_json_atomic
from lerf3d.scene_llm.tokens.prepare import PrepareConfig
from lerf3d.typed_config import from_mapping

RUN_FEATURES_RECORD = "features.json"
"""File of a run folder: how its training features were computed (settings) and what computed them
(the features' ``source``, encoder weights digest included)."""


@dataclass(frozen=True)
class FeatureRecord:
    """How a run's training features were made."""

    settings: PrepareConfig
    """Encoder spec, scale, fusion voxel, pyramid (``lerf3d.scene_llm.tokens.prepare``)."""
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
        return FeatureRecord(from_mapping(PrepareConfig, data["settings"], source=str(path)), str(data["source"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: malformed feature record ({err})") from None


def check_feature_source(run_dir: str | Path, source: str) -> None:
    """ValueError when features from ``source`` are not what the run was trained on (another encoder,
    other tower weights or another scale): its answers would be noise, not a worse answer."""
    record = run_feature_record(run_dir)
    if record is not None and record.source != source:
        raise ValueError(f"these scene features come from {source!r}, but the run {run_dir} was trained on "
                         f"{record.source!r}: compute them with the run's encoder weights and scale")
