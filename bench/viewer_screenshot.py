"""A screenshot of the viewer page for the README, taken by headless Chromium (Playwright).

The scene is a generated room with a field fitted to its ground truth (tests/viewer/gt_scene.py: no towers
or training run needed; the page's title says so); the page is queried for the furniture label
that fills most of one capture view, so the overlay shows on the rendered view and on the points.
``--ckpt RUN --camera FRAME --phrase P`` photographs a trained run instead, and ``--question Q``
asks its scene (the packaged Scene-LLM weights, or ``--llm RUN``) in the chat panel first.

    python bench/viewer_screenshot.py [--room demo] [--out docs/viewer.png]     # ~2-5 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the viewer package beside lerf3d
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "viewer"))  # gt_scene, test scaffolding

from lerf3d.ground_truth import GroundTruth  # noqa: E402
from viewer.config import ViewerConfig  # noqa: E402
from viewer.scene import ViewerScene  # noqa: E402
from viewer.server import make_server, serve_in_thread  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1200, "height": 540}
MIN_VISIBLE_PIXELS = 200
"""A label counts as in view from this many pixels on."""
MAX_BYTES = 300 * 1024
"""The README's image budget."""


def clearest_view(ground_truth: GroundTruth, frames: list[str]) -> tuple[str, str]:
    """(frame, label): the frame that sees the most furniture labels (a view of the room, not a
    close-up), and the label covering most of it."""
    best = (0, 0, frames[0], "chair")
    for name in frames:
        ids = ground_truth.load_mask(name)
        covered = {}
        for obj in ground_truth.furniture:
            same_label = [o.instance_id for o in ground_truth.objects if o.label == obj.label]
            covered[obj.label] = int(np.isin(ids, same_label).sum())
        seen = sum(1 for pixels in covered.values() if pixels > MIN_VISIBLE_PIXELS)
        label = max(covered, key=covered.get)
        best = max(best, (seen, covered[label], name, label))
    return best[2], best[3]


def save_small_png(png: bytes, out: Path) -> int:
    """The screenshot as a 256-colour PNG (a UI with a few gradients: ~3x smaller, no visible loss)."""
    import io

    image = Image.open(io.BytesIO(png)).convert("RGB")
    out.parent.mkdir(parents=True, exist_ok=True)
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette.save(out, optimize=True)
    return out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--room", default="demo", help="data_tools room preset (tiny, demo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=300, help="fitting steps")
    parser.add_argument("--out", type=Path, default=Path("docs/viewer.png"))
    parser.add_argument("--ckpt", type=Path, default=None, help="a trained run instead of a generated room")
    parser.add_argument("--camera", default=None, help="capture frame to show (with --ckpt)")
    parser.add_argument("--phrase", default=None, help="phrase to query (with --ckpt)")
    parser.add_argument("--question", default=None, help="question for the chat panel (with --ckpt)")
    parser.add_argument("--llm", type=Path, default=None, help="Scene-LLM run (default: the packaged one)")
    args = parser.parse_args()
    from gt_scene import FitConfig, GroundTruthSceneConfig, compact_field_config, ground_truth_scene

    from data_tools.config import RoomConfig
    from data_tools.make_room import generate_room

    torch.set_num_threads(1)
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="lerf3d-screenshot-"))
    if args.ckpt is not None:
        from viewer.scene import load_viewer_scene

        if args.camera is None or args.phrase is None:
            raise SystemExit("--ckpt needs --camera FRAME and --phrase P")
        scene = load_viewer_scene(args.ckpt)
        if args.question is not None:
            from dataclasses import replace

            from viewer.chat import load_chat
            from viewer.cli import packaged_llm

            llm = args.llm or packaged_llm()
            if llm is None or scene.capture_root is None:
                raise SystemExit("--question needs a Scene-LLM run (--llm) and the run's capture folder")
            scene = replace(scene, chat=load_chat(llm, scene.capture_root))
        photograph(scene, args.camera, args.phrase, work, args.out, args.question)
        return
    room_config = RoomConfig.preset(args.room, seed=args.seed, cache_dir=work / "models")
    room = generate_room(room_config, work / "room")
    stride = 1 if args.room == "tiny" else 2  # a larger room has plenty of pixels at every other one
    config = GroundTruthSceneConfig(fit=FitConfig(steps=args.steps, pixel_stride=stride),
                                    field_config=compact_field_config(64))
    scene = ground_truth_scene(room.out_dir, config)
    frame, label = clearest_view(scene.ground_truth, [f.name for f in scene.capture.frames])
    print(f"scene ready in {time.perf_counter() - start:.0f} s; querying {label!r} on {frame}", flush=True)
    photograph(scene.viewer, frame, f"{label}, wall", work, args.out)


def photograph(
    scene: ViewerScene, frame: str, phrases: str, work: Path, out: Path, question: str | None = None
) -> None:
    """Serve ``scene``, show ``frame`` with ``phrases`` queried (and ``question`` answered in the
    chat panel), and save the page."""
    from playwright.sync_api import sync_playwright

    first = phrases.split(",")[0].strip()
    server = make_server(scene, ViewerConfig(port=0, outputs_dir=work / "outputs"))
    serve_in_thread(server)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(300_000)
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]")
        page.select_option("#camera-select", frame)
        page.wait_for_selector(f"#view[data-state=still][data-camera={frame}]")
        page.fill("#phrases", phrases)
        page.press("#phrases", "Enter")
        page.wait_for_selector(f'#view[data-state=overlay][data-phrase="{first}"]')
        if question is not None:
            page.fill("#question", question)
            page.press("#question", "Enter")
            page.wait_for_selector("#chat-log .a")
            print(page.inner_text("#chat-log"), flush=True)
        png = page.screenshot()
        browser.close()
    server.shutdown()
    size = save_small_png(png, out)
    print(f"wrote {out} ({size / 1024:.0f} kB)")
    if size > MAX_BYTES:
        raise SystemExit(f"{out} is over {MAX_BYTES // 1024} kB: use a smaller viewport")


if __name__ == "__main__":
    main()
