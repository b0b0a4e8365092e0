"""``lerf3d llm-prepare | llm-train | ask | llm-eval``: the commands end to end with the tiny preset."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lerf3d.scene_llm.data.dataset import DatasetConfig, generate_dataset
from lerf3d.scene_llm.tokens import prepare as prepare_module
from lerf3d.scene_llm.tokens.record import run_feature_record
from lerf3d.scene_llm.use.ask import read_questions
from lerf3d_cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_run(synthetic_dataset, tmp_path, capsys):
    code = main(
        ["llm-train", str(synthetic_dataset), "--out", str(tmp_path / "run"), "--preset", "tiny", "--quiet"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "stage 1: 4 steps" in out and "stage 2: 4 steps" in out
    return tmp_path / "run"


def test_help_lists_the_commands_without_loading_them():
    heavy = ("transformers", "peft", "lerf3d.scene_llm.train.loop", "lerf3d.scene_llm.use.ask", "lerf3d.scene_llm.model.llm")
    code = (
        f"import sys, lerf3d_cli.main; lerf3d_cli.main.build_parser(); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr[-2000:]
    done = subprocess.run(
        [sys.executable, "-m", "lerf3d_cli", "--help"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert all(name in done.stdout for name in ("llm-prepare", "llm-train", "ask", "llm-eval"))


def test_ask_with_questions_file_and_interactive(cli_run, synthetic_dataset, tmp_path, capsys, monkeypatch):
    scene = str(synthetic_dataset / "features" / "syn_0.pt")
    assert (
        main(
            [
                "ask",
                scene,
                "Question 0 about scene 0?",
                "Another?",
                "--run",
                str(cli_run),
                "--max-new-tokens",
                "3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("Q: ") == 2 and out.count("A: ") == 2 and "Q: Another?" in out

    questions = tmp_path / "q.txt"
    questions.write_text("# comment\nHow many chairs?\n\nIs there a bed?\n")
    assert (
        main(["ask", scene, "--questions", str(questions), "--run", str(cli_run), "--max-new-tokens", "2"])
        == 0
    )
    assert capsys.readouterr().out.count("A: ") == 2

    monkeypatch.setattr(sys, "stdin", io.StringIO("How many chairs?\nIs there a bed?\n\nignored\n"))
    assert main(["ask", scene, "--run", str(cli_run), "--max-new-tokens", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("A: ") == 2 and "question> " in captured.err


def test_malformed_question_file_lines_are_reported_with_their_number(
    cli_run, synthetic_dataset, tmp_path, capsys
):
    path = tmp_path / "questions.jsonl"
    path.write_text(
        json.dumps({"question": "How many chairs?"}) + "\n\n" + json.dumps({"answer": "2"}) + "\n"
    )
    with pytest.raises(ValueError, match=r"questions\.jsonl:3: expected an object"):
        read_questions(path)
    path.write_text(json.dumps({"question": "ok?", "type": "count"}) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"questions\.jsonl:2: not JSON"):
        read_questions(path)
    scene = str(synthetic_dataset / "features" / "syn_0.pt")
    assert main(["ask", scene, "--questions", str(path), "--run", str(cli_run)]) == 2
    assert "questions.jsonl:2: not JSON" in capsys.readouterr().err

    split = synthetic_dataset / "stage2_train.jsonl"
    lines = split.read_text().splitlines()
    split.write_text("\n".join([lines[0], '{"scene": "syn_0", "type": "count"}', *lines[1:]]) + "\n")
    assert main(["llm-eval", str(cli_run), str(synthetic_dataset), "--split", "train"]) == 2
    assert "stage2_train.jsonl:2:" in capsys.readouterr().err


def test_eval_prints_the_table_and_writes_the_report(cli_run, synthetic_dataset, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert (
        main(
            [
                "llm-eval",
                str(cli_run),
                str(synthetic_dataset),
                "--split",
                "train",
                "--limit",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| method | count (4) | all |" in printed
    report = json.loads(out.read_text())
    assert [s["method"] for s in report["scores"]][:2] == ["scene-llm", "text-only"]
    assert len(report["outcomes"]) == 4 and set(report["intervals"]["scene-llm"]) == {"count", "all"}
    rooms = len({o["scene"] for o in report["outcomes"]})
    assert f"scene-llm, 95% over the {rooms} rooms: count " in printed
    right = sum(o["right"] for o in report["outcomes"]) / 4
    assert report["scores"][0]["overall"] == right  # the outcomes are the table's own scoring

    # the same run on the same questions against its own report: greedy answers, no difference at all
    again = tmp_path / "again.json"
    assert main(["llm-eval", str(cli_run), str(synthetic_dataset), "--split", "train", "--limit", "4",
                 "--no-baselines", "--out", str(again), "--against", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"this run minus {out}" in printed and "| all | +0.00 | +0.00 to +0.00 | no |" in printed
    # a report of other questions (another --limit) is refused after the run's own report is written
    fewer = tmp_path / "fewer.json"
    assert main(["llm-eval", str(cli_run), str(synthetic_dataset), "--split", "train", "--limit", "3",
                 "--no-baselines", "--out", str(fewer), "--against", str(out)]) == 2
    assert f"{out}: the two evaluations hold different questions (4 and 3)" in capsys.readouterr().err
    assert len(json.loads(fewer.read_text())["outcomes"]) == 3
    # a report that keeps no outcomes is refused before the evaluation, naming it
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"split": "train", "scores": report["scores"]}))
    assert main(["llm-eval", str(cli_run), str(synthetic_dataset), "--split", "train", "--limit", "4",
                 "--out", str(tmp_path / "never.json"), "--against", str(old)]) == 2
    assert "old.json: the report keeps no per-question outcomes" in capsys.readouterr().err
    assert not (tmp_path / "never.json").exists()


def test_user_errors_are_one_line_messages(synthetic_dataset, tmp_path, capsys):
    scene = str(synthetic_dataset / "features" / "syn_0.pt")
    assert main(["ask", scene, "q?", "--run", str(tmp_path / "nowhere")]) == 2
    assert "no Scene-LLM run folder" in capsys.readouterr().err
    assert main(["llm-eval", str(tmp_path / "nowhere"), str(tmp_path)]) == 2
    assert "no dataset manifest" in capsys.readouterr().err
    assert main(["llm-train", str(synthetic_dataset), "--out", str(tmp_path / "r"), "--preset", "huge"]) == 2
    assert "unknown preset 'huge'; presets: demo, gpu, tiny" in capsys.readouterr().err


def test_train_applies_flags_then_set_and_records_the_result(synthetic_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["llm-train", str(synthetic_dataset), "--out", str(run), "--preset", "tiny", "--quiet"]
    assert main([*argv, "--set", "stage2.stepz=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lerf3d llm-train: error: override stage2.stepz=3: unknown key 'stepz'; did you mean steps")
    assert "\n" not in err and not run.exists()
    assert main([*argv, "--steps1", "2", "--steps2", "5", "--set", "stage2.steps=3", "--set", "stage2.lora.rank=2"]) == 0
    out = capsys.readouterr().out
    assert "stage 1: 2 steps" in out and "stage 2: 3 steps" in out
    recorded = json.loads((run / "config.json").read_text())
    assert recorded["stage1"]["steps"] == 2 and recorded["stage2"]["steps"] == 3
    assert recorded["stage2"]["lora"]["rank"] == 2 and recorded["stage2"]["lora"]["alpha"] == 8.0


def test_prepare_records_its_settings_and_training_keeps_them(tiny_room, tmp_path, monkeypatch, capsys):
    class Encoder:  # a colour statistic stands in for a trained tower
        name, embedding_dim, input_size = "test:colour", 6, 16

        def encode_image(self, images):
            mean = images.mean(dim=(2, 3))  # (B, 3)
            return torch.nn.functional.normalize(torch.cat([mean, 1 - mean], dim=1), dim=1)

    from lerf3d.features import FeatureExtractor, FeatureExtractorConfig

    monkeypatch.setattr(
        prepare_module,
        "build_extractor",
        lambda cfg, cache, device: FeatureExtractor(
            FeatureExtractorConfig(pyramid=cfg.pyramid, show_progress=False), Encoder(), None, cache, device
        ),
    )
    data = tmp_path / "data"
    generate_dataset([tiny_room], data, DatasetConfig())
    assert main(["llm-prepare", str(data), "--voxel", "0.05", "--scale", "0.4"]) == 0
    assert "wrote 1 scene feature file(s)" in capsys.readouterr().out
    assert main(["llm-prepare", str(data), "--voxel", "0.05", "--scale", "0.4"]) == 0
    assert "wrote 0 scene feature file(s)" in capsys.readouterr().out  # done already
    assert main(["llm-prepare", str(data), "--voxel", "0.06"]) == 2  # other settings, no --overwrite
    assert "computed with other settings" in capsys.readouterr().err
    Encoder.name = "test:colour#retrained"  # same spec, other weights: recomputed
    assert main(["llm-prepare", str(data), "--voxel", "0.05", "--scale", "0.4"]) == 0
    assert "wrote 1 scene feature file(s)" in capsys.readouterr().out
    assert (
        main(
            [
                "llm-train",
                str(data),
                "--out",
                str(tmp_path / "run"),
                "--preset",
                "tiny",
                "--quiet",
                "--steps1",
                "1",
                "--steps2",
                "1",
            ]
        )
        == 0
    )
    record = run_feature_record(tmp_path / "run")
    assert record.settings.fusion_voxel == 0.05 and record.settings.world_scale == 0.4
    assert record.source == "backproject:test:colour#retrained@0.4m"


DEEP_JSON = "[" * 100_000 + "]" * 100_000
"""A 100,000-deep nested JSON line (issue 18: ended in a RecursionError traceback)."""


def _error_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("lerf3d ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert all(needle in err for needle in needles), err
    return err


def test_bad_question_files_name_the_file_and_line(synthetic_dataset, tmp_path, capsys, monkeypatch):
    from lerf3d.scene_llm.use import ask as ask_module

    monkeypatch.setattr(ask_module, "AskSession", lambda *a: pytest.fail("loaded before checking the questions"))
    scene, run = str(synthetic_dataset / "features" / "syn_0.pt"), str(tmp_path)  # run: any folder
    text = tmp_path / "q.txt"
    text.write_bytes(b"How many chairs?\nIs there a \xff bed?\n")
    assert main(["ask", scene, "--questions", str(text), "--run", run]) == 2
    _error_line(capsys, f"{text}:2: not UTF-8 text (byte 11)")
    lines = tmp_path / "q.jsonl"
    lines.write_text(json.dumps({"question": "How many chairs?"}) + "\n" + DEEP_JSON + "\n")
    assert main(["ask", scene, "--questions", str(lines), "--run", run]) == 2
    _error_line(capsys, f"{lines}:2: not usable JSON (RecursionError)")
    assert main(["ask", scene, "", "--run", run]) == 2  # regression: failed after an 84 s load
    _error_line(capsys, "question 1 is empty")
    assert main(["ask", str(tmp_path / "nowhere.pt"), "q?", "--run", run]) == 2
    _error_line(capsys, "nowhere.pt: neither a capture folder nor a scene features .pt file")


def test_bad_dataset_lines_fail_before_anything_is_written(synthetic_dataset, tmp_path, capsys):
    split = synthetic_dataset / "stage1_train.jsonl"
    good = split.read_text()
    out = tmp_path / "run"
    for content, problem in ((good + DEEP_JSON + "\n", ":5: not usable JSON (RecursionError)"),
                             (good.encode() + b"\xc3(\n", ":5: not UTF-8 text (byte 0)")):
        split.write_bytes(content.encode() if isinstance(content, str) else content)
        assert main(["llm-train", str(synthetic_dataset), "--out", str(out), "--preset", "tiny", "--quiet"]) == 2
        _error_line(capsys, f"{split}{problem}")
        assert not out.exists()  # regression: config.json was written before the data was read
    split.write_text(good)
    test = synthetic_dataset / "stage2_test.jsonl"
    test.write_text(DEEP_JSON + "\n")
    (tmp_path / "eval_run").mkdir()
    assert main(["llm-eval", str(tmp_path / "eval_run"), str(synthetic_dataset)]) == 2
    _error_line(capsys, f"{test}:1: not usable JSON (RecursionError)")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a regular file")
    assert main(["llm-train", str(synthetic_dataset), "--out", str(blocker / "run"), "--preset", "tiny"]) == 2
    _error_line(capsys, f"--out {blocker}/run: {blocker} is a file")
    assert main(["llm-eval", str(tmp_path / "eval_run"), str(synthetic_dataset), "--out", str(blocker / "e.json")]) == 2
    _error_line(capsys, f"--out {blocker}/e.json: {blocker} is a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "eval_run", "notes.txt"]


@pytest.mark.slow
def test_llm_eval_puts_the_object_readout_beside_the_model(tiny_room, tmp_path, capsys):
    """The no-LLM baseline on real features (the packaged tower on the tiny room): count, existence
    and nearest answered from the object tokens, other types left to the LLM ("–" in the table)."""
    data = tmp_path / "data"
    generate_dataset([tiny_room], data, DatasetConfig(val_fraction=0.0, test_fraction=0.0))
    assert main(["llm-prepare", str(data)]) == 0
    assert main(["llm-train", str(data), "--out", str(tmp_path / "run"), "--preset", "tiny", "--quiet",
                 "--steps1", "1", "--steps2", "1"]) == 0
    capsys.readouterr()
    assert main(["llm-eval", str(tmp_path / "run"), str(data), "--split", "train", "--limit", "40"]) == 0
    table = capsys.readouterr().out
    readout = next(line for line in table.splitlines() if line.startswith("| object-readout |"))
    head = next(line for line in table.splitlines() if line.startswith("| method |"))
    cells = dict(zip([c.split(" (")[0].strip() for c in head.split("|")[2:-2]], readout.split("|")[2:-2]))
    answered = {kind for kind, cell in cells.items() if cell.strip() != "–"}
    assert answered and answered <= {"count", "exists", "nearest"}
    assert "object-readout: exists yes-rate" in table or "exists" not in cells
    report = json.loads((tmp_path / "run" / "eval_train.json").read_text())
    assert "object-readout" in [s["method"] for s in report["scores"]]
