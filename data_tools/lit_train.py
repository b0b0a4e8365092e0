"""LiT alignment of the image-text tower with the frozen MiniLM text tower (Zhai et al. 2022).

"Locked-image tuning" with the roles as in LiT's "Lu" variant turned around: here the *text* side is
locked (the pretrained all-MiniLM-L6-v2) and only the image tower learns. The text embeddings of
every label under a few prompt templates are computed once; a crop's logits are its cosine with
every label text (plus LERF's canonical negatives, never a target) times a learned inverse
temperature, trained with cross-entropy against its dominant-object label.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float
from tqdm import tqdm

from data_tools.dino_train import lr_at, param_groups
from data_tools.tower_augment import (
    ColorJitterConfig,
    color_jitter,
    crop_resize,
    hflip,
    paste_backgrounds,
    random_boxes,
    to_network,
)
from data_tools.tower_data import CropSet
from lerf3d.encoders.tiny import TINY_INPUT_SIZE, TinyImageTower
from lerf3d.encoders.vit import ViT
from lerf3d.query.relevancy import CANONICAL_NEGATIVES

TRAIN_MEMORY_FORMAT = torch.channels_last
"""Layout of the tower and its batches during training: oneDNN's convolutions run about 12 % faster
on this CPU in NHWC than in NCHW (measured, batch 64, forward and backward)."""
CLIP_MAX_LOGIT_SCALE = 100.0
"""Upper clamp of the learned inverse temperature (CLIP, Radford et al. 2021, Sec. 2.5)."""
PROMPT_TEMPLATES = ("{}", "a {}", "a photo of a {}", "a {} in a room", "a rendering of a {}")
"""Text forms a label is trained under; the bare label first, because LERF queries are bare phrases."""


@dataclass(frozen=True)
class LitConfig:
    """Contrastive training of the image tower against fixed label-text embeddings."""

    steps: int = 2000
    """Optimiser steps."""
    batch_size: int = 64
    """Crops per step (64 beat 128 at an equal number of crops seen: the tower is under-trained,
    so more updates count more than larger batches)."""
    lr: float = 1e-3
    """Peak AdamW learning rate (LiT's image-tower rate, with warm-up and cosine decay)."""
    min_lr: float = 1e-5
    """Learning rate at the end of the cosine decay."""
    warmup_fraction: float = 0.05
    """Share of steps with linear warm-up."""
    weight_decay: float = 0.05
    """AdamW weight decay on matrices (not on biases, norms, tokens or the temperature)."""
    init_temperature: float = 0.02
    """Starting softmax temperature. Lower than CLIP's 0.07: the label texts are fixed and close
    ("couch"/"sofa" have cosine 0.86), so telling them apart needs sharp logits from the start,
    and the learned temperature only drifts slowly (0.07 -> 0.054 in 500 steps, measured)."""
    label_smoothing: float = 0.1
    """Cross-entropy label smoothing: many labels are near-synonyms ("chair", "oak chair")."""
    balance_power: float = 0.5
    """Crops are drawn with probability ~ count(model) ** -power over the crops' catalogue models
    (:attr:`CropSet.models`): floor and wall crops are common, and one label's models can be seen
    in eleven rooms or in one. Measured (2000 steps): balancing models rather than labels lifts
    text -> image from 85.5 % to 88.4 % and a rare armchair model from 0 % to 39 %."""
    init_from_dense: bool = False
    """Start a ViT image backbone's shared layers (patch 8 only) from the DINO dense tower; the
    default CNN backbone shares no layer with the dense ViT and starts from random weights."""
    templates: tuple[str, ...] = PROMPT_TEMPLATES
    """Prompt templates; each crop draws one per step."""
    crop_scale: tuple[float, float] = (0.8, 1.0)
    """Area share kept by the random resized crop of a cached crop (tile sizes vary in between).
    Light, as the jitter: at 0.5-1.0 a 3.7M-parameter tower fitted only 73 % of its training crops
    (measured, 2000 steps: 69.1 % top-1 on unseen rooms, 70.9 % with this and the jitter below)."""
    aspect: tuple[float, float] = (3 / 4, 4 / 3)
    """Aspect range of the random resized crop."""
    bf16: bool | None = None
    """Run the tower's forward and backward under bfloat16 autocast; weights, optimiser state and the
    cosine logits stay float32. None: on when the CPU has bfloat16 instructions (:func:`cpu_has_bf16`).
    Measured on this AMD EPYC (AVX512-BF16), 2000 steps: 0.124 against 0.183 s a step, with the same
    unseen-room figures (top-1 75.8 % against 75.3 %, large crops 78.2 % against 77.2 %). A CPU
    without the instructions emulates bfloat16 and is slower, so it is not forced there."""
    attribute_weight: float = 0.0
    """Weight of the attribute losses beside the label loss: crops whose model has a colour or material
    word (rooms of chosen catalogues) also learn to pick it among all such words, each phrased with the
    crop's own label as a user types it ("red chair", "wooden table"; :func:`attribute_table`). 0: off
    (the packaged Blend Swap CC-0 towers, whose rooms record no attributes)."""
    text_to_image_weight: float = 0.0
    """Weight of CLIP's other direction beside the label loss: each label present in the batch, under
    its bare text (how a LERF query is typed), picks its own crops among the batch's crops (softmax
    over the crops, all of that label's crops positive). The label loss only asks each crop to prefer
    its label's text; this one asks each text to prefer its label's crops, which is what a relevancy
    map and the card's text -> image figure read. Uses no random draw, so the batches are those of a
    run without it. 0: off."""
    paste_fraction: float = 0.0
    """Share of the furniture crops of each batch whose surroundings are swapped: the piece's own
    pixels (its instance matte, :attr:`CropSet.masks`) are laid over a room-shell crop drawn from
    all training rooms (floor, wall or ceiling, almost always of another room), so what stood
    around the piece cannot name it. Off in every preset: at 0.5 (5000 steps) unseen rooms scored
    70.3 % against 70.9 % without it, chairs 0 % either way; chairs lacked training rooms, not
    backgrounds (``docs/towers_catalogues.md``). 0: off."""
    jitter: ColorJitterConfig = field(
        default_factory=lambda: ColorJitterConfig(0.1, 0.1, 0.1, 0.01, p=0.5, grayscale_p=0.0)
    )
    """Colour distortion, much milder than DINO's: colour names an object ("red armchair"), and
    renders of one room share their lighting, so there is little photometric variation to cover."""


def cpu_has_bf16() -> bool:
    """True when the CPU reports bfloat16 dot-product instructions (x86 AVX512-BF16 or AMX-BF16, read
    from Linux's /proc/cpuinfo); False elsewhere."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def device_has_bf16(device: str) -> bool:
    """Whether bfloat16 autocast pays on ``device``: :func:`cpu_has_bf16` on the CPU, the GPU's own
    answer on CUDA."""
    if torch.device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16()


def text_table(text_tower, labels: list[str], templates: tuple[str, ...]) -> Float[torch.Tensor, "T C D"]:
    """Unit-norm text embeddings of every (template, label), then the canonical negatives as extra
    classes (same phrase under every template): computed once, the text tower is frozen."""
    phrases = list(labels) + list(CANONICAL_NEGATIVES)  # never a target: the queries' negatives compete in the softmax
    with torch.no_grad():
        rows = [text_tower([t.format(p) if p in labels else p for p in phrases]) for t in templates]
    return torch.stack(rows).float()  # (T, C + negatives, D)


ATTRIBUTE_PHRASE = "{attribute} {label}"
"""How an attribute word is phrased with a label, as a user types it: "red chair", "wooden table"."""


@dataclass(frozen=True, eq=False)
class AttributeTexts:
    """Unit text embeddings of every attribute word phrased with every label (:func:`attribute_table`)."""

    colours: Float[torch.Tensor, "Wc C D"]
    """Colour words x labels."""
    materials: Float[torch.Tensor, "Wm C D"]
    """Material words x labels."""


def attribute_table(text_tower, words: list[str], labels: list[str]) -> Float[torch.Tensor, "W C D"]:
    """Unit-norm text embedding of :data:`ATTRIBUTE_PHRASE` for each (word, label); (0, C, D) without words."""
    phrases = [ATTRIBUTE_PHRASE.format(attribute=w, label=label) for w in words for label in labels]
    if not phrases:
        return torch.zeros(0, len(labels), 0)
    with torch.no_grad():
        emb = F.normalize(text_tower(phrases).float(), dim=-1)
    return emb.reshape(len(words), len(labels), -1)


def attribute_texts(text_tower, colours: list[str], materials: list[str], labels: list[str]) -> AttributeTexts | None:
    """The :class:`AttributeTexts` of a run's colour and material words; None when it has neither."""
    if not colours and not materials:
        return None
    return AttributeTexts(attribute_table(text_tower, colours, labels), attribute_table(text_tower, materials, labels))


def attribute_logits(
    img: Float[torch.Tensor, "B D"], table: Float[torch.Tensor, "W C D"], labels: torch.Tensor
) -> Float[torch.Tensor, "B W"]:
    """Cosine of each image with every attribute word phrased with that image's label ``labels``."""
    return torch.einsum("bd,wbd->bw", img, table[:, labels])


def attribute_loss(
    img: Float[torch.Tensor, "B D"], table: Float[torch.Tensor, "W C D"], labels: torch.Tensor,
    targets: torch.Tensor, scale: torch.Tensor,
) -> torch.Tensor:
    """Cross-entropy of the attribute word over the crops that have one (``targets`` >= 0); 0 when none do."""
    has = targets >= 0
    if not bool(has.any()) or table.shape[0] == 0:
        return img.new_zeros(())
    return F.cross_entropy(attribute_logits(img[has], table, labels[has]) * scale, targets[has])


def init_from_dense(tower: TinyImageTower, dense: ViT) -> int:
    """Copy every backbone tensor the dense tower has with the same name and shape; returns how many."""
    own = tower.backbone.state_dict()
    shared = {k: v for k, v in dense.state_dict().items() if k in own and own[k].shape == v.shape}
    tower.backbone.load_state_dict(shared, strict=False)
    return len(shared)


def augment_crops(
    crops: torch.Tensor, cfg: LitConfig, gen: torch.Generator
) -> Float[torch.Tensor, "B 3 S S"]:
    """Random resized crop, flip and colour jitter of uint8 crops, normalised for the tower."""
    x = crops.float() / 255.0
    n, _, h, w = x.shape
    boxes = random_boxes(n, h, w, cfg.crop_scale, cfg.aspect, gen)
    x = crop_resize(x, torch.arange(n), boxes, TINY_INPUT_SIZE)
    return to_network(color_jitter(hflip(x, 0.5, gen), cfg.jitter, gen))


def sample_weights(groups: torch.Tensor, power: float) -> torch.Tensor:
    """Per-crop sampling weight ~ count(group) ** -power (``groups``: (N,) int64 ids >= 0)."""
    counts = torch.bincount(groups).float()
    return counts[groups] ** -power


@dataclass(frozen=True, eq=False)
class LitResult:
    """What :func:`train_lit` returns."""

    tower: TinyImageTower
    """The trained image tower (eval mode)."""
    losses: list[float]
    """Loss per step."""
    accuracies: list[float]
    """Top-1 training accuracy per step (augmented crops, the step's templates)."""
    init_tensors: int
    """Backbone tensors initialised from the dense tower."""
    bf16: bool
    """Whether the tower ran under bfloat16 autocast."""
    seconds: float
    """Wall time of training."""


def tower_embeddings(tower: TinyImageTower, x: torch.Tensor, bf16: bool = False) -> Float[torch.Tensor, "B D"]:
    """Unit image embeddings of a batch; with ``bf16`` the tower runs under bfloat16 autocast and the
    embeddings come back float32."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        img = tower(x)  # (B, D) unit norm
    return F.normalize(img.float(), dim=-1) if bf16 else img  # unit norm to float32 precision


def logit_scale(tower: TinyImageTower) -> torch.Tensor:
    """The tower's learned inverse temperature, clamped as CLIP clamps it."""
    return tower.logit_scale.exp().clamp(max=CLIP_MAX_LOGIT_SCALE)


def label_logits(img: Float[torch.Tensor, "B D"], texts: torch.Tensor, gen: torch.Generator) -> Float[torch.Tensor, "B C"]:
    """Cosines of each image with every class text, each image under a random template."""
    template = torch.randint(texts.shape[0], (img.shape[0],), generator=gen).to(texts.device)
    return torch.einsum("bd,bcd->bc", img, texts[template])  # (B, C)


def text_to_image_loss(img: Float[torch.Tensor, "B D"], texts: Float[torch.Tensor, "C D"],
                       target: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mean over the labels in the batch of -log(the softmax mass its text puts on its own crops),
    the softmax running over the batch's crops (multi-positive InfoNCE, text -> image)."""
    labels, inverse = torch.unique(target, return_inverse=True)  # (L,), (B,)
    log_p = (texts[labels] @ img.T * scale).log_softmax(dim=1)  # (L, B)
    own = inverse[None, :] == torch.arange(len(labels), device=target.device)[:, None]  # (L, B)
    return -torch.logsumexp(log_p.masked_fill(~own, float("-inf")), dim=1).mean()


def lit_step_logits(
    tower: TinyImageTower, x: torch.Tensor, texts: torch.Tensor, gen: torch.Generator, bf16: bool = False
) -> Float[torch.Tensor, "B C"]:
    """Scaled cosines of a batch with every class text, each crop under a random template; with
    ``bf16`` the tower runs under bfloat16 autocast and the cosines are taken in float32."""
    return label_logits(tower_embeddings(tower, x, bf16), texts, gen) * logit_scale(tower)


def batch_crops(
    crops: CropSet, idx: torch.Tensor, shell: torch.Tensor | None, cfg: LitConfig, gen: torch.Generator
) -> torch.Tensor:
    """The uint8 crops ``idx`` of a step; with ``cfg.paste_fraction`` > 0, that share of the ones not
    in ``shell`` (indices of room-shell crops) laid over random shell crops (:func:`paste_backgrounds`)."""
    images = crops.images[idx]
    if cfg.paste_fraction <= 0 or shell is None:
        return images
    n = len(idx)
    on = ~torch.isin(idx, shell) & (torch.rand(n, generator=gen) < cfg.paste_fraction)
    under = shell[torch.randint(len(shell), (n,), generator=gen)]
    return paste_backgrounds(images, crops.masks[idx], crops.images[under], on)


def train_lit(
    crops: CropSet, texts: torch.Tensor, cfg: LitConfig, seed: int, dense: ViT | None = None,
    attributes: AttributeTexts | None = None, device: str = "cpu", shell: torch.Tensor | None = None,
) -> LitResult:
    """Train an image tower on labelled crops against ``texts`` (T, C, D) from :func:`text_table`;
    with ``attributes`` and ``cfg.attribute_weight`` > 0, also on the crops' colour and material words;
    with ``cfg.paste_fraction`` > 0, pasting furniture over the crops ``shell`` (indices of floor,
    wall and ceiling crops). On another ``device`` only the network runs there: sampling and
    augmentation stay on the CPU with the seeded generator, and the tower comes back on the CPU."""
    if cfg.attribute_weight > 0 and attributes is None:
        raise ValueError("LitConfig.attribute_weight > 0 needs the attribute texts (rooms of chosen catalogues)")
    if cfg.paste_fraction > 0 and (shell is None or len(shell) == 0 or crops.masks is None):
        raise ValueError("LitConfig.paste_fraction > 0 needs crops cut with their instance mattes and "
                         "at least one room-shell crop to paste over")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    tower = TinyImageTower().to(device=device, memory_format=TRAIN_MEMORY_FORMAT)
    texts = texts.to(device)
    if attributes is not None:
        attributes = AttributeTexts(attributes.colours.to(device), attributes.materials.to(device))
    with torch.no_grad():
        tower.logit_scale.fill_(math.log(1.0 / cfg.init_temperature))
    n_init = init_from_dense(tower, dense) if (dense is not None and cfg.init_from_dense) else 0
    # param_groups puts the 0-d logit_scale with the biases: the temperature is not decayed
    opt = torch.optim.AdamW(param_groups(tower), lr=cfg.lr, weight_decay=cfg.weight_decay)
    weights = sample_weights(crops.models, cfg.balance_power)
    bf16 = device_has_bf16(device) if cfg.bf16 is None else cfg.bf16
    losses, accs, start = [], [], time.perf_counter()
    bar = tqdm(range(cfg.steps), desc="LiT image-text tower", mininterval=5.0)
    tower.train()
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.steps, cfg.lr, cfg.min_lr, cfg.warmup_fraction)
        idx = torch.multinomial(weights, cfg.batch_size, replacement=True, generator=gen)
        x = augment_crops(batch_crops(crops, idx, shell, cfg, gen), cfg, gen).to(device).contiguous(memory_format=TRAIN_MEMORY_FORMAT)
        target = crops.labels[idx].to(device)
        img, scale = tower_embeddings(tower, x, bf16), logit_scale(tower)
        logits = label_logits(img, texts, gen) * scale
        loss = F.cross_entropy(logits, target, label_smoothing=cfg.label_smoothing)
        if cfg.text_to_image_weight > 0:
            loss = loss + cfg.text_to_image_weight * text_to_image_loss(img, texts[0], target, scale)
        if attributes is not None and cfg.attribute_weight > 0:
            loss = loss + cfg.attribute_weight * (
                attribute_loss(img, attributes.colours, target, crops.colours[idx].to(device), scale)
                + attribute_loss(img, attributes.materials, target, crops.materials[idx].to(device), scale))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        accs.append(float((logits.argmax(dim=1) == target).float().mean()))
        if step % 20 == 0 or step == cfg.steps - 1:
            recent = sum(accs[-50:]) / len(accs[-50:])
            bar.set_postfix(loss=f"{losses[-1]:.3f}", acc=f"{recent:.3f}", T=f"{1 / tower.logit_scale.exp().item():.4f}")
    return LitResult(tower.cpu().eval(), losses, accs, n_init, bf16, time.perf_counter() - start)


def temperature(tower: TinyImageTower) -> float:
    """The learned softmax temperature."""
    return float(math.exp(-tower.logit_scale.item()))
