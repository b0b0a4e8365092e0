"""Scene-LLM token cache: pooling a run's tokens afresh (the baseline: what every start of a run did
before) against reading them back from the run's ``tokens.pt`` (what a resumed run does now).

Pools the scene tokens and every frame's egocentric tokens that the training records of the first
``--scenes`` training rooms of a prepared dataset read, with a run's token settings and object names
(segmentation, crops named by the image tower), writes them as a run does, reads them back, and
checks that the tokens read back are the ones pooled.

    python bench/token_cache.py DATASET --run RUN [--scenes 8] [--header]

Prints one markdown table row (header with ``--header``) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

HEADER = ("| rooms | token sets | tokens.pt MB | pool s (baseline) | read back s | ratio |"
          "\n|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="prepared Scene-LLM dataset (lerf3d llm-prepare)")
    parser.add_argument("--run", type=Path, required=True, help="a Scene-LLM run (its config.json and vocabulary.json)")
    parser.add_argument("--scenes", type=int, default=8, help="training rooms to pool")
    parser.add_argument("--header", action="store_true")
    args = parser.parse_args()

    from lerf3d.scene_llm.data.dataset import load_manifest, load_split
    from lerf3d.scene_llm.tokens.cache import load_tokens, save_tokens
    from lerf3d.scene_llm.tokens.prepare import dataset_tokens
    from lerf3d.scene_llm.train.config import SceneLLMConfig
    from lerf3d.scene_llm.train.run_files import load_config, load_run_vocabulary

    cfg = load_config(args.run, SceneLLMConfig)
    labels = load_run_vocabulary(args.run) or []
    scenes = sorted(n for n, e in load_manifest(args.dataset).items() if e.split == "train")[: args.scenes]
    keys = [(scene, None) for scene in scenes]
    keys += [(r.scene, r.frame) for stage in (1, 2) for r in load_split(args.dataset, stage, "train") if r.scene in scenes]
    store = dataset_tokens(args.dataset, scenes, cfg.tokens, lazy=True, labels=labels, template=cfg.bridge.template)
    start = time.perf_counter()
    store.pool(keys)
    pooled_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        path = save_tokens(Path(folder) / "tokens.pt", store.pooled, "bench")
        size_mb = path.stat().st_size / 1e6
        start = time.perf_counter()
        back = load_tokens(path, "bench")
        read_s = time.perf_counter() - start
    assert back is not None and back.keys() == store.pooled.keys()
    for key, tokens in store.pooled.items():
        for field in dataclasses.fields(tokens):
            a, b = getattr(tokens, field.name), getattr(back[key], field.name)
            assert a == b if not isinstance(a, torch.Tensor) else torch.equal(a, b), (key, field.name)
    if args.header:
        print(HEADER)
    print(f"| {len(scenes)} | {len(back)} | {size_mb:.1f} | {pooled_s:.1f} | {read_s:.2f} | {pooled_s / read_s:.0f}x |")


if __name__ == "__main__":
    main()
