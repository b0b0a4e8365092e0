"""Plain fully connected networks used by the field heads."""

from __future__ import annotations

from torch import nn


def build_mlp(in_dim: int, hidden_dim: int, num_hidden_layers: int, out_dim: int) -> nn.Sequential:
    """Linear/ReLU stack with ``num_hidden_layers`` hidden layers of ``hidden_dim`` and a linear output."""
    if min(in_dim, hidden_dim, out_dim) < 1 or num_hidden_layers < 0:
        raise ValueError(
            f"bad MLP shape: in {in_dim}, hidden {hidden_dim} x {num_hidden_layers}, out {out_dim}"
        )
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(num_hidden_layers):
        layers += [nn.Linear(width, hidden_dim), nn.ReLU(inplace=True)]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)
