"""lerf3d.query."""
