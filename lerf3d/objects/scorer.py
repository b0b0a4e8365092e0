"""Object mode of a text query: a phrase selects whole objects, and each object's pixels carry its
relevancy (COS3D's "instances first, then the language answer on them").

A view's object map (object index per pixel) depends only on the camera, so it is computed once and
cached; a new phrase is then one (K, D) x (D, P) product and a gather, whatever the image size. Each
object's pixels carry its relevancy above LERF's neutral point (:func:`above_neutral`): objects the
phrase does not select stay dark. Within an object the values dip by a thousandth from its middle
towards its outline in the view (:func:`interior_weight`), so the map's peak is the object's middle,
where one would point at it, rather than whichever of its equal pixels comes first. Given the
vocabulary the objects are named by, an object named after the support it rests on (a part of it,
:mod:`lerf3d.objects.naming`, as counting joins them) shows the support's value for a phrase that
selects the support, so the support's middle stays the peak (:func:`owned_values`). With
measured depth a pixel is back-projected and takes the object of the nearest fused point within
``tolerance_m``; without it (a novel pose) the object points are z-buffered into the view.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
from jaxtyping import Float, Int
from scipy.spatial import cKDTree

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.geometry import backproject_depth
from lerf3d.objects.naming import part_owners
from lerf3d.objects.scene_objects import SceneObjects, object_relevancy
from lerf3d.query.baselines import nearest_point_map
from lerf3d.query.camera import QueryCamera
from lerf3d.query.phrases import check_phrases, encode_phrases
from lerf3d.query.relevancy import CANONICAL_NEGATIVES, NEUTRAL_RELEVANCY, RelevancyMap

SNAP_TOLERANCE_M = 0.05
"""A back-projected pixel belongs to the object of the nearest fused point within this distance:
about two voxels of a room-scale fusion (the spacing of the fused points), so a pixel on an object's
surface always finds one of its points and a pixel on the floor beside it does not."""
VIEW_CACHE_SIZE = 64
"""Object maps kept (a 256x256 map is 0.5 MB of int64 and 0.25 MB of float32 interior weights)."""
INTERIOR_DIP = 1e-3
"""Relative dip of an object's values from its middle (which keeps the object's relevancy) to its
outline in a view: invisible in the map and far below the relevancy differences between objects,
but it places the peak."""


def interior_weight(ids: Int[np.ndarray, "H W"]) -> Float[np.ndarray, "H W"]:
    """Each pixel's distance to the outline of its object's region, over the largest such distance
    within that object in the view: 1 at the object's middle, 0 on its outline and off objects."""
    from scipy.ndimage import distance_transform_edt

    padded = np.pad(ids, 1, constant_values=-1)
    centre = padded[1:-1, 1:-1]
    outline = ((centre != padded[:-2, 1:-1]) | (centre != padded[2:, 1:-1])
               | (centre != padded[1:-1, :-2]) | (centre != padded[1:-1, 2:]))
    distance = distance_transform_edt(~outline)  # (H, W), 0 on outlines
    out = np.zeros(ids.shape, dtype=np.float32)
    on = ids >= 0
    if on.any():
        peak = np.zeros(int(ids.max()) + 1)
        np.maximum.at(peak, ids[on], distance[on])
        out[on] = distance[on] / np.maximum(peak[ids[on]], 1.0)
    return out


def object_map_from_depth(
    camera: QueryCamera, tree: cKDTree, point_object: Int[np.ndarray, " N"], tolerance_m: float
) -> Int[np.ndarray, "H W"]:
    """Object index of each pixel of a camera with measured depth (-1: no object there)."""
    assert camera.depth is not None
    points = backproject_depth(camera.depth, camera.intrinsics, camera.camera_to_world)  # (H, W, 3)
    flat = points.reshape(-1, 3)
    valid = np.isfinite(flat).all(axis=1)
    out = np.full(len(flat), -1, dtype=np.int64)
    if valid.any() and len(point_object):
        distance, nearest = tree.query(flat[valid], k=1, distance_upper_bound=tolerance_m)
        hit = np.isfinite(distance)
        ids = np.full(len(distance), -1, dtype=np.int64)
        ids[hit] = point_object[nearest[hit]]
        out[valid] = ids
    return out.reshape(camera.depth.shape)


def object_map_from_points(
    camera: QueryCamera, xyz: Float[torch.Tensor, "N 3"], point_object: Int[torch.Tensor, " N"]
) -> Int[np.ndarray, "H W"]:
    """Object index of each pixel of a camera without depth: the nearest projected point's object."""
    index = nearest_point_map(xyz, camera)  # (H*W,)
    ids = torch.where(index >= 0, point_object[index.clamp_min(0)], torch.full_like(index, -1))
    k = camera.intrinsics
    return ids.reshape(k.height, k.width).numpy()


def above_neutral(relevancy: Float[torch.Tensor, "..."]) -> Float[torch.Tensor, "..."]:
    """Relevancy above LERF's neutral point, rescaled to [0, 1]: 0 for "not this" (relevancy <= 0.5,
    LERF sec. 3.4), 1 for a certain match. An object mode map shows the objects a phrase selects,
    so an object no more like the phrase than like "object" or "stuff" stays dark instead of
    carrying a middling value into the map."""
    return ((relevancy - NEUTRAL_RELEVANCY) / (1.0 - NEUTRAL_RELEVANCY)).clamp_min(0.0)


def object_map_values(relevancy: Float[torch.Tensor, "K P"]) -> Float[torch.Tensor, "K P"]:
    """What each object's pixels show per phrase: :func:`above_neutral` for a phrase that selects some
    object; for one that selects none, the plain relevancy, so the best candidate still stands out
    (the map of a phrase that matches nothing says where it matches least badly, as per-pixel does)."""
    selects = (relevancy > NEUTRAL_RELEVANCY).any(dim=0, keepdim=True)  # (1, P)
    return torch.where(selects, above_neutral(relevancy), relevancy)


def owned_values(relevancy: Float[torch.Tensor, "K P"], owner: Int[torch.Tensor, " K"]) -> Float[torch.Tensor, "K P"]:
    """What each object shows per phrase (:func:`object_map_values`), except that a part of a
    support (:func:`~lerf3d.objects.naming.part_owners`) shows its support's value for a phrase that
    selects the support, dipped as at the support's outline so the support's own middle stays the
    peak: a cup whose crops are half table top lights up with the table for "table" instead of
    taking the table's peak, and still stands alone for "cup", which does not select the table."""
    values = object_map_values(relevancy)
    joined = (owner != torch.arange(len(owner))).unsqueeze(1) & (relevancy[owner] > NEUTRAL_RELEVANCY)
    return torch.where(joined, values[owner] * (1.0 - INTERIOR_DIP), values)


class ObjectScorer:
    """Relevancy maps in object mode (a :class:`lerf3d.query.evaluate.ViewScorer`)."""

    name = "lerf3d-objects"

    def __init__(self, objects: SceneObjects, encoder: ImageTextEncoder,
                 tolerance_m: float = SNAP_TOLERANCE_M, vocabulary: Sequence[str] = ()) -> None:
        """``vocabulary``: phrases the objects are named by (:meth:`SceneObjects.label`); an object
        named after the support it rests on is shown as part of that support. Empty, or a single
        phrase (which names every object by itself): every object stands alone."""
        if encoder.name != objects.encoder:
            raise ValueError(f"the objects carry {objects.encoder!r} embeddings, not {encoder.name!r}")
        self.objects = objects
        self.owner = torch.arange(len(objects))
        if len(vocabulary) > 1:
            names = objects.label(vocabulary, encoder).named
            self.owner = part_owners(names, objects.support, objects.box_min[:, 2])
        self.encoder = encoder
        self.tolerance_m = tolerance_m
        self._tree = cKDTree(objects.xyz.numpy())
        self._point_object = objects.point_object.numpy()
        self._maps: OrderedDict[str, tuple[Int[np.ndarray, "H W"], Float[np.ndarray, "H W"]]] = OrderedDict()
        self._negatives: dict[tuple[str, ...], torch.Tensor] = {}

    def object_map(self, camera: QueryCamera) -> tuple[Int[np.ndarray, "H W"], Float[np.ndarray, "H W"]]:
        """The view's object index per pixel and :func:`interior_weight` (cached per camera)."""
        key = camera.key
        if key in self._maps:
            self._maps.move_to_end(key)
            return self._maps[key]
        if camera.depth is not None:
            found = object_map_from_depth(camera, self._tree, self._point_object, self.tolerance_m)
        else:
            found = object_map_from_points(camera, self.objects.xyz, self.objects.point_object)
        self._maps[key] = (found, interior_weight(found))
        if len(self._maps) > VIEW_CACHE_SIZE:
            self._maps.popitem(last=False)
        return self._maps[key]

    def object_scores(
        self, phrases: Sequence[str], negatives: Sequence[str] = CANONICAL_NEGATIVES
    ) -> Float[torch.Tensor, "K P"]:
        """Relevancy of every object for every phrase (checked here unless already checked)."""
        negatives = check_phrases(negatives, "negative phrase")
        key = tuple(negatives)
        if key not in self._negatives:
            self._negatives[key] = encode_phrases(self.encoder, negatives, what="negative phrase")
        positives = encode_phrases(self.encoder, check_phrases(phrases))
        return object_relevancy(self.objects.embedding, positives, self._negatives[key])

    def maps(self, camera: QueryCamera, phrases: Sequence[str],
             negatives: Sequence[str] = CANONICAL_NEGATIVES) -> list[RelevancyMap]:
        cleaned = check_phrases(phrases)
        found, interior = self.object_map(camera)
        ids = torch.from_numpy(found)  # (H, W)
        scores = owned_values(self.object_scores(cleaned, negatives), self.owner)  # (K, P)
        padded = torch.cat([scores, scores.new_zeros(1, len(cleaned))])  # row K: no object
        values = padded[torch.where(ids >= 0, ids, torch.full_like(ids, len(self.objects)))]  # (H, W, P)
        dip = 1.0 - INTERIOR_DIP * (1.0 - torch.from_numpy(interior).to(values.dtype))  # (H, W)
        values = values * dip[..., None]  # the object's own value at its middle
        return [RelevancyMap(values[..., p], phrase) for p, phrase in enumerate(cleaned)]
