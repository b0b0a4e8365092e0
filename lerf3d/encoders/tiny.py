"""The embedded ``lerf3d:tiny`` towers: small enough to train and run on a laptop CPU.

- Dense tower: a 4-block ViT (patch 8, width 192) trained by DINO self-distillation on renders of
  generated rooms; gives the DINO maps.
- Image-text tower: a small residual CNN (64 px input, ~3.7M parameters; a ViT backbone is an
  option) whose pooled feature is projected into the 384-d space of the frozen all-MiniLM-L6-v2
  text tower (LiT-style: only the image side is trained).

Weights are package data, ``lerf3d/weights/tiny_dense.pt`` and ``tiny_image_text.pt``, written by
``python -m data_tools.train_towers`` through :func:`save_tiny_tower`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import nn

from lerf3d.atomic import atomic_path
from lerf3d.encoders.checkpoints import MissingWeightsError, load_into
from lerf3d.encoders.dense import ViTDenseEncoder
from lerf3d.encoders.minilm import MINILM_DIM, MiniLMTextTower
from lerf3d.encoders.phrase_cache import DEFAULT_PHRASE_CACHE_SIZE, PhraseCache
from lerf3d.encoders.preprocess import IMAGENET_MEAN, IMAGENET_STD, check_images, normalize, resize
from lerf3d.encoders.spec import DIGEST_SEPARATOR, EncoderSpec
from lerf3d.encoders.vit import ViT, ViTConfig
from lerf3d.torch_files import load_torch_file

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
"""Package data folder holding the trained tiny towers."""
TINY_DENSE_FILE = "tiny_dense.pt"
TINY_IMAGE_TEXT_FILE = "tiny_image_text.pt"
TINY_FORMAT = "lerf3d-tiny-tower/1"
"""Format tag stored in every tower file; bump when the payload layout changes."""
TRAIN_COMMAND = "python -m data_tools.train_towers"
TINY_INPUT_SIZE = 64
"""Crop side of the image-text tower (small enough for CPU training on rendered crops)."""
TINY_DENSE_TARGET_SIZE = 128
"""Default longer side for tiny dense maps: a 16-cell grid with patch 8."""
CLIP_INIT_TEMPERATURE = 0.07
"""Initial softmax temperature of the contrastive logits (CLIP paper, Radford et al. 2021, Sec. 2.5)."""


def tiny_dense_vit() -> ViTConfig:
    """Shape of the dense (DINO) tower."""
    return ViTConfig(image_size=TINY_INPUT_SIZE, patch_size=8, embed_dim=192, depth=4, num_heads=3)


def tiny_image_vit() -> ViTConfig:
    """Shape of the optional ViT image backbone (``TinyImageTowerConfig(backbone="vit")``)."""
    return ViTConfig(image_size=TINY_INPUT_SIZE, patch_size=16, embed_dim=192, depth=6, num_heads=3)


@dataclass(frozen=True)
class TinyCNNConfig:
    """Shape of the residual CNN image backbone."""

    image_size: int = TINY_INPUT_SIZE
    """Input side in pixels."""
    widths: tuple[int, ...] = (32, 64, 128, 256, 384)
    """Stem channels (stride 2), then one residual block per further width: stride 2 for all but
    the last, so a 64 px crop ends as a 4x4 grid that is average-pooled."""


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a (projected) shortcut (ResNet, He et al. 2016)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = (
            nn.Identity()
            if c_in == c_out and stride == 1
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: Float[torch.Tensor, "B C H W"]) -> Float[torch.Tensor, "B D h w"]:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + self.shortcut(x))


class TinyCNN(nn.Module):
    """Residual CNN: images -> one pooled feature vector per image."""

    def __init__(self, cfg: TinyCNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.stem = nn.Sequential(nn.Conv2d(3, w[0], 3, 2, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU())
        last = len(w) - 2
        self.stages = nn.Sequential(
            *(ResidualBlock(w[i], w[i + 1], 1 if i == last else 2) for i in range(len(w) - 1))
        )

    @property
    def embed_dim(self) -> int:
        return self.cfg.widths[-1]

    def forward(self, x: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B D"]:
        return self.stages(self.stem(x)).mean(dim=(2, 3))


IMAGE_BACKBONES = ("cnn", "vit")
"""Image backbones of the image-text tower."""


@dataclass(frozen=True)
class TinyImageTowerConfig:
    """Image side of the tiny image-text pair."""

    backbone: str = "cnn"
    """``cnn`` (default: on two CPU cores it reaches a given accuracy in about half the samples of
    the ViT, measured 54 % vs 37 % top-1 on unseen rooms after 32k crops) or ``vit``."""
    cnn: TinyCNNConfig = field(default_factory=TinyCNNConfig)
    """CNN backbone shape."""
    vit: ViTConfig = field(default_factory=tiny_image_vit)
    """ViT backbone shape."""
    embedding_dim: int = MINILM_DIM
    """Output width: that of the frozen text tower it is aligned with."""

    def __post_init__(self) -> None:
        if self.backbone not in IMAGE_BACKBONES:
            raise ValueError(f"backbone must be one of {IMAGE_BACKBONES}, got {self.backbone!r}")

    @property
    def input_size(self) -> int:
        """Side in pixels of the square crops the tower takes."""
        return self.cnn.image_size if self.backbone == "cnn" else self.vit.image_size


class TinyImageTower(nn.Module):
    """Normalised images -> unit-norm embeddings in the text tower's space."""

    def __init__(self, cfg: TinyImageTowerConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or TinyImageTowerConfig()
        if self.cfg.backbone == "cnn":
            self.backbone: nn.Module = TinyCNN(self.cfg.cnn)
            width = self.backbone.embed_dim
        else:
            self.backbone = ViT(self.cfg.vit)
            width = self.cfg.vit.embed_dim
        self.proj = nn.Linear(width, self.cfg.embedding_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / CLIP_INIT_TEMPERATURE)))
        """Learned log inverse temperature for the contrastive loss (unused at inference)."""

    def forward(self, x: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B E"]:
        return F.normalize(self.proj(self.backbone(x)), dim=-1)


def save_tiny_tower(
    tower: ViT | TinyImageTower,
    path: Path,
    meta: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write a tower with its architecture, atomically (a crash never leaves half a file).

    ``dtype`` is the storage type of floating tensors (float16 halves the packaged files); the
    loaders always give float32 modules.
    """
    if isinstance(tower, TinyImageTower):
        kind, config = "image_text", {
            "backbone": tower.cfg.backbone,
            "cnn": asdict(tower.cfg.cnn),
            "vit": asdict(tower.cfg.vit),
            "embedding_dim": tower.cfg.embedding_dim,
        }
    elif isinstance(tower, ViT):
        kind, config = "dense", {"vit": asdict(tower.cfg)}
    else:
        raise TypeError(f"save_tiny_tower takes a ViT or TinyImageTower, got {type(tower).__name__}")
    payload = {
        "format": TINY_FORMAT,
        "kind": kind,
        "config": config,
        "state_dict": {
            k: (v.detach().cpu().to(dtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
            for k, v in tower.state_dict().items()
        },
        "meta": dict(meta or {}),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _read_tower_file(path: Path, kind: str) -> dict:
    if not path.is_file():
        raise MissingWeightsError(
            f"embedded tower weights {path} are missing. Train them with `{TRAIN_COMMAND}` (writes "
            f"lerf3d/weights/tiny_*.pt), pass 'lerf3d:tiny@/folder/with/tiny_towers', or use a real "
            "encoder such as 'openclip:ViT-B-16/laion2b_s34b_b88k'."
        )
    payload = load_torch_file(path, "tiny tower file")
    if not isinstance(payload, dict) or payload.get("format") != TINY_FORMAT:
        raise ValueError(f"{path} is not a lerf3d tiny tower file (expected format {TINY_FORMAT!r})")
    if payload["kind"] != kind:
        raise ValueError(f"{path} holds a {payload['kind']!r} tower, expected {kind!r}")
    state = payload["state_dict"]
    payload["state_dict"] = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    return payload


def load_tiny_dense_tower(path: Path | None = None) -> ViT:
    """The dense tower from ``path`` (default: the packaged ``tiny_dense.pt``)."""
    path = Path(path) if path is not None else WEIGHTS_DIR / TINY_DENSE_FILE
    payload = _read_tower_file(path, "dense")
    with torch.device("meta"):
        tower = ViT(ViTConfig(**payload["config"]["vit"]))
    load_into(tower, payload["state_dict"], source=str(path))
    return tower


def load_tiny_image_tower(path: Path | None = None) -> TinyImageTower:
    """The image side of the image-text pair from ``path`` (default: the packaged file)."""
    path = Path(path) if path is not None else WEIGHTS_DIR / TINY_IMAGE_TEXT_FILE
    payload = _read_tower_file(path, "image_text")
    config = payload["config"]
    cnn = config.get("cnn")
    cfg = TinyImageTowerConfig(
        backbone=config.get("backbone", "vit"),  # files written before the CNN backbone hold a ViT
        cnn=TinyCNNConfig(cnn["image_size"], tuple(cnn["widths"])) if cnn else TinyCNNConfig(),
        vit=ViTConfig(**config["vit"]),
        embedding_dim=config["embedding_dim"],
    )
    with torch.device("meta"):
        tower = TinyImageTower(cfg)
    load_into(tower, payload["state_dict"], source=str(path))
    return tower.eval()  # batch norm must use its running statistics at inference


@lru_cache(maxsize=4)
def shared_text_tower(device: str, dtype: torch.dtype) -> MiniLMTextTower:
    """One frozen MiniLM per (device, dtype) per process: loading it takes seconds and it never changes."""
    return MiniLMTextTower().to(device=device, dtype=dtype)


class TinyImageTextEncoder:
    """ImageTextEncoder of the embedded towers: tiny CNN (or ViT) images, frozen MiniLM phrases."""

    def __init__(
        self,
        name: str,
        image_tower: TinyImageTower,
        text_tower: nn.Module,
        device: torch.device | str,
        dtype: torch.dtype = torch.float32,
        text_cache_size: int = DEFAULT_PHRASE_CACHE_SIZE,
    ) -> None:
        self.name = name
        self.device = torch.device(device)
        self.dtype = dtype
        self.image_tower = image_tower.to(device=self.device, dtype=dtype).eval().requires_grad_(False)
        self.text_tower = text_tower.to(device=self.device, dtype=dtype)
        self.embedding_dim = image_tower.cfg.embedding_dim
        self.input_size = image_tower.cfg.input_size
        self._text_cache = PhraseCache(self._encode_text_uncached, text_cache_size)

    def __repr__(self) -> str:
        return f"TinyImageTextEncoder({self.name!r}, embedding_dim={self.embedding_dim})"

    def preprocess(self, images: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B 3 S S"]:
        """Resize to ``input_size`` and ImageNet-normalise: the training script uses this too."""
        check_images(images, f"{self.name}.encode_image")
        x = resize(images.to(device=self.device, dtype=self.dtype), self.input_size, self.input_size)
        return normalize(x, IMAGENET_MEAN, IMAGENET_STD)

    @torch.no_grad()
    def encode_image(self, images: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B D"]:
        """Unit-norm embeddings of images in [0, 1]."""
        return self.image_tower(self.preprocess(images))

    def encode_text(self, phrases: list[str]) -> Float[torch.Tensor, "P D"]:
        """Unit-norm MiniLM embeddings of phrases (cached per phrase)."""
        return self._text_cache(phrases)

    def _encode_text_uncached(self, phrases: list[str]) -> Float[torch.Tensor, "P D"]:
        return self.text_tower(phrases).to(self.dtype)


def _file_digest(path: Path) -> str:
    """Short content hash of a weight file: retrained towers keep their spec string, and the
    feature cache must not serve features of the old weights under it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _tower_path(spec: EncoderSpec, filename: str) -> Path:
    """``@`` may name a tower file or a folder holding the standard file names."""
    if spec.checkpoint is None:
        return WEIGHTS_DIR / filename
    return spec.checkpoint / filename if spec.checkpoint.is_dir() else spec.checkpoint


def build_tiny_image_text(
    spec: EncoderSpec,
    device: torch.device | str,
    dtype: torch.dtype,
    text_cache_size: int = DEFAULT_PHRASE_CACHE_SIZE,
) -> TinyImageTextEncoder:
    """The embedded image-text encoder (``lerf3d:tiny[@path]``)."""
    path = _tower_path(spec, TINY_IMAGE_TEXT_FILE)
    image_tower = load_tiny_image_tower(path)
    text_tower = shared_text_tower(str(torch.device(device)), dtype)
    name = f"{spec}{DIGEST_SEPARATOR}{_file_digest(path)}"
    return TinyImageTextEncoder(name, image_tower, text_tower, device, dtype, text_cache_size)


def build_tiny_dense(
    spec: EncoderSpec, device: torch.device | str, dtype: torch.dtype, target_size: int | None = None
) -> ViTDenseEncoder:
    """The embedded dense encoder (``lerf3d:tiny[@path]``)."""
    path = _tower_path(spec, TINY_DENSE_FILE)
    tower = load_tiny_dense_tower(path)
    return ViTDenseEncoder(
        name=f"{spec}{DIGEST_SEPARATOR}{_file_digest(path)}",
        backbone=tower,
        patch_size=tower.cfg.patch_size,
        feature_dim=tower.cfg.embed_dim,
        target_size=target_size or TINY_DENSE_TARGET_SIZE,
        device=device,
        dtype=dtype,
    )
