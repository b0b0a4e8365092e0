"""Each object's name among the phrases scored: its best phrase, except that an item is not named
after what it rests on.

An object's embedding mixes the field at its own scale with crops of its best views, and the crops
of a small item show what holds it up: a flacon's crops are half shelf, a cup's half table top. So a
small item's best phrase is often its support's name, or another phrase that also describes the
support (a yogurt bottle on a table named "football table" scoring "table" highest). Such a name is
suspect when the support is named by it, or when it describes the support too (the support's
relevancy for it is at least LERF's neutral 0.5). :func:`object_names` then gives the item its best
other phrase when it is a thing of its own, which it tells from the scores alone:

- a name shared with the support describes the support better than the item (a part of the
  support, a tap over a sink or the leaves over a plant's pot, is its kind at least as much as the
  rest of it), and
- the other phrase describes the item (at least LERF's neutral 0.5) and describes it better than
  it describes the support (the item's own kind is not just what the support also looks like).

Otherwise the item keeps its name; with its support's name it is a part of the support, and counting
joins the two (:func:`~lerf3d.objects.counting.instance_counts`). Supports are named before what
rests on them, so a cup on a tray on a table is compared with the tray's final name.
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
        if b < 0:
            continue
        name = int(names[a])
        if name == int(names[b]):
            if scores[a, name] >= scores[b, name]:
                continue  # a part of its support
        elif scores[b, name] < NEUTRAL_RELEVANCY:
            continue  # its name does not describe its support: its own
        others = scores[a].clone()
        others[name] = -torch.inf
        other = int(others.argmax())
        if scores[a, other] >= NEUTRAL_RELEVANCY and scores[a, other] > scores[b, other]:
            names[a] = other
    return names
