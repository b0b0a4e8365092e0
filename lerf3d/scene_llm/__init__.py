"""lerf3d.scene_llm: ask questions about a scene (Scene-LLM: 3D feature tokens into a causal LM).

Pipeline: capture -> fused points -> :mod:`.tokens` (per-point language features, scene / egocentric
tokens) -> :mod:`.model` (projector, splice at ``<scene>``, ``SceneLLM``) -> answer.

Sub-packages, each importing only those listed before it (an import-linter contract checks it):

- :mod:`.data`: questions and answers from ground truth, the answer normaliser, dataset files
- :mod:`.tokens`: 3D features, object segments, scene tokens, the per-scene token store
- :mod:`.model`: LLM loading, projector, the public prefill/splice API, ``SceneLLM``
- :mod:`.train`: two-stage training (DDP), run folders
- :mod:`.use`: loading a run, ``lerf3d ask``, ``lerf3d llm-eval``, export
- :mod:`.commands`: the argparse declarations of ``lerf3d llm-prepare | llm-train | ask | llm-eval``
"""
