"""lerf3d.capture."""
