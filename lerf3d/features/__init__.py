"""lerf3d.features: crop pyramids and DINO maps per image, cached on disk by content hash.

- :mod:`~lerf3d.features.tiling`: pyramid geometry (tile sizes, strides, crop windows)
- :mod:`~lerf3d.features.pyramid`: batched crop encoding into a :class:`FeaturePyramid`
- :mod:`~lerf3d.features.interpolate`: sampling at pixels and fractional levels; scale <-> level
- :mod:`~lerf3d.features.dino`: dense DINO maps and their sampling
- :mod:`~lerf3d.features.cache`: the on-disk cache
- :mod:`~lerf3d.features.extractor`: :class:`FeatureExtractor` over a capture
- :mod:`~lerf3d.features.command`: :func:`run_features` for the CLI
"""

from lerf3d.features.cache import FeatureCache, FeatureCacheWarning
from lerf3d.features.dino import DinoMap, sample_dino_map
from lerf3d.features.extractor import CaptureFeatures, FeatureExtractor, FeatureExtractorConfig, FrameFeatures
from lerf3d.features.interpolate import (
    level_from_world_scale,
    sample_pyramid,
    world_scale_from_level,
)
from lerf3d.features.pyramid import FeaturePyramid, PyramidLevel, extract_pyramid
from lerf3d.features.tiling import PyramidConfig

__all__ = [
    "CaptureFeatures",
    "DinoMap",
    "FeatureCache",
    "FeatureCacheWarning",
    "FeatureExtractor",
    "FeatureExtractorConfig",
    "FeaturePyramid",
    "FrameFeatures",
    "PyramidConfig",
    "PyramidLevel",
    "extract_pyramid",
    "level_from_world_scale",
    "sample_dino_map",
    "sample_pyramid",
    "world_scale_from_level",
]
