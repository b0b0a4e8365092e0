"""bench/train.py's time-to-target helpers on hand-made curves (no training)."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

BENCH_TRAIN = Path(__file__).resolve().parents[2] / "bench" / "train.py"


@pytest.fixture(scope="module")
def bench():
    """bench/train.py as a module (bench/ is a folder of scripts, not a package). Its sibling
    train_methods.py is found as when the script runs (bench/ first on sys.path), for the import only:
    bench/viewer.py must not shadow the viewer package for the tests that follow."""
    spec = importlib.util.spec_from_file_location("bench_train_under_test", BENCH_TRAIN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    sys.path.insert(0, str(BENCH_TRAIN.parent))
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCH_TRAIN.parent))
        del sys.modules[spec.name]
        sys.modules.pop("train_methods", None)


def curve(bench, *psnrs: float) -> list:
    """Points every 25 steps, 2 s (1.5 CPU s) apart."""
    return [bench.CurvePoint(25 * (i + 1), 2.0 * (i + 1), 1.5 * (i + 1), p) for i, p in enumerate(psnrs)]


def test_first_point_at_or_above_the_target(bench):
    points = curve(bench, 10.0, 14.0, 13.0, 16.0)
    hit = bench.first_reaching(points, 14.0)  # equal counts as reached
    assert (hit.step, hit.wall_seconds, hit.cpu_seconds) == (50, 4.0, 3.0)
    assert bench.first_reaching(points, 15.0).step == 100  # the dip at step 75 does not count


def test_not_reached(bench):
    assert bench.first_reaching(curve(bench, 10.0, 12.0), 12.5) is None
    assert bench.first_reaching([], 0.0) is None


def test_run_result_curve_survives_json(bench):
    """Results travel between processes as JSON: the points come back as CurvePoints."""
    result = bench.RunResult(
        "lerf3d", 50, 1024, 4.0, 3.0, 1.0, 14.0, 0.05, 0.5, 0.2, ["frame_0008"], curve(bench, 10.0, 14.0)
    )
    back = bench.RunResult(**json.loads(json.dumps(asdict(result))))
    assert back == result
    assert isinstance(back.curve[0], bench.CurvePoint)
    older = {k: v for k, v in asdict(result).items() if k != "curve"}  # a result without a curve
    assert bench.RunResult(**older).curve == []
