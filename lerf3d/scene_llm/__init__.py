"""lerf3d.scene_llm."""
