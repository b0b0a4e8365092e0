"""Helpers of the object-layer tests: a table encoder and hand-made objects."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lerf3d.objects.scene_objects import SceneObjects

TABLE_AND_CUP = {
    "table": [0.0, 1.0, 0.0, 0.0, 0.0],
    "cup": [0.0, 0.0, 0.0, 0.0, 1.0],
    "object": [0.3, 0.3, 0.9, 0.0, 0.0],
    "things": [0.2, 0.1, 0.0, 1.0, 0.0],
    "stuff": [0.1, 0.2, 0.5, 0.5, 0.0],
    "texture": [0.0, 0.0, 0.0, 1.0, 0.0],
}
"""Text vectors of "table", "cup" and LERF's canonical negatives for :class:`TableTextEncoder`."""


class TableTextEncoder:
    """An image-text encoder whose phrases have the vectors of a given table (a test knows every
    cosine); a phrase outside the table is a ValueError, as a real tower's failure would be."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = {k: F.normalize(torch.tensor(v, dtype=torch.float32), dim=0) for k, v in table.items()}
        self.embedding_dim = len(next(iter(table.values())))
        self.name = "test:table"
        self.input_size = 8

    def encode_text(self, phrases: list[str]) -> torch.Tensor:
        missing = [p for p in phrases if p not in self.table]
        if missing:
            raise ValueError(f"not in the table: {missing}")
        return torch.stack([self.table[p] for p in phrases])

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("the object tests never encode images")


def boxes_objects(boxes: list[tuple[tuple[float, ...], tuple[float, ...]]], embeddings: torch.Tensor,
                  step: float = 0.05, encoder: str = "test:table") -> SceneObjects:
    """Objects whose points fill the given boxes' surfaces on a grid, with the given embeddings."""
    points, owner = [], []
    for k, (lo, hi) in enumerate(boxes):
        axes = [torch.arange(a, b + 1e-6, step) for a, b in zip(lo, hi)]
        grid = torch.cartesian_prod(*axes).float()
        points.append(grid)
        owner.append(torch.full((len(grid),), k))
    xyz, point_object = torch.cat(points), torch.cat(owner)
    count = len(boxes)
    lower = torch.tensor([b[0] for b in boxes], dtype=torch.float32)
    upper = torch.tensor([b[1] for b in boxes], dtype=torch.float32)
    return SceneObjects(
        xyz=xyz, rgb=torch.full_like(xyz, 0.5), point_object=point_object, box_min=lower, box_max=upper, centroid=(lower + upper) / 2,
        colour=torch.full((count, 3), 0.5), embedding=F.normalize(embeddings.float(), dim=1),
        scale=(upper - lower).amax(1), dino=None, views=tuple(() for _ in range(count)),
        confidence=torch.ones(count), encoder=encoder,
    )


STEP = 0.04  # point spacing of the synthetic surfaces, like a 4 cm fusion voxel


def grid(lo, hi, step=STEP) -> torch.Tensor:
    """Points filling the box [lo, hi] on a regular grid (a flat box when one side is 0)."""
    axes = [
        torch.arange(float(a), b + 1e-6, step) if b > a else torch.tensor([float(a)]) for a, b in zip(lo, hi)
    ]
    return torch.cartesian_prod(*axes).float()


def shell_room() -> tuple[torch.Tensor, torch.Tensor]:
    """A 4 x 3 x 2.5 m shell (floor, ceiling, walls) holding a table with a box on it and a chair."""
    shell = torch.cat(
        [
            grid((-2, -1.5, 0), (2, 1.5, 0)),
            grid((-2, -1.5, 2.5), (2, 1.5, 2.5)),
            grid((-2, -1.5, 0), (-2, 1.5, 2.5)),
            grid((2, -1.5, 0), (2, 1.5, 2.5)),
            grid((-2, -1.5, 0), (2, -1.5, 2.5)),
            grid((-2, 1.5, 0), (2, 1.5, 2.5)),
        ]
    )
    table = torch.cat(
        [
            grid((0, 0, 0.72), (1.2, 0.8, 0.72)),  # top
            *[grid((x, y, 0.1), (x, y, 0.7)) for x in (0, 1.2) for y in (0, 0.8)],  # legs
        ]
    )
    item = grid((0.5, 0.3, 0.76), (0.7, 0.5, 0.96))  # a 20 cm box standing on the top
    chair = torch.cat(
        [grid((-1.2, -0.4, 0.45), (-0.8, 0.0, 0.45)), grid((-1.2, 0.0, 0.45), (-0.8, 0.0, 0.9))]
    )
    parts = [shell, table, item, chair]  # labels 0 (shell), 1, 2, 3
    labels = torch.repeat_interleave(torch.arange(len(parts)), torch.tensor([len(part) for part in parts]))
    return torch.cat(parts), labels
