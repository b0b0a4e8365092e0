"""lerf3d.features."""
