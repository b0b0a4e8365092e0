"""Synthetic scene generator (``make_room``), format converters and training-data tools for lerf3d."""
