"""lerf3d.scene_llm: ask questions about a scene (Scene-LLM: 3D feature tokens into a causal LM).

Pipeline: capture -> fused points -> :mod:`features3d` (language feature per point) -> :mod:`tokens`
(scene / egocentric tokens) -> :mod:`projector` -> :mod:`splice` at ``<scene>`` -> :mod:`model`
(``SceneLLM``) -> answer.

- :mod:`features3d`: ``FeaturePoints``, back-projection of crop pyramids, the ``PointEmbedder`` protocol
- :mod:`questions`, :mod:`language`, :mod:`data`: QA generation from ground truth, JSONL files, splits
- :mod:`llm`, :mod:`tiny_llm`: loading the LLM (SmolLM2 GGUF default, any HF model, tiny random Llama)
- :mod:`segments`: object tokens (room shell removed, one token per furniture segment)
- :mod:`bridge`: the feature -> word-embedding map fitted on text that starts the projector
- :mod:`batch`, :mod:`model`: tokenised examples, ``SceneLLM`` (loss, greedy answers)
- :mod:`scenes`, :mod:`prepare`: per-scene features on disk and the token store
- :mod:`train_config`, :mod:`train`, :mod:`checkpoint`, :mod:`load`: two-stage training (DDP), runs on disk
- :mod:`ask`, :mod:`evaluate`: answering questions, exact-match evaluation against baselines
- :mod:`export`, :mod:`commands`: shipping a run as small weights; ``lerf3d llm-prepare | llm-train |
  ask | llm-eval``
"""
