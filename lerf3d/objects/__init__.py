"""The object layer: a trained scene segmented into class-agnostic 3D objects that queries, exports,
the viewer and the scene LLM share (:class:`SceneObjects`)."""

from lerf3d.objects.build import ObjectsConfig, build_objects
from lerf3d.objects.scene_objects import ObjectLabels, SceneObjects, object_relevancy

__all__ = ["ObjectLabels", "ObjectsConfig", "SceneObjects", "build_objects", "object_relevancy"]
