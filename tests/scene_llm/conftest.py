"""Fixtures of the scene-LLM tests: the tiny generated room fused into a point set."""

from __future__ import annotations

from pathlib import Path

import pytest

FEATURE_DIM = 8
"""Width of the synthetic scenes' features."""


def write_synthetic_dataset(root: Path, num_scenes: int = 2, points: int = 120) -> Path:
    """A dataset folder with random feature points per scene (two frames each seeing half of them),
    captions and scene questions whose answers differ in length (so processes of a DDP run hold
    different token counts)."""
    import numpy as np
    import torch

    from lerf3d.scene_llm.data.dataset import QARecord, SceneEntry, write_jsonl, write_manifest
    from lerf3d.scene_llm.tokens.features3d import FeaturePoints
    from lerf3d.scene_llm.tokens.scenes import FEATURES_DIR, SceneFeatures, save_scene_features

    generator = torch.Generator().manual_seed(0)
    stage1, stage2, scenes = [], [], {}
    answers = ["2", "yes", "no", "living room", "south-east", "oven"]
    for s in range(num_scenes):
        name = f"syn_{s}"
        xyz = torch.rand(points, 3, generator=generator) * 3
        features = torch.nn.functional.normalize(torch.randn(points, FEATURE_DIM, generator=generator), dim=1)
        pose = np.eye(4)
        pose[2, 3] = -2.0
        half = points // 2
        lifted = FeaturePoints(xyz, torch.rand(points, 3, generator=generator), features, "syn")
        visible = {"f0": torch.arange(half), "f1": torch.arange(half, points)}
        scene = SceneFeatures(name, lifted, {"f0": pose, "f1": pose}, visible)
        save_scene_features(root / FEATURES_DIR / f"{name}.pt", scene)
        scenes[name] = SceneEntry(name, root, "train")
        stage1 += [QARecord(name, "caption", "Describe what you see.", f"I see {k + s} chairs.",
                            frame=f"f{k}") for k in range(2)]
        stage2 += [QARecord(name, "count", f"Question {q} about scene {s}?", answers[(q + s) % len(answers)])
                   for q in range(4)]
    write_manifest(root, scenes, seed=0)
    for split in ("train", "val", "test"):
        write_jsonl(root / f"stage1_{split}.jsonl", stage1 if split == "train" else [])
        write_jsonl(root / f"stage2_{split}.jsonl", stage2 if split == "train" else [])
    return root


@pytest.fixture
def synthetic_dataset(tmp_path: Path) -> Path:
    return write_synthetic_dataset(tmp_path / "dataset")
