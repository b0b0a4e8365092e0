"""Property-based fuzzing of the viewer's request checking (viewer/protocol.py): any body, any JSON
payload gives either a checked request or a :class:`RequestError` whose message names the field at
fault, never another exception.

CI runs a fixed number of examples from a fixed seed; a longer run:

    LERF3D_FUZZ_EXAMPLES=10000 python -m pytest tests/viewer/test_viewer_protocol_fuzz.py
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from test_viewer_protocol import CAMERAS, CONFIG, GL_POSE

from viewer.protocol import (
    CAMERA_FIELDS,
    ChatRequest,
    ExportRequest,
    QueryRequest,
    RenderRequest,
    RequestError,
    parse_body,
    parse_chat,
    parse_export,
    parse_query,
    parse_render,
)

EXAMPLES = int(os.environ.get("LERF3D_FUZZ_EXAMPLES", "100"))
"""Examples per property (CI keeps it small; the environment variable asks for a longer run)."""
SEED = int(os.environ.get("LERF3D_FUZZ_SEED", "18"))
"""Fixed seed: a CI failure reproduces; another seed explores elsewhere."""
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**400)
           | st.floats() | st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=25)
"""Any JSON value (NaN and infinities included: Python's parser accepts them)."""
numbers = st.integers(1, 300) | st.integers() | st.floats(-2.0, 200.0) | st.floats() | scalars
"""Mostly plausible numbers, sometimes anything."""
rows = st.lists(numbers, min_size=3, max_size=5)
poses = (st.lists(rows, min_size=3, max_size=5)
         | st.tuples(numbers, numbers, numbers).map(
             lambda t: [row[:3] + [x] for row, x in zip(GL_POSE, t, strict=False)] + [GL_POSE[3]])
         | json_values)
"""4x4-ish matrices, rigid ones with any translation, and anything else."""
sizes = st.integers(1, 200) | numbers
free_cameras = st.fixed_dictionaries(
    {"camera_to_world": poses, "fov_y": numbers, "width": sizes, "height": sizes},
    optional={"convention": st.sampled_from(["opengl", "opencv", "OpenGL"]) | json_values})
"""Every field of a free camera present (a missing one is the loose dictionaries' case)."""
named_cameras = st.fixed_dictionaries({"name": st.sampled_from(sorted(CAMERAS)) | json_values},
                                      optional={"width": sizes, "height": sizes})
cameras = free_cameras | named_cameras | json_values | st.dictionaries(
    st.sampled_from(sorted(CAMERA_FIELDS)) | st.text(max_size=6), json_values, max_size=6)
phrases = st.text(max_size=40) | st.lists(st.text(max_size=30) | json_values, max_size=10) | json_values


def with_extras(required: dict, optional: dict) -> st.SearchStrategy[dict]:
    """Payloads with the endpoint's fields (the optional ones maybe missing), sometimes an unknown
    one besides."""
    known = st.fixed_dictionaries(required, optional=optional)
    extra = st.dictionaries(st.text(max_size=8), json_values, max_size=2)
    return st.tuples(known, extra, st.booleans()).map(lambda t: {**t[1], **t[0]} if t[2] else t[0])


ENDPOINTS = {
    "render": (with_extras({"camera": cameras}, {"preview": st.booleans() | json_values}),
               lambda payload: parse_render(payload, CAMERAS, CONFIG), RenderRequest),
    "query": (with_extras({"phrases": phrases}, {"camera": st.none() | cameras}),
              lambda payload: parse_query(payload, CAMERAS, CONFIG), QueryRequest),
    "export": (with_extras({"phrase": phrases}, {}), lambda payload: parse_export(payload, CONFIG), ExportRequest),
    "chat": (with_extras({"question": st.text(max_size=600) | json_values}, {"camera": st.none() | cameras}),
             lambda payload: parse_chat(payload, CAMERAS, CONFIG), ChatRequest),
}
"""Per endpoint: payloads (its fields present, mostly plausible values, sometimes an unknown field;
a missing field is the whole-payload test's case), its parser, what it returns."""
FIELD_NAMES = {
    "render": ("render", "camera", "camera_to_world", "fov_y", "width", "height", "convention", "preview"),
    "query": ("query", "camera", "camera_to_world", "fov_y", "width", "height", "convention", "phrase"),
    "export": ("export", "phrase"),
    "chat": ("chat", "question", "camera", "camera_to_world", "fov_y", "width", "height", "convention"),
}
"""Words one of which a refusal must contain: the fields of that endpoint's request."""


def refusal_names_a_field(err: RequestError, endpoint: str) -> None:
    assert err.status in (400, 404), err.status
    assert any(name in err.message for name in FIELD_NAMES[endpoint]), err.message
    assert 0 < len(err.message) < 2000  # a refused 64 KiB value is not echoed whole


def check_accepted(result: object) -> None:
    """What an accepted request promises the API: finite rigid cameras within the caps, phrases."""
    camera = getattr(result, "camera", None)
    if camera is not None:
        k = camera.intrinsics
        assert 1 <= k.width <= CONFIG.max_side and 1 <= k.height <= CONFIG.max_side
        assert k.width * k.height <= CONFIG.max_pixels and math.isfinite(k.fx) and k.fx > 0
        assert np.isfinite(camera.camera_to_world).all()
    texts = {QueryRequest: lambda r: r.phrases, ExportRequest: lambda r: [r.phrase], str: lambda r: [r]}
    for text in texts.get(type(result), lambda r: [])(result):
        assert text and text == text.strip()


def check_endpoint(endpoint: str, payload: dict) -> None:
    _, parse, kind = ENDPOINTS[endpoint]
    try:
        result = parse(payload)
    except RequestError as err:
        refusal_names_a_field(err, endpoint)
        return
    assert isinstance(result, kind)
    check_accepted(result)


bodies = (st.binary(max_size=300)
          | json_values.map(lambda v: json.dumps(v).encode())
          | st.tuples(st.integers(0, 70_000), st.sampled_from([b"[", b'{"a":', b"[{}, "]))
          .map(lambda t: t[1] * t[0]))
"""Raw bytes, encoded JSON, and nesting from shallow to far deeper than the parser's recursion."""


@seed(SEED)
@FUZZ
@given(bodies)
def test_any_body_is_an_object_or_a_json_error(body):
    try:
        payload = parse_body(body)
    except RequestError as err:
        assert err.status == 400 and ("JSON" in err.message or "request body" in err.message), err.message
        return
    assert isinstance(payload, dict)


@seed(SEED)
@FUZZ
@given(st.data())
def test_any_payload_is_a_request_or_an_error_naming_the_field(data):
    for endpoint, (payloads, _, _) in ENDPOINTS.items():
        check_endpoint(endpoint, data.draw(payloads, label=endpoint))


@seed(SEED)
@FUZZ
@given(st.sampled_from(sorted(ENDPOINTS)), json_values)
def test_any_json_value_as_a_whole_payload(endpoint, value):
    """The parsed body of any request, whatever it holds, through each endpoint's checks."""
    fields = {"render": ("camera", "preview"), "query": ("camera", "phrases"), "export": ("phrase",),
              "chat": ("question", "camera")}[endpoint]
    check_endpoint(endpoint, value if isinstance(value, dict) else dict.fromkeys(fields, value))
