"""lerf3d.query: text queries on a trained scene, their exports, and their evaluation.

- :mod:`~lerf3d.query.relevancy`: LERF relevancy and scale search (pure)
- :mod:`~lerf3d.query.phrases`: :func:`check_phrases`, the one phrase check, where phrases enter
- :mod:`~lerf3d.query.search`: per-scale embedding stacks, the split (cacheable) relevancy and
  :class:`~lerf3d.query.search.ScaleSearcher`, the scale search every method answers through
- :mod:`~lerf3d.query.render`: one render of a view at many scales; field embeddings of points
- :mod:`~lerf3d.query.session`: :class:`QuerySession` (cached view embeddings), :class:`PointQuery`
- :mod:`~lerf3d.query.camera`: cameras from frames, pose files and orbits
- :mod:`~lerf3d.query.overlay`, :mod:`~lerf3d.query.media`, :mod:`~lerf3d.query.export`: outputs
- :mod:`~lerf3d.query.evaluate`, :mod:`~lerf3d.query.baselines`: localisation / mIoU vs baselines
- :mod:`~lerf3d.query.commands`: ``run_query``, ``run_render``, ``run_export``, ``run_eval``
"""

from lerf3d.lazy import lazy_attributes

_EXPORTS = {
    "CANONICAL_NEGATIVES": "relevancy",
    "PointQuery": "points",
    "QueryCamera": "camera",
    "QuerySession": "session",
    "QuerySessionConfig": "session",
    "RelevancyMap": "relevancy",
    "ViewAnswer": "session",
    "load_pose_file": "camera",
    "orbit_cameras": "camera",
}
"""Public name -> the sub-module defining it (imported on first use: the command-line parser in
:mod:`~lerf3d.query.cli` must not import torch)."""
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
