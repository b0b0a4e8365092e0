"""Configuration of Scene-LLM training (two stages) and its named presets.

Stage 1 aligns the projector on frame captions with the LLM frozen; stage 2 tunes projector + LLM
(full or LoRA) on scene instructions (Scene-LLM, sec. 4). Presets: ``tiny`` (tests: a random
48-wide Llama, a few steps, seconds) and ``demo`` (CPU: SmolLM2-135M, object tokens, a text-fitted
bridge, LoRA, minutes). Vary them with ``dataclasses.replace``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from lerf3d.scene_llm.model.bridge import BridgeConfig
from lerf3d.scene_llm.model.llm import TINY_RANDOM, LLMConfig
from lerf3d.scene_llm.model.projector import ProjectorKind
from lerf3d.scene_llm.model.tiny_llm import TinyLlamaConfig
from lerf3d.scene_llm.tokens.frames import PoolingConfig, TokenEncoding
from lerf3d.scene_llm.tokens.scenes import TokenConfig
from lerf3d.scene_llm.tokens.segments import SegmentConfig

LLMMode = Literal["frozen", "full", "lora"]

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
"""Attention projections of Llama-family models (LoRA paper, Hu et al. 2021, sec. 7.1: adapting the
attention weights suffices)."""


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapters (through PEFT) for stage 2."""

    rank: int = 8
    """Adapter rank r."""
    alpha: float = 16.0
    """Scaling numerator (the update is scaled by alpha / r); 2r is the common choice."""
    dropout: float = 0.0
    """Dropout on the adapter input; 0 keeps runs deterministic."""
    target_modules: tuple[str, ...] = LORA_TARGETS
    """Names of the linear layers that get adapters."""

    def __post_init__(self) -> None:
        if self.rank < 1 or not self.alpha > 0 or not 0 <= self.dropout < 1:
            raise ValueError(f"LoRA needs rank >= 1, alpha > 0, dropout in [0, 1): {self}")
        if not self.target_modules:
            raise ValueError("LoRA target_modules must name at least one layer")


@dataclass(frozen=True)
class StageConfig:
    """One training stage."""

    steps: int = 100
    """Optimisation steps."""
    batch_size: int = 4
    """Examples per step *per process* (the global batch is this times the world size)."""
    projector_lr: float = 1e-3
    """Learning rate of the projector (LLaVA stage 1 uses 1e-3)."""
    llm_lr: float = 2e-4
    """Learning rate of the trained LLM weights (LoRA: 2e-4, LLaVA's LoRA recipe; full: use ~2e-5)."""
    llm_mode: LLMMode = "frozen"
    """frozen (stage 1), full fine-tuning, or lora."""
    lora: LoraSettings = field(default_factory=LoraSettings)
    """Adapter settings when ``llm_mode`` is lora."""
    weight_decay: float = 0.0
    """AdamW weight decay (LLaVA: 0)."""
    warmup_steps: int = 0
    """Linear learning-rate warm-up."""
    max_grad_norm: float = 1.0
    """Gradient clipping (0 disables)."""
    max_length: int = 256
    """Longest text (prompt + answer) in tokens; longer examples are an error."""
    checkpoint_every: int = 50
    """Steps between checkpoints (the last step is always saved)."""
    keep_checkpoints: int = 2
    """Newest resumable checkpoints kept."""

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or self.max_length < 8:
            raise ValueError(f"need steps >= 0, batch_size >= 1, max_length >= 8: {self}")
        if not self.projector_lr > 0 or not self.llm_lr > 0 or self.weight_decay < 0:
            raise ValueError("learning rates must be > 0 and weight_decay >= 0")
        if self.llm_mode not in ("frozen", "full", "lora"):
            raise ValueError(f"llm_mode must be frozen, full or lora, got {self.llm_mode!r}")
        if self.warmup_steps < 0 or self.max_grad_norm < 0:
            raise ValueError("warmup_steps and max_grad_norm must be >= 0")
        if self.checkpoint_every < 1 or self.keep_checkpoints < 1:
            raise ValueError("checkpoint_every and keep_checkpoints must be >= 1")


@dataclass(frozen=True)
class SceneLLMConfig:
    """Everything that decides a Scene-LLM training run."""

    llm: LLMConfig = field(default_factory=LLMConfig)
    """The language model."""
    projector_kind: ProjectorKind = "mlp2x_gelu"
    """Projector architecture."""
    projector_hidden: int = 512
    """Hidden width of the mlp2x_gelu projector."""
    encoding: TokenEncoding = field(default_factory=TokenEncoding)
    """What the projector reads of each token besides its feature (xyz, room-relative position,
    Fourier features, extents, colour)."""
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    """Initialise a feature -> word-embedding bridge in the projector from text (off by default)."""
    tokens: TokenConfig = field(default_factory=TokenConfig)
    """Pooling of scene and frame tokens."""
    stage1: StageConfig = field(default_factory=lambda: StageConfig(steps=200, llm_mode="frozen"))
    """Frame-caption alignment (projector only)."""
    stage2: StageConfig = field(default_factory=lambda: StageConfig(steps=400, llm_mode="lora"))
    """Scene instructions (projector + LLM)."""
    seed: int = 0
    """Seed of parameter initialisation and data order."""
    max_new_tokens: int = 12
    """Answer length cap at evaluation (answers are a word or a number)."""
    identifiers: bool = False
    """Splice an object identifier ``<objK>`` before each scene token (Chat-Scene), so answers and
    ``lerf3d ask --explain`` can name objects. False for runs saved before identifiers existed."""

    def __post_init__(self) -> None:
        if self.stage1.llm_mode != "frozen":
            raise ValueError("stage 1 trains the projector only: stage1.llm_mode must be 'frozen'")
        if self.projector_hidden < 1 or self.max_new_tokens < 1:
            raise ValueError("projector_hidden and max_new_tokens must be >= 1")


PRESETS: dict[str, SceneLLMConfig] = {
    # tests: random tiny Llama, a handful of steps, seconds
    "tiny": SceneLLMConfig(
        llm=LLMConfig(name=TINY_RANDOM, tiny=TinyLlamaConfig(hidden_size=48, num_layers=2)),
        projector_hidden=32,
        tokens=TokenConfig(PoolingConfig(voxel_size=0.3, max_tokens=16),
                           PoolingConfig(voxel_size=0.3, max_tokens=8)),
        stage1=StageConfig(steps=4, batch_size=2, checkpoint_every=2),
        stage2=StageConfig(steps=4, batch_size=2, llm_mode="lora", lora=LoraSettings(rank=4, alpha=8.0),
                           checkpoint_every=2),
    ),
    # CPU demo: SmolLM2-135M, one token per furniture segment (<= 24), the feature -> label bridge with
    # each name spelled over 4 positions, LoRA. Reading the scene starts late: after 450 stage-2 steps
    # the model still gave the same answer with another room's tokens for 82 % of questions (existence
    # and counting at the majority answer); by 750 steps it reads them (existence 0.68, counting 0.60).
    # A segment token carries what the questions ask about: its feature (what), room-relative centre
    # (where), extents (how tall, what is on what); tokens run west to east, so "left of" is also
    # "earlier in the sequence". A room is ~10 tokens + ~70 text tokens: a batch of 8 steps in a few
    # seconds on 2 cores. GPU users raise the steps and batch, and may switch to voxel tokens.
    "demo": SceneLLMConfig(
        projector_hidden=256,
        encoding=TokenEncoding(room_relative=True, fourier_bands=2, extents=True, include_rgb=True),
        bridge=BridgeConfig(enabled=True, kind="labels", slots=4),
        tokens=TokenConfig(mode="segment", segments=SegmentConfig(max_tokens=24)),
        stage1=StageConfig(steps=120, batch_size=8, projector_lr=1e-3, warmup_steps=5, checkpoint_every=20),
        stage2=StageConfig(steps=750, batch_size=8, projector_lr=5e-4, llm_lr=1e-3, llm_mode="lora",
                           lora=LoraSettings(rank=8, alpha=16.0), warmup_steps=10, checkpoint_every=40),
    ),
}
"""Named configurations."""


def preset(name: str, **overrides) -> SceneLLMConfig:
    """A named preset with top-level fields replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown Scene-LLM preset {name!r}; choose one of {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)
