"""lerf3d.train."""
