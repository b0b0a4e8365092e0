"""Configuration of Scene-LLM training (two stages) and its named presets.

Stage 1 aligns the projector on frame captions with the LLM frozen; stage 2 tunes projector + LLM
(full or LoRA) on scene instructions (Scene-LLM, sec. 4). Presets are TOML files in
``lerf3d/configs/scene_llm/`` read by :mod:`lerf3d.typed_config`: ``tiny`` (tests: a random 48-wide
Llama, a few steps, seconds) and ``demo`` (CPU: SmolLM2-135M, object tokens, a text-fitted bridge,
LoRA, minutes). Vary them with ``lerf3d llm-train --set stage2.steps=100`` (any dotted key),
:func:`lerf3d.typed_config.apply_override` or ``dataclasses.replace``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lerf3d import typed_config
from lerf3d.scene_llm.model.bridge import BridgeConfig
from lerf3d.scene_llm.model.hints import check_score_digits
from lerf3d.scene_llm.model.llm import LLMConfig
from lerf3d.scene_llm.model.projector import ProjectorKind
from lerf3d.scene_llm.tokens.frames import TokenEncoding
from lerf3d.scene_llm.tokens.scenes import TokenConfig
from lerf3d.typed_config import CONFIGS_DIR

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


Autocast = Literal["off", "bfloat16"]


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
    """Longest text (prompt + answer) in tokens; a longer first question is an error, a conversation's
    later turns that would pass it are left out."""
    checkpoint_every: int = 50
    """Steps between checkpoints (the last step is always saved)."""
    keep_checkpoints: int = 2
    """Newest resumable checkpoints kept."""
    balance_types: bool = False
    """Draw every question type equally often: each pass repeats a type's records up to the count of
    the largest type (:func:`~lerf3d.scene_llm.train.sampling.type_balanced_pool`), so rare types
    (counting, nearest) get as many steps as existence. False: every record once per pass."""
    turns: int = 1
    """Questions per training sequence: each drawn record leads a conversation with up to
    ``turns`` - 1 other questions about the same scene and frame (:mod:`~lerf3d.scene_llm.train.
    conversations`), the scene spliced once before them all. 1: one question per sequence."""
    vary_wording: float = 0.0
    """Share of the stage's question-answer records whose question is rewritten as people type it
    (:func:`~lerf3d.scene_llm.data.variation.vary_question`: openers, contractions, another name for
    the room, lower case), drawn afresh at every step; 0: the questions as generated. Captions are
    never rewritten."""
    autocast: Autocast = "off"
    """"bfloat16": the forward pass under bfloat16 autocast (matrix products in bfloat16; trained
    weights, gradients, optimiser state and the loss stay float32; frozen linear weights are held in
    bfloat16 for the stage, the values autocast would cast them to: :mod:`.precision`), about twice as
    fast on CPUs with AVX-512 bf16 and on GPUs; "off": float32 throughout."""

    def __post_init__(self) -> None:
        if self.autocast not in ("off", "bfloat16"):
            raise ValueError(f"autocast must be 'off' or 'bfloat16', got {self.autocast!r}")
        if not 0.0 <= self.vary_wording <= 1.0:
            raise ValueError(f"vary_wording is a share in [0, 1], got {self.vary_wording}")
        if self.steps < 0 or self.batch_size < 1 or self.max_length < 8 or self.turns < 1:
            raise ValueError(f"need steps >= 0, batch_size >= 1, max_length >= 8, turns >= 1: {self}")
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
    """Answer length cap at evaluation and for ``lerf3d ask`` (answers are a word or a number; a
    grounded answer names its objects first, about 5 tokens each: 40 leaves room for six)."""
    identifiers: bool = False
    """Splice an object identifier ``<objK>`` before each scene token (Chat-Scene), so answers and
    ``lerf3d ask --explain`` can name objects. False for runs saved before identifiers existed."""
    identifier_tokens: int = 0
    """N > 0: ``<obj0>`` ... ``<obj{N-1}>`` are N new tokens of the LLM with learned embeddings, trained
    in both stages (Chat-Scene's object identifiers; :mod:`~lerf3d.scene_llm.model.identifiers`),
    instead of being spelled as text (SmolLM2 spells ``<obj12>`` in five tokens, in every block and
    link). Set N to at least the most tokens a scene has (``tokens.segments.max_tokens``): later
    identifiers stay spelled. 0: spelled, as runs before this option. Needs ``identifiers``."""
    position_digits: bool = False
    """Write each scene token's position after its projected positions as two digits the LLM reads as
    numbers, x then y tenths of the room (0 the west / south wall, 9 the east / north; for a view's
    egocentric tokens, tenths of +-5 m to the camera's right and down): "where" spelled the way the
    label bridge spells "what" (:func:`~lerf3d.scene_llm.model.splice.position_digits`). Needs
    ``encoding.room_relative``."""
    neighbour_links: bool = False
    """End each scene token's block with ``near <objJ>``, J the token whose box is nearest to its box
    (a scene-graph edge, :mod:`~lerf3d.scene_llm.model.links`), so "what is closest to the bed?" is a
    lookup rather than a comparison of every pair. Needs ``identifiers`` and ``encoding.extents``."""
    neighbour_names: bool = False
    """The link also names its token as the label bridge names it (``near <objJ> desk``, the census's
    names), so the answer to "what is closest to the bed?" is read in the bed's own block instead of
    in J's (the shipped weights find the anchor, then at times name another token than its link's:
    nearest 0.58 where a reading of the same tokens' links scores 0.95). With ``grounded_links`` the
    answer names J without its digits ("<obj1> 3 6 near <obj5>: desk"), a copy of the anchor's block.
    Needs ``neighbour_links`` and a label bridge."""
    wall_links: bool = False
    """Then ``by the north wall``: the side of the room (the scene bounds) each scene token's box is
    nearest, a scene-graph edge to the room's structure (:func:`~lerf3d.scene_llm.model.links.
    nearest_walls`), so "which wall is the bed nearest?" reads the box's own relation instead of
    comparing four gaps from two centre digits (the shipped weights answer it 0.47, quarters 0.73).
    Egocentric tokens get none. Needs ``identifiers`` and ``encoding.wall_gaps``."""
    support_links: bool = False
    """Before the wall link, ``on <objJ>`` (named as ``neighbour_names`` names): J the token a scene
    token stands on, its bottom within a few centimetres of J's top over J's footprint
    (:func:`~lerf3d.scene_llm.model.links.supporting_tokens`), so "is the lamp on top of the desk?"
    is read in the lamp's own block (the shipped weights answer "yes" to most unstacked pairs: on top
    0.72 held-out, 0.59 on the bedroom layout). Egocentric tokens get none. Needs ``identifiers``,
    ``encoding.extents`` and ``encoding.wall_gaps`` (scene tokens are those with walls)."""
    group_by_name: bool = False
    """Lay the scene tokens out grouped by the label bridge's best name for each (all chairs side by
    side, west to east within a name), each still preceded by its own identifier ``<objK>``
    (:func:`~lerf3d.scene_llm.model.splice.name_order`): listing every chair, which counting and
    existence answers do, becomes copying one run of tokens instead of finding every occurrence of a
    word among ~24 blocks. Needs ``identifiers`` and a label bridge (``bridge.kind = "labels"``).
    Off in the presets: with the demo recipe it cost egocentric left/right most of what it had
    learnt from a view's left-to-right order, and counting did not rise (README, Scene LLM)."""

    grounded_answers: bool = False
    """Train stage-2 answers grounded on the objects they rest on: the identifiers of those tokens
    (and, with ``position_digits``, their digits), a colon, then the answer ("<obj2>, <obj7>: 2";
    :mod:`lerf3d.scene_llm.train.grounding`). The model then answers in that form and scoring reads
    the part after the colon. Needs ``identifiers`` and records that carry their objects' boxes."""
    grounded_links: bool = False
    """With grounded answers and scene-graph links: a nearest-object answer names the anchor, then
    its nearest after the link's word, as the anchor's block in the scene reads ("<obj1> 3 6 near
    <obj5> 2 7: desk" instead of "<obj1> 3 6, <obj5> 2 7: desk"), so the model finds the anchor and
    continues copying its block rather than choosing the nearest among all tokens. Needs
    ``grounded_answers`` and ``neighbour_links``. Off in the presets (measured with ``group_by_name``,
    README, Scene LLM: nearest-object answers did not improve)."""
    grounded_lists: bool = True
    """With grounded answers: counting and existence answers list the identifiers of the tokens of
    the asked kind before the answer ("<obj2>, <obj7>: 2"). False: they are the answer alone ("2",
    "no"), so with ``census`` the answer is read off the census line (the asked name and the number
    after it) rather than counted from a list the model writes; ``lerf3d ask --explain`` then names
    the tokens of the kinds the question mentions. Tried once, with the census and ``grounded_links``
    on the shipped recipe: counting rose 0.58 -> 0.67, but location fell 0.64 -> 0.49 and nearest
    0.48 -> 0.28, since the listed answers were the practice at finding tokens by name and plain
    ones taught answers without their tokens (``docs/history.md``)."""
    count_first: bool = False
    """With grounded lists: a count answer writes its number first, then the identifiers it counts
    ("2: <obj2>, <obj7>"; "0: none"), so that with ``census`` the number is copied from the census
    line before the list is written, while the list keeps the practice at finding tokens by name
    (:func:`~lerf3d.scene_llm.data.language.count_first_text`). Existence answers keep their order.
    Tried once with the census on the shipped recipe: counting 0.58 -> 0.72 and overall 0.75 -> 0.76,
    but existence's yes-rate 0.86 -> 0.78 and nearest 0.48 -> 0.43; answers to labels the census
    lacks come out plain ("1", "yes"), as the training records of objects with no token read
    (``docs/history.md``). Off in the presets."""
    drop_ungrounded_lists: bool = False
    """With grounded lists: leave out of stage 2 the scene-frame counting and existence questions
    whose objects the tokens miss (no token lies on one of them, or two share one), instead of
    training them with plain answers ("1", "yes"). Those plain answers teach that a name the census
    or the tokens lack still exists; without them every count and existence answer the model learns
    rests on tokens it lists. Tried once with the census and ``count_first`` on the shipped recipe:
    no answer came out plain any more and existence's no-rate rose 0.92 -> 0.97, but present objects
    with no token are now answered "none: no" (yes-rate 0.77) and counting moved 0.72 -> 0.75, within
    the rooms' draw (``docs/history.md``). Off in the presets."""
    listing_questions: bool = False
    """Add to stage 2's records, for every training room, "list every X" questions answered from the
    tokens' own names: the identifiers of the tokens the label bridge names X, then how many
    (:mod:`~lerf3d.scene_llm.train.listing`), an auxiliary type drawn like the others (with
    ``stage2.balance_types``, as often as each of them). Needs ``grounded_answers`` (its answers
    have their form) and a label bridge. Off in the presets: with the demo recipe counting did not
    rise, existence leant to "no" and nearest-object answers fell (README, Scene LLM)."""
    question_hints: int = 0
    """K > 0: after every question (training and asking alike) write the K scene tokens whose
    language features best match the question's embedding by the features' own text tower, by
    identifier and score ("Matches: <obj3> 31, <obj8> 29"; :mod:`~lerf3d.scene_llm.model.hints`).
    Needs ``identifiers`` and features whose encoder the run records (its text tower is loaded to
    embed the questions). 0: no hints. Off in the presets: with the demo recipe (K = 5) counting
    rose 0.58 -> 0.70 and nearest 0.48 -> 0.63 on the held-out rooms, but egocentric left/right fell
    0.89 -> 0.80 and steps took 1.4x as long (README, Scene LLM)."""
    hint_score_digits: int = 2
    """With ``question_hints``: the digits of each candidate's score after its identifier, 2
    (hundredths, "<obj3> 31"), 1 (tenths, "<obj3> 3") or 0 (the candidates only, "<obj3>"). The
    tokenizer spells a score digit by digit, so two digits take about half the hint's positions (a
    step with 5 candidates 1.55x the time of one without hints with 2 digits, 1.18x with none;
    docs/history.md). With none the demo recipe kept nearest's gain but answered "yes" for most
    absent objects (existence no-rate 0.69): the scores are what says that no candidate matches.
    Tenths behaved as hundredths (count 0.69, egocentric left/right 0.82, yes-rate 0.78) at 7.04 s a
    step against 6.26 with none, so a score's presence, not its precision, sets the trade-off."""
    census: bool = False
    """End the scene block with a census of the tokens' names: each name the label bridge gives some
    token, with how many tokens carry it ("Counts: sofa 1, chair 3."; :mod:`~lerf3d.scene_llm.model.
    census`), so a count or existence question matches its word against one list instead of finding
    every block that spells it. Needs a label bridge (``bridge.kind = "labels"``). On the shipped
    recipe, whose answers list the tokens before counting them, it left counting where it was (0.60
    against 0.58, overall 0.75 both; ``docs/history.md``); ``grounded_lists = false`` answers from it."""

    @property
    def needs_vocabulary(self) -> bool:
        """Whether the run cannot answer without its object names (``vocabulary.json``): its census
        counts them, its links name tokens by them, or its tokens are named by them as objects
        (``tokens.name_objects``)."""
        return self.census or self.neighbour_names or self.tokens.name_objects

    @property
    def layout_options(self) -> dict[str, bool | int]:
        """How ``SceneLLM`` lays the scene tokens out (its keyword arguments of the same names): the
        one place training and loading turn this config into a model."""
        return {"identifiers": self.identifiers, "position_digits": self.position_digits,
                "neighbour_links": self.neighbour_links, "group_by_name": self.group_by_name,
                "question_hints": self.question_hints, "hint_score_digits": self.hint_score_digits,
                "census": self.census, "wall_links": self.wall_links, "neighbour_names": self.neighbour_names,
                "identifier_tokens": self.identifier_tokens, "support_links": self.support_links}

    def __post_init__(self) -> None:
        if self.question_hints < 0 or (self.question_hints and not self.identifiers):
            raise ValueError(f"question_hints name tokens by their identifiers: K >= 0 and, for K > 0, "
                             f"identifiers = true (got {self.question_hints})")
        check_score_digits(self.hint_score_digits, "hint_score_digits")
        if self.identifier_tokens < 0:
            raise ValueError(f"identifier_tokens must be >= 0 (0: identifiers spelled as text), got {self.identifier_tokens}")
        for rule in SWITCH_RULES:
            if getattr(self, rule.switch) and not all(REQUIREMENTS[need][1](self) for need in rule.needs):
                settings = " and ".join(REQUIREMENTS[need][0] for need in rule.needs)
                raise ValueError(f"{rule.switch} {rule.why}: set {settings}")
        if self.stage1.llm_mode != "frozen":
            raise ValueError("stage 1 trains the projector only: stage1.llm_mode must be 'frozen'")
        if self.projector_hidden < 1 or self.max_new_tokens < 1:
            raise ValueError("projector_hidden and max_new_tokens must be >= 1")


REQUIREMENTS: dict[str, tuple[str, Callable[[SceneLLMConfig], bool]]] = {
    "identifiers": ("identifiers = true", lambda c: c.identifiers),
    "extents": ("encoding.extents = true", lambda c: c.encoding.extents),
    "wall_gaps": ("encoding.wall_gaps = true", lambda c: c.encoding.wall_gaps),
    "room_relative": ("encoding.room_relative = true", lambda c: c.encoding.room_relative),
    "labels": ("bridge.enabled with kind = 'labels'", lambda c: c.bridge.uses_labels),
    "grounded_answers": ("grounded_answers = true", lambda c: c.grounded_answers),
    "grounded_lists": ("grounded_lists = true", lambda c: c.grounded_lists),
    "neighbour_links": ("neighbour_links = true", lambda c: c.neighbour_links),
}
"""Settings a switch of :data:`SWITCH_RULES` may need: the words an error names it by, and the test."""


@dataclass(frozen=True)
class SwitchRule:
    """A switch of :class:`SceneLLMConfig` that only works with other settings."""

    switch: str
    """The field the rule is about (a bool, or an int that is on when above 0)."""
    why: str
    """What the switch does with the settings it needs (the error's words after its name)."""
    needs: tuple[str, ...]
    """Keys of :data:`REQUIREMENTS` that must all hold when the switch is on."""


SWITCH_RULES = (
    SwitchRule("grounded_answers", "name objects by their identifiers", ("identifiers",)),
    SwitchRule("neighbour_links", "name each token's nearest by its identifier, from the tokens' corners",
               ("identifiers", "extents")),
    SwitchRule("wall_links", "follow each token's identifier and read its wall gaps", ("identifiers", "wall_gaps")),
    SwitchRule("support_links", "name the token each scene token stands on by its identifier, from the tokens' "
               "corners and (which tokens are the scene's) wall gaps", ("identifiers", "extents", "wall_gaps")),
    SwitchRule("neighbour_names", "name each link's token by the label bridge's names", ("neighbour_links", "labels")),
    SwitchRule("grounded_links", "writes nearest-object answers as the scene-graph link reads",
               ("grounded_answers", "neighbour_links")),
    SwitchRule("group_by_name", "groups tokens by the label bridge's names and keeps their identifiers",
               ("identifiers", "labels")),
    SwitchRule("listing_questions", "are answered in the grounded form from the label bridge's names",
               ("grounded_answers", "labels")),
    SwitchRule("count_first", "reorders grounded count lists", ("grounded_answers", "grounded_lists")),
    SwitchRule("drop_ungrounded_lists", "leaves out counts the grounded lists cannot list",
               ("grounded_answers", "grounded_lists")),
    SwitchRule("identifier_tokens", "are the identifiers' own tokens", ("identifiers",)),
    SwitchRule("census", "counts the label bridge's names", ("labels",)),
    SwitchRule("position_digits", "reads the room-relative coordinates", ("room_relative",)),
)
"""Which switches need which settings, checked in this order when a config is made."""


PRESETS_DIR = CONFIGS_DIR / "scene_llm"
"""The named presets, one TOML file each: ``tiny`` and ``demo`` (package data)."""


def preset_names() -> list[str]:
    """Names of the shipped presets."""
    return typed_config.preset_names(PRESETS_DIR)


def preset(name_or_path: str | Path, **overrides) -> SceneLLMConfig:
    """A named preset (or a ``.toml`` file in the same form) with top-level fields replaced.

    Unknown names, keys and wrong types are :class:`~lerf3d.typed_config.ConfigError` (a ValueError)
    naming the file and key.
    """
    config = typed_config.load_preset(SceneLLMConfig, name_or_path, PRESETS_DIR)
    return dataclasses.replace(config, **overrides)


def shorthand_overrides(
    llm: str | None = None,
    steps1: int | None = None,
    steps2: int | None = None,
    batch_size: int | None = None,
    full: bool = False,
) -> list[str]:
    """``lerf3d llm-train``'s shorthand flags as the ``key=value`` overrides they stand for
    (``--steps1 10`` is ``--set stage1.steps=10``); unset ones give nothing."""
    items = []
    if llm:
        # quoted as a TOML string, so a model id that reads as a number or boolean stays a name
        items.append(f"llm.name={json.dumps(llm)}")
    if steps1 is not None:
        items.append(f"stage1.steps={steps1}")
    if steps2 is not None:
        items.append(f"stage2.steps={steps2}")
    if batch_size is not None:
        items += [f"stage1.batch_size={batch_size}", f"stage2.batch_size={batch_size}"]
    if full:
        items.append("stage2.llm_mode=full")
    return items
