"""The scene LLM behind the page's chat panel (``lerf3d view CKPT --llm RUN``).

Loading it is lerf3d.scene_llm.ask's job: the run's LLM and projector, and the scene's 3D features
(a capture folder is fused and back-projected once at start-up, a prepared ``.pt`` is read). Each
question is then one greedy generation (~1-2 s for SmolLM2-135M on two CPU cores).
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from viewer.scene import ChatFn


def load_chat(
    run_dir: str | Path,
    scene: str | Path,
    device: str = "cpu",
    encoder: str = "lerf3d:tiny",
    stage: int | None = None,
    max_new_tokens: int = 16,
) -> ChatFn:
    """A question -> answer function over ``scene`` (capture folder or features ``.pt``) with the
    Scene-LLM run in ``run_dir``; generation is serialised (one model, one question at a time)."""
    from lerf3d.scene_llm.ask import AskConfig, ask_loaded, scene_features
    from lerf3d.scene_llm.load import load_scene_llm
    from lerf3d.scene_llm.prepare import PrepareConfig

    config = AskConfig(Path(run_dir), PrepareConfig(encoder=encoder), stage, max_new_tokens, device)
    run = load_scene_llm(config.run_dir, config.stage, config.device)
    features = scene_features(scene, config.features, config.device)
    lock = threading.Lock()

    def chat(question: str) -> str:
        with lock, torch.no_grad():
            return ask_loaded(run, features, [question], config.max_new_tokens)[0]

    return chat
