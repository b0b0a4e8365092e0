"""TSDF fusion of captures: mesh, coloured points, bounds."""

from lerf3d.fusion.export import FusionFiles, load_bounds, load_points, save_fusion
from lerf3d.fusion.tsdf import FusionConfig, FusionResult, fuse_capture

__all__ = ["FusionConfig", "FusionFiles", "FusionResult", "fuse_capture", "load_bounds", "load_points", "save_fusion"]
