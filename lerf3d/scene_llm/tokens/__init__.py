"""Scene tokens: 3D language features of a scene and the tokens made of them.

- :mod:`.features3d`: per-point language features (back-projected crop pyramids or a trained field)
- :mod:`.segments`: object segments of the fused points (room shell removed)
- :mod:`.frames`: ``SceneTokens`` in the scene or an egocentric frame
- :mod:`.scenes`: per-scene features on disk and the token store
- :mod:`.prepare`: computing ``features/<scene>.pt`` for a dataset
"""
