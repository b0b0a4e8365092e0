"""Each object's name among the phrases scored: its best phrase, except that an item is not named
after what it rests on.

An object's embedding mixes the field at its own scale with crops of the views that show it largest,
and the crops of a small item show what holds it up: a flacon's crops are half shelf, a cup's half
table top. So a small item's best phrase is often its support's. :func:`object_names` gives such an
item its best other phrase when it is a thing of its own, which it tells from the scores alone:

- the shared phrase describes the support better than the item (a part of the support, a tap over
  a sink or the leaves over a plant's pot, is its kind at least as much as the rest of it), and
- the other phrase describes the item (at least LERF's neutral 0.5) and describes it better than
  it describes the support (the item's own kind is not just what the support also looks like).

Otherwise the upper object is a part of its support: it keeps the support's name, and counting
joins the two (:func:`~lerf3d.objects.counting.instance_counts`). Supports are named before what
rests on them, so a cup on a tray on a table is compared with the tray's final name. Object mode
joins them too, given the names (:func:`part_owners`).
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float, Int

from lerf3d.query.relevancy import NEUTRAL_RELEVANCY


def object_names(
    scores: Float[torch.Tensor, "K P"], support: Int[np.ndarray, " K"], base_height: Float[torch.Tensor, " K"]
) -> Int[torch.Tensor, " K"]:
    """The phrase index each object is named by (module docstring), given its relevancy ``scores``,
    the object it rests on (``support``, -1 for none; :func:`~lerf3d.objects.relations.resting_on`)
    and the height of its base (supports lie lower, so they are named first)."""
    names = scores.argmax(dim=1).clone() if scores.shape[1] else torch.zeros(len(scores), dtype=torch.long)
    if scores.shape[1] < 2:
        return names
    for a in torch.argsort(base_height, stable=True).tolist():
        b = int(support[a])
        if b < 0 or names[a] != names[b]:
            continue
        shared = int(names[b])
        if scores[a, shared] >= scores[b, shared]:
            continue  # a part of its support
        others = scores[a].clone()
        others[shared] = -torch.inf
        other = int(others.argmax())
        if scores[a, other] >= NEUTRAL_RELEVANCY and scores[a, other] > scores[b, other]:
            names[a] = other
    return names


def part_owners(
    names: Int[torch.Tensor, " K"], support: Int[np.ndarray, " K"], base_height: Float[torch.Tensor, " K"]
) -> Int[torch.Tensor, " K"]:
    """The object each object is a part of: itself, or the support it keeps the name of (module
    docstring), followed down a chain of parts (a lid on a pot on a stove: the stove)."""
    owner = torch.arange(len(names))
    for a in torch.argsort(base_height, stable=True).tolist():  # supports lie lower: decided first
        b = int(support[a])
        if b >= 0 and names[a] == names[b]:
            owner[a] = owner[b]
    return owner
