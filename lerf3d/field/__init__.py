"""lerf3d.field: hash-grid encodings, radiance and language fields, and pure rendering maths."""

from lerf3d.field.contraction import ContractionConfig
from lerf3d.field.encoding import HashGrid, HashGridConfig, tcnn_available
from lerf3d.field.language import LanguageField, LanguageFieldConfig
from lerf3d.field.model import LerfField, LerfFieldConfig, RenderOutput, render_in_chunks
from lerf3d.field.occupancy import OccupancyGrid
from lerf3d.field.radiance import RadianceField, RadianceFieldConfig
from lerf3d.field.rays import RayBundle, camera_rays, clip_to_box, image_rays
from lerf3d.field.sampling import RaySamples, SamplerConfig, sample_along_rays

__all__ = [
    "ContractionConfig",
    "HashGrid",
    "HashGridConfig",
    "LanguageField",
    "LanguageFieldConfig",
    "LerfField",
    "LerfFieldConfig",
    "OccupancyGrid",
    "RadianceField",
    "RadianceFieldConfig",
    "RayBundle",
    "RaySamples",
    "RenderOutput",
    "SamplerConfig",
    "camera_rays",
    "clip_to_box",
    "image_rays",
    "render_in_chunks",
    "sample_along_rays",
    "tcnn_available",
]
