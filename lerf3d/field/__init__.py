"""lerf3d.field."""
