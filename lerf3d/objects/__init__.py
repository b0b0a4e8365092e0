"""lerf3d.objects: a trained scene segmented into class-agnostic 3D objects that queries, exports,
the viewer and the scene LLM share.

- :mod:`~lerf3d.objects.segment`: shell removal, feature-gated connected components, items on
  support surfaces (pure)
- :mod:`~lerf3d.objects.build`: :func:`build_objects` from a trained field and fused points
- :mod:`~lerf3d.objects.scene_objects`: :class:`SceneObjects`, labels against any phrases
- :mod:`~lerf3d.objects.relations`: what touches and what rests on what; :mod:`~lerf3d.objects.naming`:
  an item is not named after its support; :mod:`~lerf3d.objects.counting`: instances per name
- :mod:`~lerf3d.objects.store`: ``RUN/objects/`` (versioned, atomic, stale copies rebuilt)
- :mod:`~lerf3d.objects.scorer`: object mode of a text query; :mod:`~lerf3d.objects.export`: PLY/GLB
- :mod:`~lerf3d.objects.evaluate`: recall, precision, label top-1 and counts against ground truth
- :mod:`~lerf3d.objects.commands`: ``lerf3d objects | export | eval``
"""

from lerf3d.lazy import lazy_attributes

_EXPORTS = {
    "ObjectLabels": "scene_objects",
    "ObjectsConfig": "build",
    "SceneObjects": "scene_objects",
    "build_objects": "build",
    "object_relevancy": "scene_objects",
}
"""Public name -> the sub-module defining it (imported on first use: the command-line parser in
:mod:`~lerf3d.objects.cli` must not import torch)."""
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
