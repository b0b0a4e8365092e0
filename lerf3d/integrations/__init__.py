"""lerf3d.integrations."""
