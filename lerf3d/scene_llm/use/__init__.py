"""Using a trained Scene-LLM: loading a run, answering, evaluating, shipping.

- :mod:`.load`: rebuild ``SceneLLM`` from a run folder
- :mod:`.ask`: ``lerf3d ask``
- :mod:`.evaluate`, :mod:`.readout`: ``lerf3d llm-eval`` and the no-LLM baselines
- :mod:`.export`: a run as a small weights folder
"""
