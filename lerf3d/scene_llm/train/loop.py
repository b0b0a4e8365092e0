"""Two-stage Scene-LLM training, resumable, on one process or many (``torchrun``, DDP).

    lerf3d llm-train DATASET --out RUN [--preset demo | --config FILE.toml] [--set stage2.steps=100]
    torchrun --nproc-per-node 2 -m lerf3d_cli llm-train DATASET --out RUN --preset tiny

DATASET is a folder from ``python -m data_tools.qa_generate`` whose ``features/`` were written by
``lerf3d llm-prepare``. Each step draws a global batch of ``batch_size x world``
examples in a seeded order and gives every process its slice; the loss is the token cross-entropy
summed over the whole global batch divided by its token count, so N processes x B follow the same
loss curve as 1 process x N*B. Re-running the same command resumes from the newest checkpoint.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from lerf3d.preflight import check_output_path, training_device
from lerf3d.runs.layout import CHECKPOINTS_DIR
from lerf3d.scene_llm.data.dataset import MANIFEST_NAME, QARecord, load_manifest, load_split, load_vocabulary
from lerf3d.scene_llm.data.variation import varied_chat
from lerf3d.scene_llm.model.batch import collate, encode_conversation
from lerf3d.scene_llm.model.bridge import bridge_labels, label_bridge_tables, text_bridge
from lerf3d.scene_llm.model.identifiers import (
    IDENTIFIERS_NAME,
    identifier_parameters,
    identifier_state,
    load_identifier_rows,
)
from lerf3d.scene_llm.model.projector import ProjectorConfig, build_projector, load_projector, save_projector
from lerf3d.scene_llm.model.scene_llm import SceneLLM
from lerf3d.scene_llm.tokens.cache import load_tokens, save_tokens, tokens_fingerprint
from lerf3d.scene_llm.tokens.prepare import PREPARE_RECORD, dataset_tokens, load_prepare_config
from lerf3d.scene_llm.tokens.record import FeatureRecord, save_feature_record
from lerf3d.scene_llm.tokens.scenes import FEATURES_DIR, TokenStore
from lerf3d.scene_llm.train.config import SceneLLMConfig, StageConfig, preset, shorthand_overrides
from lerf3d.scene_llm.train.conversations import conversation_groups, conversations
from lerf3d.scene_llm.train.distributed import DistInfo, all_reduce_sum, init_distributed
from lerf3d.scene_llm.train.grounding import ground_records
from lerf3d.scene_llm.train.listing import training_listing_records
from lerf3d.scene_llm.train.precision import autocast_weights
from lerf3d.scene_llm.train.run_files import (
    TOKENS_NAME,
    load_latest_step,
    save_config,
    save_lora,
    save_step,
    save_tensors,
    save_vocabulary,
    stage_dir,
    write_log,
)
from lerf3d.scene_llm.train.sampling import global_indices, type_balanced_pool
from lerf3d.typed_config import apply_overrides


def _check_text_width(width: int, feature_dim: int) -> None:
    if width != feature_dim:
        raise ValueError(f"the text tower embeds at {width}, the scene features are {feature_dim} wide")


def build_scene_llm(cfg: SceneLLMConfig, feature_dim: int, device: torch.device | str = "cpu",
                    encode_text=None, vocabulary: Sequence[str] = ()) -> SceneLLM:
    """The configured LLM with a freshly initialised projector (seeded by ``cfg.seed``); with
    ``cfg.bridge.enabled``, its bridge fitted through ``encode_text``, the text tower of the features'
    encoder (``list[str] -> (P, feature_dim)``), on common words or (``kind="labels"``) on the
    ``vocabulary`` of object names."""
    from lerf3d.scene_llm.model.llm import load_llm

    loaded = load_llm(cfg.llm, device)
    hidden = loaded.model.get_input_embeddings().embedding_dim
    labels = bridge_labels(vocabulary, cfg.bridge) if cfg.bridge.uses_labels else []
    pcfg = ProjectorConfig(cfg.encoding.input_dim(feature_dim), cfg.projector_hidden, hidden,
                           cfg.projector_kind, bridge_dim=feature_dim if cfg.bridge.enabled else 0,
                           bridge_labels=len(labels), slots=cfg.bridge.slots if labels else 1,
                           mlp_slot=bool(labels) and cfg.bridge.mlp_slot)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        projector = build_projector(pcfg, device, loaded.model.dtype)
    if cfg.bridge.enabled:
        if encode_text is None:
            raise ValueError("a projector bridge is fitted through the features' text tower: "
                             "pass encode_text")
        embedding = loaded.model.get_input_embeddings()
        if labels:
            keys, values = label_bridge_tables(encode_text, loaded.tokenizer, embedding, labels, cfg.bridge)
            _check_text_width(keys.shape[1], feature_dim)
            projector.set_labels(keys.to(device), values.to(device), cfg.bridge.temperature)
        else:
            weight, bias = text_bridge(encode_text, loaded.tokenizer, embedding, cfg.bridge)
            _check_text_width(weight.shape[0], feature_dim)
            projector.set_bridge(weight.to(device), bias.to(device))
    return SceneLLM(loaded, projector, pcfg, cfg.encoding, labels=labels, **cfg.layout_options)


def configure_trainable(model: SceneLLM, cfg: StageConfig, seed: int = 0) -> list[nn.Parameter]:
    """Freeze or unfreeze for the stage (wrapping the LLM in LoRA adapters, initialised from ``seed``,
    if asked); returns the trainable LLM parameters. The projector and learned identifier rows
    always train."""
    model.projector.requires_grad_(True)
    if cfg.llm_mode == "lora":
        from peft import LoraConfig, PeftModel, get_peft_model

        if not isinstance(model.llm, PeftModel):
            lora = LoraConfig(r=cfg.lora.rank, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                              target_modules=list(cfg.lora.target_modules), bias="none")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)  # LoRA's A matrices are random: same seed, same run
                model.llm = get_peft_model(model.llm, lora)  # freezes the base weights
    else:
        model.llm.requires_grad_(cfg.llm_mode == "full")
    for rows in identifier_parameters(model.llm):  # learned identifier tokens train in every stage
        rows.requires_grad_(True)
    return [p for p in model.llm.parameters() if p.requires_grad]


def _trainable_state(model: SceneLLM) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu() for n, p in model.llm.named_parameters() if p.requires_grad}


def _save_stage_files(model: SceneLLM, cfg: StageConfig, directory: Path) -> None:
    """The shippable parts: projector alone, learned identifier rows, and the LoRA adapters or full
    LLM weights."""
    save_projector(model.projector, model.projector_config, directory / "projector.pt")
    if identifiers := identifier_state(model.llm):
        save_tensors(directory / IDENTIFIERS_NAME, identifiers)
    if cfg.llm_mode == "lora":
        from peft import get_peft_model_state_dict

        adapters = get_peft_model_state_dict(model.llm, save_embedding_layers=False)
        save_lora(directory / "lora.pt", cfg.lora, adapters)
    elif cfg.llm_mode == "full":
        save_tensors(directory / "llm.pt", model.llm.state_dict())


def _make_batch(model: SceneLLM, chats: list[list[QARecord]], store: TokenStore, max_length: int, device):
    """One sequence per conversation (a lead record and the records that follow it on its tokens)."""
    examples = []
    for chat in chats:
        inputs = model.scene_inputs(store.tokens_for(chat[0].scene, chat[0].frame))
        questions = model.prompt_questions([r.question for r in chat], [inputs] * len(chat))
        examples.append(encode_conversation(model.tokenizer, [(q, r.answer) for q, r in zip(questions, chat)],
                                            inputs, max_length))
    return collate(examples, model.tokenizer.pad_token_id).to(device)


@dataclass(frozen=True)
class StageResult:
    """What a stage did."""

    stage: int
    """1 or 2."""
    history: list[dict[str, float]]
    """Per step: step, loss (global token mean), tokens (global), lr, seconds."""
    resumed_from: int
    """Step the run resumed at (0: a fresh start)."""


def make_optimiser(model: SceneLLM, llm_params: list[nn.Parameter], cfg: StageConfig):
    """AdamW over the projector (its own rate) and the trainable LLM weights, with a linear
    warm-up: the optimiser and scheduler of every training stage and of the training-step benchmark."""
    groups = [{"params": list(model.projector.parameters()), "lr": cfg.projector_lr}]
    if llm_params:
        groups.append({"params": llm_params, "lr": cfg.llm_lr})
    optimiser = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    warmup = cfg.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0)
    return optimiser, scheduler


def _resume(model: SceneLLM, optimiser, scheduler, directory: Path) -> tuple[int, list[dict[str, float]]]:
    """Load the newest step checkpoint of this stage, if any: (step reached, history)."""
    payload = load_latest_step(directory / CHECKPOINTS_DIR)
    if payload is None:
        return 0, []
    model.projector.load_state_dict(payload["projector"])
    missing = set(payload["llm_trainable"]) - {n for n, _ in model.llm.named_parameters()}
    if missing:
        raise ValueError(f"{directory}: checkpoint weights {sorted(missing)[:3]} do not fit this LLM setup")
    model.llm.load_state_dict(payload["llm_trainable"], strict=False)
    optimiser.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    torch.random.set_rng_state(payload["torch_rng"])
    return int(payload["step"]), list(payload["history"])


def _checkpoint(model, optimiser, scheduler, cfg: StageConfig, directory: Path, step: int, history) -> None:
    payload = {"projector": model.projector.state_dict(), "llm_trainable": _trainable_state(model),
               "optimizer": optimiser.state_dict(), "scheduler": scheduler.state_dict(),
               "torch_rng": torch.random.get_rng_state(), "history": history}
    save_step(directory / CHECKPOINTS_DIR, step, payload, cfg.keep_checkpoints)
    _save_stage_files(model, cfg, directory)
    write_log(directory / "log.jsonl", history)


def _step(wrapped: nn.Module, model: SceneLLM, batch, optimiser, scheduler, cfg: StageConfig,
          info: DistInfo) -> tuple[float, int]:
    """One optimisation step on this process's slice; returns the global mean loss and token count."""
    device_type = next(model.projector.parameters()).device.type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=cfg.autocast == "bfloat16"):
        out = wrapped(batch)
    tokens = int(all_reduce_sum(torch.tensor(float(out.num_tokens)), info))
    # DDP averages gradients over processes: scaling by world / global tokens makes that average
    # the gradient of (global loss sum / global tokens), whatever each process's share of tokens
    (out.loss_sum * info.world_size / max(tokens, 1)).backward()
    if cfg.max_grad_norm > 0:
        params = [p for group in optimiser.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
    optimiser.step()
    scheduler.step()
    optimiser.zero_grad(set_to_none=True)
    loss = float(all_reduce_sum(out.loss_sum.detach().float(), info)) / max(tokens, 1)
    return loss, tokens


def train_stage(model: SceneLLM, stage: int, cfg: StageConfig, records: list[QARecord], store: TokenStore,
                run_dir: Path, seed: int, info: DistInfo = DistInfo(), progress: bool = True) -> StageResult:
    """Train one stage for ``cfg.steps`` steps (resuming from ``run_dir/stage<k>`` when it has a
    checkpoint)."""
    if not records:
        raise ValueError(f"stage {stage}: no training records")
    directory = stage_dir(run_dir, stage)
    device = model.llm.get_input_embeddings().weight.device
    llm_params = configure_trainable(model, cfg, seed + stage)
    optimiser, scheduler = make_optimiser(model, llm_params, cfg)
    start, history = _resume(model, optimiser, scheduler, directory)
    model.train()
    # frozen weights held as autocast computes with them, for this stage only (same losses, fewer casts)
    with autocast_weights(model.llm, cfg.autocast == "bfloat16"):
        wrapped: nn.Module = model
        if info.world_size > 1:
            device_ids = [device.index] if device.type == "cuda" else None
            wrapped = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
        bar = tqdm(range(start, cfg.steps), desc=f"stage {stage}", unit="step",
                   disable=not (progress and info.is_main))
        pool = (type_balanced_pool([r.type for r in records], seed + stage) if cfg.balance_types
                else np.arange(len(records)))
        groups, type_counts = conversation_groups(records), Counter(r.type for r in records)
        for step in bar:
            began = time.perf_counter()
            index = global_indices(step, cfg.batch_size * info.world_size, pool, seed + stage)
            first = info.rank * cfg.batch_size
            chats = conversations(index[first : first + cfg.batch_size], first, records, groups, type_counts,
                                  cfg.turns, step, seed + stage)
            worded = [varied_chat([records[i] for i in chat], cfg.vary_wording, (seed + stage, step, first + j))
                      for j, chat in enumerate(chats)]
            batch = _make_batch(model, worded, store, cfg.max_length, device)
            loss, tokens = _step(wrapped, model, batch, optimiser, scheduler, cfg, info)
            history.append({"step": step + 1, "loss": loss, "tokens": tokens,
                            "lr": scheduler.get_last_lr()[0], "seconds": time.perf_counter() - began})
            bar.set_postfix(loss=f"{loss:.3f}")
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                if info.is_main:
                    _checkpoint(model, optimiser, scheduler, cfg, directory, step + 1, history)
                if info.world_size > 1:
                    dist.barrier()
    model.eval()
    return StageResult(stage, history, start)


def _pool_tokens(store: TokenStore, keys: list[tuple[str, str | None]], path: Path, settings: dict,
                 files: dict[str, Path], info: DistInfo, progress: bool) -> None:
    """Pool every token the run reads, taking back those a previous start of the run saved at
    ``path`` when made from the same ``settings`` and ``files`` (:mod:`lerf3d.scene_llm.tokens.cache`),
    and save them for the next start."""
    fingerprint = tokens_fingerprint(settings, {name: f for name, f in files.items() if f.is_file()})
    saved = load_tokens(path, fingerprint) or {}
    store.adopt(saved)
    store.pool(keys, progress=progress and info.is_main)
    if info.is_main and len(store.pooled) > len(saved):
        save_tokens(path, store.pooled, fingerprint)


def train_scene_llm(cfg: SceneLLMConfig, dataset_dir: str | Path, run_dir: str | Path,
                    stages: tuple[int, ...] = (1, 2), info: DistInfo = DistInfo(),
                    device: torch.device | str = "cpu", progress: bool = True) -> list[StageResult]:
    """Run the requested stages; stage 2 starts from stage 1's projector when there is one."""
    dataset_dir, run_dir = Path(dataset_dir), check_output_path(run_dir, folder=True)
    # every input is read and checked before the run folder gets its config
    train_scenes = [n for n, e in load_manifest(dataset_dir).items() if e.split == "train"]
    if not train_scenes:
        raise ValueError(f"{dataset_dir / MANIFEST_NAME}: no scene in the train split")
    records = {stage: load_split(dataset_dir, stage, "train") for stage in stages}
    for stage, stage_records in records.items():
        if not stage_records:
            raise ValueError(f"{dataset_dir / f'stage{stage}_train.jsonl'}: no training records")
    try:
        names = load_vocabulary(dataset_dir)
    except FileNotFoundError:  # hand-made features without ground truth: nothing names their objects
        if cfg.bridge.uses_labels:  # the label bridge is fitted on those names
            raise
        names = []
    run_labels = [*names, *cfg.bridge.extra_labels] if names else []  # what vocabulary.json will list
    store = dataset_tokens(dataset_dir, train_scenes, cfg.tokens, lazy=True, labels=run_labels,
                           template=cfg.bridge.template)
    if info.is_main:
        save_config(run_dir, cfg)
    first = store.points(train_scenes[0])
    feature_dim, source = first.feature_dim, first.source
    del first  # the pool below lets the points go; nothing else may hold them
    # every token the records read, made now; the scenes' points are then let go (tokens are small)
    keys = [(scene, None) for scene in train_scenes]
    keys += [(r.scene, r.frame) for stage_records in records.values() for r in stage_records]
    prepared = dataset_dir / FEATURES_DIR / PREPARE_RECORD
    _pool_tokens(store, keys, run_dir / TOKENS_NAME, {"tokens": cfg.tokens, "labels": run_labels,
                 "template": cfg.bridge.template}, {**store.paths, PREPARE_RECORD: prepared}, info, progress)
    if info.is_main and prepared.is_file():  # hand-made feature sets have no record
        save_feature_record(run_dir, FeatureRecord(load_prepare_config(prepared), source))
    if info.is_main and names:
        save_vocabulary(run_dir, run_labels)
    encode_text = None
    if cfg.bridge.enabled or cfg.question_hints:
        if not prepared.is_file():
            raise ValueError(f"{prepared}: no record of the features' encoder, "
                             "whose text tower the bridge and question hints need")
        from lerf3d.encoders import build_image_text_encoder

        encode_text = build_image_text_encoder(load_prepare_config(prepared).encoder, device).encode_text
    model = build_scene_llm(cfg, feature_dim, device, encode_text,
                            names if cfg.bridge.uses_labels else ())
    model.use_text_tower(encode_text)
    if cfg.grounded_answers and 2 in records:
        asked = len(records[2])
        records[2], grounded = ground_records(records[2], store.scene,
                                              model.token_digits if cfg.position_digits else None,
                                              linked=cfg.grounded_links, listed=cfg.grounded_lists,
                                              count_first=cfg.count_first,
                                              drop_ungrounded_lists=cfg.drop_ungrounded_lists,
                                              named=cfg.neighbour_names)
        if info.is_main:
            print(f"stage 2: {grounded} of {asked} answers grounded on their objects' tokens"
                  + (f", {asked - len(records[2])} ungrounded counting / existence questions left out" if cfg.drop_ungrounded_lists else ""))
    if cfg.listing_questions and 2 in records:
        listing = training_listing_records(model, store, train_scenes, bridge_labels(names, cfg.bridge), cfg.seed)
        records[2] = [*records[2], *listing]
        if info.is_main:
            print(f"stage 2: {len(listing)} listing questions from the tokens' names, {len(train_scenes)} rooms")
    results = []
    for stage in stages:
        stage_cfg = cfg.stage1 if stage == 1 else cfg.stage2
        stage1_projector = stage_dir(run_dir, 1) / "projector.pt"
        if stage == 2 and 1 not in stages and stage1_projector.is_file():
            projector, _ = load_projector(stage1_projector, model.projector_config, device, model.llm.dtype)
            model.projector.load_state_dict(projector.state_dict())
            if model.identifier_tokens:
                load_identifier_rows(model.llm, stage_dir(run_dir, 1) / IDENTIFIERS_NAME)
        result = train_stage(model, stage, stage_cfg, records[stage], store, run_dir, cfg.seed, info, progress)
        results.append(result)
    return results
def config_from_args(args: argparse.Namespace) -> SceneLLMConfig:
    """The preset (or ``--config`` file), then the shorthand flags, then each ``--set``: later wins."""
    shorthands = shorthand_overrides(args.llm, args.steps1, args.steps2, args.batch_size, args.full)
    return apply_overrides(preset(args.config or args.preset), [*shorthands, *args.set])


def run(args: argparse.Namespace) -> int:
    """Train (one process, or this process's share of a ``torchrun`` world) and print each stage."""
    info = init_distributed()
    device = training_device(args.device, info.local_rank)
    try:
        results = train_scene_llm(config_from_args(args), args.dataset, args.out, tuple(args.stages), info,
                                  device, progress=not args.quiet)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if info.is_main:
        for result in results:
            last = result.history[-1] if result.history else {}
            print(f"stage {result.stage}: {len(result.history)} steps (resumed at {result.resumed_from}), "
                  f"final loss {last.get('loss', float('nan')):.4f}")
        print(f"run: {args.out}")
    return 0


