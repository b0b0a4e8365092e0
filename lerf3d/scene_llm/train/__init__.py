"""Two-stage Scene-LLM training (projector alignment, then joint fine-tuning), DDP-ready.

- :mod:`.config`: ``SceneLLMConfig`` and its presets
- :mod:`.loop`: the training loop and ``lerf3d llm-train``
- :mod:`.precision`: frozen weights held at autocast's precision during a stage
- :mod:`.run_files`: a run folder's checkpoints, shippable parts and recorded config
"""
