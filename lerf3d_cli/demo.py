"""``lerf3d demo``: the whole pipeline on a generated room, with a printed summary.

Stages: generate the room (real CC0 furniture) -> read it back as a capture -> TSDF fusion ->
preview and a check of the fused surface against the room's ground truth -> crop pyramids and DINO
maps with the embedded ``lerf3d:tiny`` encoders -> train the language field (``default`` preset) and
render held-out views -> localise every labelled object by text (field vs 2D baselines) -> answer
questions about the room with the packaged Scene-LLM weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from lerf3d.capture import load_capture
from lerf3d.encoders.spec import DEFAULT_IMAGE_TEXT_SPEC
from lerf3d.fusion import FusionConfig, FusionResult, fuse_capture, save_fusion
from lerf3d.fusion.evaluate import evaluate_fusion
from lerf3d.fusion.preview import write_preview
from lerf3d.ground_truth import load_ground_truth
from lerf3d.runs.layout import Run
from lerf3d.types import Capture

STAGES = 6
"""Numbered stages the demo prints: room, fusion, field, objects, text queries, scene questions."""
EVAL_VIEWS = 3
"""Annotated views per split (held-out, train) the demo localises every label on (``lerf3d eval``
does them all)."""
EVAL_SCALES = 10
"""Scales each evaluated view is rendered at: LERF's 30 cost ~3 min a view pair on 2 CPU cores (a
320x240 view at 30 scales is 2.2M embeddings); ``lerf3d eval`` keeps 30."""


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the demo run."""

    out: Path = Path("outputs/demo")
    """Output folder: capture/, fusion/ and later stages beneath it."""
    preset: str = "demo"
    """Room preset of data_tools (tiny, demo, large)."""
    seed: int = 0
    """Room seed: the same seed gives the same room and views."""
    train_preset: str | None = None
    """Training preset (configs/); None: ``tiny`` for the tiny room, ``default`` otherwise."""
    encoders: str = DEFAULT_IMAGE_TEXT_SPEC
    """Image-text and dense encoder spec; the embedded towers must be in lerf3d/weights."""
    device: str = "cpu"
    """Torch device for the encoders and training."""


def _generate(config: DemoConfig) -> Path:
    from data_tools.config import RoomConfig
    from data_tools.make_room import generate_room

    room = generate_room(RoomConfig.preset(config.preset, seed=config.seed), config.out / "capture")
    labels = ", ".join(o.entry.label for o in room.layout.objects)
    print(
        f"[1/{STAGES}] room: {len(room.poses)} views at {room.intrinsics.width}x{room.intrinsics.height} of "
        f"{len(room.layout.objects)} objects ({labels}) from {room.catalog_source}, "
        f"{room.seconds['total']:.1f} s -> {room.out_dir}"
    )
    return room.out_dir


def _check_encoders(config: DemoConfig) -> None:
    """Build the encoders once up front: missing tower weights stop the demo before any work
    (MissingWeightsError says how to get them) instead of after the room and fusion stages."""
    from lerf3d.encoders import build_dense_encoder, build_image_text_encoder

    build_image_text_encoder(config.encoders, config.device)
    build_dense_encoder(config.encoders, config.device)


def _train(config: DemoConfig, capture: Capture, fusion: FusionResult) -> str:
    """Features with the demo's encoders, then the training preset; prints held-out scores. The run
    folder is ``config.out`` itself, so ``fusion/`` and ``features/`` sit where ``lerf3d query``,
    ``lerf3d view`` and ``lerf3d train --resume`` look for them."""
    from lerf3d.train import load_preset
    from lerf3d.train.command import extract_features, train_capture

    preset = config.train_preset or ("tiny" if config.preset == "tiny" else "default")
    train_config = load_preset(preset)
    t0 = time.perf_counter()
    features = extract_features(
        train_config, capture, config.encoders, config.encoders, Run(config.out).features, config.device
    )
    summary = train_capture(
        train_config, capture, fusion.bounds, fusion.points, features, config.out, config.device,
        setup_seconds=time.perf_counter() - t0,
    )
    print(f"[3/{STAGES}] language field ({preset} preset): " + summary.describe())
    return preset


def _objects_and_queries(config: DemoConfig, capture_dir: Path) -> None:
    """The object layer (``lerf3d objects``: segmentation, labels, counts against the room's ground
    truth), then localisation of every ground-truth label on held-out and training views: the
    field per pixel and in object mode against the 2D crop pyramid and ConceptFusion-style point
    fusion, in one run (``lerf3d eval``)."""
    from lerf3d.objects.commands import annotated_scorer, evaluate_scene_objects, scene_objects
    from lerf3d.objects.evaluate import TABLE_HEADER
    from lerf3d.query.checkpoint import open_scene
    from lerf3d.query.eval_scene import evaluate_scene
    from lerf3d.query.session import QuerySessionConfig
    from lerf3d.runs import resolve_checkpoint

    t0 = time.perf_counter()
    checkpoint = resolve_checkpoint(config.out)
    scene = open_scene(checkpoint, device=config.device, config=QuerySessionConfig(num_scales=EVAL_SCALES))
    truth = load_ground_truth(capture_dir)
    built = scene_objects(scene, checkpoint)
    evaluation = evaluate_scene_objects(scene, built.objects, truth)
    print(f"[4/{STAGES}] objects: {len(built.objects)} {built.origin} in {time.perf_counter() - t0:.1f} s -> "
          f"{built.path}\n" + "\n".join(f"      {line}" for line in (TABLE_HEADER + "\n" + evaluation.row()).split("\n")))
    t0 = time.perf_counter()
    print(f"[5/{STAGES}] text queries: every ground-truth label on {EVAL_VIEWS} held-out and {EVAL_VIEWS} training "
          f"views at {EVAL_SCALES} scales, field per pixel and in object mode vs 2D baselines")
    run = Run(config.out)
    out = evaluate_scene(scene, truth, run.eval / "localisation.json", max_views=EVAL_VIEWS,
                         features_dir=run.features, extra_scorers=[annotated_scorer(scene, built.objects, truth)])
    print(f"      {time.perf_counter() - t0:.1f} s -> {out.json_path}")


def _ask(config: DemoConfig, capture_dir: Path) -> None:
    """The room's own questions (generated from its ground truth, as the Scene-LLM training data is)
    answered by the packaged Scene-LLM weights through ``lerf3d ask``'s session; prints a few answers
    and the exact-match score per question type. The demo room's seed is never trained on."""
    from data_tools.qa_generate import catalogue_labels
    from lerf3d.scene_llm.commands import DEFAULT_RUN
    from lerf3d.scene_llm.data.dataset import scene_rng
    from lerf3d.scene_llm.data.questions import QuestionConfig, scene_questions
    from lerf3d.scene_llm.use.ask import AskConfig, AskSession, answer_line, feature_settings
    from lerf3d.scene_llm.use.evaluate import exact_match_scores

    if not (DEFAULT_RUN / "config.json").is_file():
        print(f"[6/{STAGES}] scene questions: skipped, no Scene-LLM weights in {DEFAULT_RUN} "
              "(python -m data_tools.scene_llm_demo builds them)")
        return
    t0 = time.perf_counter()
    truth = load_ground_truth(capture_dir)
    records = scene_questions(truth, catalogue_labels(), QuestionConfig(), scene_rng(config.seed, truth.scene))
    session = AskSession(capture_dir, AskConfig(DEFAULT_RUN, feature_settings(DEFAULT_RUN, None, None),
                                                device=config.device))
    answers = session.answer([r.question for r in records])
    score = exact_match_scores("scene-llm", records, answers)
    print(f"[6/{STAGES}] scene questions: {len(records)} generated from the room's ground truth, answered by "
          f"the packaged Scene-LLM ({session.tokens.num_tokens} object tokens), {time.perf_counter() - t0:.1f} s")
    shown: set[str] = set()
    for record, answer in zip(records, answers):
        if record.type not in shown:
            shown.add(record.type)
            print(f"      Q: {record.question}\n      {answer_line(answer)}   (expected: {record.answer})")
    per_type = ", ".join(f"{t} {v:.2f}" for t, v in sorted(score.per_type.items()))
    print(f"      exact match {score.overall:.2f} ({per_type})")


def run_demo(config: DemoConfig) -> None:
    """Run every stage on the demo room and print what each produced."""
    start = time.perf_counter()
    _check_encoders(config)
    capture_dir = _generate(config)
    capture = load_capture(capture_dir)
    t0 = time.perf_counter()
    result = fuse_capture(capture, FusionConfig())
    fuse_seconds = time.perf_counter() - t0
    files = save_fusion(result, Run(config.out).fusion)
    preview = write_preview(result, Run(config.out).fusion)
    truth = load_ground_truth(capture_dir)
    report = evaluate_fusion(result, capture, truth)
    found = len(report.objects_seen) - len(report.objects_missing)
    print(
        f"[2/{STAGES}] fusion: {len(result.vertices)} vertices, {len(result.faces)} faces, voxel "
        f"{result.voxel_size * 100:.1f} cm in {fuse_seconds:.1f} s -> {files.mesh_ply}, {files.mesh_glb}, {preview}\n"
        f"      surface error: median {report.accuracy_median * 100:.1f} cm (95%: {report.accuracy_p95 * 100:.1f} cm), "
        f"completeness median {report.completeness_median * 100:.1f} cm; "
        f"{found}/{len(report.objects_seen)} visible instances have fused surface in their ground-truth box"
        + (f" (missing: {', '.join(report.objects_missing)})" if report.objects_missing else "")
    )
    _train(config, capture, result)
    _objects_and_queries(config, capture_dir)
    _ask(config, capture_dir)
    print(f"demo done in {time.perf_counter() - start:.1f} s; outputs in {config.out}")
    print("next:\n"
          f"  lerf3d query {config.out} '{truth.furniture[0].label}' --camera eval:0 --out {config.out / 'queries'}\n"
          f"  lerf3d view {config.out}    # then open http://127.0.0.1:7007\n"
          f"  lerf3d ask {config.out / 'capture'} 'how many chairs are there?'")
