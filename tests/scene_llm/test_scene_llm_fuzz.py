"""Property-based fuzzing of the question-file readers (``ask --questions``, ``llm-train`` and
``llm-eval`` data): any bytes give a result or a one-line QuestionFileError naming the file, never
another exception.

CI runs a fixed number of examples from a fixed seed; a longer, randomised run:
``LERF3D_FUZZ_EXAMPLES=10000 pytest tests/scene_llm/test_scene_llm_fuzz.py``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lerf3d.scene_llm.data.dataset import QARecord, QuestionFileError, read_jsonl, write_jsonl
from lerf3d.scene_llm.data.questions import TYPES
from lerf3d.scene_llm.use.ask import read_questions

LONG_RUN = "LERF3D_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(
    max_examples=int(os.environ.get("LERF3D_FUZZ_EXAMPLES", "150")),
    derandomize=not LONG_RUN,  # CI: the same examples every run; the long run explores
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FIELDS = ("scene", "type", "question", "answer", "frame", "family")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(TYPES),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=6),
    max_leaves=20,
)
"""Any JSON value, with objects whose keys are often a record's fields."""
records = st.fixed_dictionaries(
    {"scene": st.text(min_size=1, max_size=12), "type": st.sampled_from(TYPES),
     "question": st.text(min_size=1, max_size=40), "answer": st.text(min_size=1, max_size=12)},
    optional={"frame": st.none() | st.text(max_size=8), "family": st.integers(-1, 6) | st.booleans(),
              "boxes": st.lists(st.lists(st.floats() | st.integers(-3, 3), min_size=5, max_size=7), max_size=3)},
)
"""Dicts shaped like a record, some valid (captions and egocentric questions need a frame, other
types none; a wording family is 0 for captions, below the number of families otherwise; boxes are
six finite numbers, minimum <= maximum)."""
hostile_lines = st.one_of(
    st.integers(1, 120_000).map(lambda depth: "[" * depth + "]" * depth),  # deep nesting (issue 18)
    st.integers(1, 60_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(4_000, 6_000).map(lambda digits: '{"question": ' + "7" * digits + "}"),  # int digit limit
    st.sampled_from(["NaN", "-Infinity", '{"question": "\\ud800"}', "{", '"', "\x00", "#", "\ufeff{}"]),
)
lines = st.one_of(
    json_values.map(json.dumps), records.map(json.dumps), hostile_lines, st.text(max_size=40),
).map(str.encode) | st.binary(max_size=40)
"""One line of a question file: JSON, near-records, hostile JSON, text, or any bytes."""
files = st.lists(lines, max_size=8).map(b"\n".join) | st.binary(max_size=200)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _result_or_named_error(read, path: Path, data: bytes):
    """What ``read(path)`` gives for ``data``: its result, or None after checking its error."""
    path.write_bytes(data)
    try:
        return read(path)
    except QuestionFileError as err:
        message = str(err)
        assert message.startswith(f"{path}:") and "\n" not in message and len(message) < 1000, message
        return None


@FUZZ
@given(data=files, suffix=st.sampled_from([".jsonl", ".txt"]))
def test_read_questions_gives_questions_or_a_named_error(folder, data, suffix):
    path = folder / f"questions{suffix}"
    questions = _result_or_named_error(read_questions, path, data)
    if questions is not None:
        assert questions and all(isinstance(q, str) and q == q.strip() and q for q in questions)
    if suffix == ".txt":  # a text file's questions are its non-blank, non-comment lines
        try:
            text = [line.decode("utf-8").strip() for line in data.split(b"\n")]
        except UnicodeDecodeError:
            assert questions is None
            return
        expected = [line for line in text if line and not line.startswith("#")]
        assert questions == (expected or None)


@FUZZ
@given(data=files)
def test_read_jsonl_gives_records_or_a_named_error(folder, data):
    found = _result_or_named_error(read_jsonl, folder / "stage2_train.jsonl", data)
    assert found is None or all(isinstance(r, QARecord) for r in found)


@FUZZ
@given(rows=st.lists(records, max_size=6))
def test_valid_records_round_trip_and_invalid_ones_are_named(folder, rows):
    path = folder / "stage1_train.jsonl"
    try:
        expected = [QARecord(**row) for row in rows]
    except ValueError:  # some rows break a record's rules: the reader must name the file and line
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        with pytest.raises(QuestionFileError, match=rf"^{path}:\d+: "):
            read_jsonl(path)
        return
    write_jsonl(path, expected)
    assert read_jsonl(path) == expected
    boxes = [{"boxes": tuple(tuple(float(v) for v in box) for box in row.get("boxes", ()))} for row in rows]
    assert [asdict(r) for r in read_jsonl(path)] == [{"frame": None, "family": 0, **row, **box}
                                                     for row, box in zip(rows, boxes, strict=True)]
