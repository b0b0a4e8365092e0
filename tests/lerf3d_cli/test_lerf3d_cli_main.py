"""The ``lerf3d`` parser: built without torch or the query stack, every command's help, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lerf3d_cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "lerf3d.query.session", "lerf3d.query.checkpoint", "lerf3d.train", "lerf3d.field")
"""Modules that building the parser (and printing any help) must not import."""


def _commands() -> list[str]:
    return sorted(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001 (no public API)


def test_commands_are_all_there():
    assert {"fuse", "features", "train", "demo", "query", "render", "export", "eval", "llm-prepare",
            "llm-train", "ask", "llm-eval", "view"} <= set(_commands())


def test_parser_and_every_help_import_no_torch():
    """One fresh interpreter builds the parser, prints ``--help`` and each ``COMMAND --help``, then
    reports which heavy modules got imported (none may)."""
    code = (
        "import contextlib, io, sys\n"
        "from lerf3d_cli.main import build_parser\n"
        "parser = build_parser()\n"
        "names = sorted(parser._subparsers._group_actions[0].choices)\n"
        "helps = {}\n"
        "for argv in [['--help']] + [[name, '--help'] for name in names]:\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "        build_parser().parse_args(argv)\n"
        "    helps[' '.join(argv)] = out.getvalue()\n"
        "print(sum(h.startswith('usage: lerf3d') for h in helps.values()), len(helps))\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    usage_lines, heavy = done.stdout.strip().splitlines()
    usages, total = (int(v) for v in usage_lines.split())
    assert usages == total == len(_commands()) + 1  # every help printed a usage line
    assert heavy == "[]"


def test_module_help_runs_without_torch():
    done = subprocess.run([sys.executable, "-m", "lerf3d_cli", "train", "--help"], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: lerf3d train")


@pytest.mark.parametrize("extra", [["--run", "missing-run"], ["--stage", "3"]])
def test_ask_usage_errors_exit_2(tmp_path, capsys, extra):
    """A missing run folder (the command's error) and a bad option (argparse's) both exit 2 with one
    line naming the problem. ``lerf3d ask`` is the only way in: the Scene-LLM modules have no
    ``python -m`` entry of their own that could answer differently."""
    argv = [str(tmp_path / "scene"), "how many chairs are there?", *[str(tmp_path / v) if v == "missing-run"
                                                                   else v for v in extra]]
    try:
        code = main(["ask", *argv])
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error:" in message and (str(tmp_path) in message if "--run" in extra else "--stage" in message)


def test_scene_llm_modules_have_no_second_entry_point():
    package = REPO / "lerf3d" / "scene_llm"
    entries = [p.relative_to(REPO) for p in package.rglob("*.py") if "__main__" in p.read_text()]
    assert entries == []
