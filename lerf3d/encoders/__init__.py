"""lerf3d.encoders."""
