"""lerf3d.fusion."""
