"""The scene LLM behind the page's chat panel (``lerf3d view CKPT --llm RUN``).

Loading it is lerf3d.scene_llm.use.ask's job: the run's LLM and projector, and the scene's 3D features
(a capture folder is fused and back-projected once at start-up, a prepared ``.pt`` is read). Each
question is then one greedy generation (~1-2 s for SmolLM2-135M on two CPU cores).
"""

from __future__ import annotations

import threading
from pathlib import Path

from viewer.scene import ChatFn


def load_chat(
    run_dir: str | Path,
    scene: str | Path,
    device: str = "cpu",
    encoder: str | None = None,
    stage: int | None = None,
    max_new_tokens: int = 16,
) -> ChatFn:
    """A question -> answer function over ``scene`` (capture folder or features ``.pt``) with the
    Scene-LLM run in ``run_dir``; generation is serialised (one model, one question at a time). The
    scene's features are computed as the run's were (its ``features.json``; ``encoder`` overrides)."""
    from lerf3d.scene_llm.use.ask import AskConfig, AskSession, feature_settings

    run_dir = Path(run_dir)
    session = AskSession(scene, AskConfig(run_dir, feature_settings(run_dir, encoder, None), stage,
                                          max_new_tokens, device))
    lock = threading.Lock()

    def chat(question: str) -> str:
        with lock:
            return session.answer(question)[0]

    return chat
