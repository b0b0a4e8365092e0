"""Scene-LLM on the CPU: answer latency and tokens/s against text-only generation, the time and
peak memory (RSS) of a stage-2 training step against a stage-1 (projector-only) step, and a stage-2
step under bfloat16 autocast against the same step in float32.

Everything runs in one process on the same LLM: the scene model answers with T scene tokens spliced
in; the baseline is the same LLM answering the same question without them (the text-only method of
``lerf3d llm-eval``). Decoding is forced to ``--new-tokens`` tokens (no early stop) so both generate
the same amount. Peak RSS is sampled every few milliseconds during the step, so it is the step's own
peak, not the process's since start.

    python bench/scene_llm.py --header                          # SmolLM2-135M, demo preset, random projector
    python bench/scene_llm.py --run lerf3d/weights/scene_llm_demo  # the shipped weights

Prints one markdown table row (header with ``--header``) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import threading
import time

import torch

HEADER = (
    "| LLM | threads | scene tokens | answer latency text-only / scene (s) | gen tok/s text-only / scene "
    "| stage-1 step s / peak RSS | stage-2 step s / peak RSS (batch) | stage-2 step s float32 / bf16 autocast |"
    "\n|---|---|---|---|---|---|---|---|"
)
QUESTION = "How many chairs are there in the room?"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakRSS:
    """Largest RSS seen while the block runs (sampled every ``interval`` seconds)."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def synthetic_tokens(count: int, feature_dim: int):
    """``count`` object tokens in a 4 x 3 x 2.6 m room with unit features (and a confidence, which the
    demo weights read)."""
    from lerf3d.scene_llm.tokens.frames import SceneTokens

    g = torch.Generator().manual_seed(0)
    xyz = torch.rand(count, 3, generator=g) * torch.tensor([4.0, 3.0, 1.0]) - torch.tensor([2.0, 1.5, 0.0])
    size = torch.rand(count, 3, generator=g) * 0.5 + 0.2
    features = torch.nn.functional.normalize(torch.randn(count, feature_dim, generator=g), dim=1)
    bounds = torch.tensor([[-2.0, -1.5, 0.0], [2.0, 1.5, 2.6]])
    return SceneTokens(
        xyz, features, torch.rand(count, 3, generator=g), "scene", xyz - size / 2, xyz + size / 2, bounds,
        confidence=torch.rand(count, generator=g),
    )


def timed_answer(model, tokens, new_tokens: int, repeats: int) -> tuple[float, float]:
    """(seconds per answer of ``new_tokens`` forced tokens, prompt included; decoding tokens per
    second after the first token), best of ``repeats``."""
    from lerf3d.scene_llm.model.decode import greedy_decode

    def answer(count: int) -> float:
        start = time.perf_counter()
        spliced = model.prefill([tokens], [QUESTION])
        out = greedy_decode(model.llm, spliced.inputs_embeds, spliced.attention_mask, spliced.position_ids,
                            count, [])
        assert len(out[0]) == count
        return time.perf_counter() - start

    with torch.no_grad():
        first = min(answer(1) for _ in range(repeats))
        total = min(answer(new_tokens) for _ in range(repeats))
    return total, (new_tokens - 1) / max(total - first, 1e-9)


def timed_step(model, stage_cfg, store_tokens, batch_size: int) -> tuple[float, int]:
    """(seconds, peak RSS bytes) of one optimisation step of ``stage_cfg`` (its autocast setting
    included) on ``batch_size`` examples."""
    from lerf3d.scene_llm.model.batch import collate, encode_example
    from lerf3d.scene_llm.train.loop import configure_trainable, make_optimiser

    params = configure_trainable(model, stage_cfg)
    optimiser, _ = make_optimiser(model, params, stage_cfg)
    examples = [
        encode_example(model.tokenizer, QUESTION, "2", model.scene_inputs(store_tokens), 256)
        for _ in range(batch_size)
    ]
    batch = collate(examples, model.tokenizer.pad_token_id)
    model.train()
    best, peak = float("inf"), 0
    for _ in range(2):  # the first step allocates optimiser state: keep the faster
        with PeakRSS() as rss:
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=stage_cfg.autocast == "bfloat16"):
                out = model(batch)
            out.mean.backward()
            optimiser.step()
            optimiser.zero_grad(set_to_none=True)
            best = min(best, time.perf_counter() - start)
        peak = max(peak, rss.peak)
    model.eval()
    return best, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run", default=None, help="a trained run or weights folder (default: demo preset, random projector)"
    )
    parser.add_argument("--tokens", type=int, default=12, help="scene tokens (the demo's rooms give ~10)")
    parser.add_argument(
        "--feature-dim", type=int, default=384, help="feature width without --run (MiniLM: 384)"
    )
    parser.add_argument("--new-tokens", type=int, default=16, help="tokens generated per answer")
    parser.add_argument("--batch-size", type=int, default=8, help="examples per training step")
    parser.add_argument("--repeats", type=int, default=3, help="answers timed per method (best kept)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--header", action="store_true", help="print the table header first")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from lerf3d.scene_llm.train.config import preset

    cfg = preset("demo")
    if args.run:
        from lerf3d.scene_llm.use.load import load_scene_llm

        loaded = load_scene_llm(args.run)
        model, cfg = loaded.model, loaded.config
        feature_dim = model.projector_config.bridge_dim or args.feature_dim
    else:
        from lerf3d.scene_llm.train.loop import build_scene_llm

        cfg = dataclasses.replace(cfg, bridge=dataclasses.replace(cfg.bridge, enabled=False))
        feature_dim = args.feature_dim
        model = build_scene_llm(cfg, feature_dim)
    tokens = synthetic_tokens(args.tokens, feature_dim)
    text_s, text_rate = timed_answer(model, None, args.new_tokens, args.repeats)
    scene_s, scene_rate = timed_answer(model, tokens, args.new_tokens, args.repeats)
    step1_s, step1_rss = timed_step(model, cfg.stage1, tokens, args.batch_size)
    step2_s, step2_rss = timed_step(model, cfg.stage2, tokens, args.batch_size)
    plain, bf16 = (timed_step(model, dataclasses.replace(cfg.stage2, autocast=mode), tokens, args.batch_size)[0]
                   for mode in ("off", "bfloat16"))
    if args.header:
        print(HEADER)
    name = model.llm_name.split("/")[-1].split(":")[-1]
    print(
        f"| {name} | {torch.get_num_threads()} | {tokens.num_tokens} | {text_s:.2f} / {scene_s:.2f} "
        f"| {text_rate:.1f} / {scene_rate:.1f} | {step1_s:.2f} / {step1_rss / 2**20:.0f} MiB "
        f"| {step2_s:.2f} / {step2_rss / 2**20:.0f} MiB ({args.batch_size}) "
        f"| {plain:.2f} / {bf16:.2f} ({plain / bf16:.1f}x) |"
    )


if __name__ == "__main__":
    main()
