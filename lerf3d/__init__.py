"""lerf3d: language-embedded radiance fields and a scene LLM for posed RGB-D captures."""

__version__ = "0.1.0"
