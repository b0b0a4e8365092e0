"""lerf3d.integrations: plugins for other tools; the only lerf3d package allowed to import them.

- :mod:`~lerf3d.integrations.nerfstudio_method`: ``ns-train lerf3d`` / ``lerf3d-tiny`` (entry point
  group ``nerfstudio.method_configs``), built from lerf3d presets
- :mod:`~lerf3d.integrations.nerfstudio_data`: data manager over lerf3d's capture/fusion/features/rays
- :mod:`~lerf3d.integrations.nerfstudio_model`: model over :class:`lerf3d.field.LerfField` and lerf3d's losses
- :mod:`~lerf3d.integrations.nerfstudio_optim`: lerf3d's optimisers and schedule as nerfstudio configs
- :mod:`~lerf3d.integrations.nerfstudio_geometry`: frames/rays <-> nerfstudio cameras/rays

Nothing here is imported by the rest of lerf3d, so the core never pays nerfstudio's import time.
"""
