"""OpenCLIP image-text encoder: local pretrained cache or a local checkpoint, never a download
unless the caller passes ``allow_download=True``."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import nn

from lerf3d.encoders.checkpoints import MissingWeightsError
from lerf3d.encoders.phrase_cache import DEFAULT_PHRASE_CACHE_SIZE, PhraseCache
from lerf3d.encoders.preprocess import CLIP_MEAN, CLIP_STD, check_images, normalize, resize
from lerf3d.encoders.spec import EncoderSpec, EncoderSpecError, unknown_name_error

OPENCLIP_URL_CACHE = "~/.cache/clip"
"""Where open_clip keeps weights it fetched by URL (open_clip 2.32 ``download_pretrained_from_url``)."""


def _import_open_clip():
    try:
        import open_clip
    except ImportError as err:
        raise ImportError("openclip encoders need open_clip_torch: pip install 'lerf3d[encoders]'") from err
    return open_clip


class OpenClipEncoder:
    """ImageTextEncoder over an open_clip CLIP model; preprocessing and unit-norm outputs included."""

    def __init__(
        self,
        name: str,
        model: nn.Module,
        tokenizer,
        device: torch.device | str,
        dtype: torch.dtype = torch.float32,
        mean: tuple[float, ...] = CLIP_MEAN,
        std: tuple[float, ...] = CLIP_STD,
        text_cache_size: int = DEFAULT_PHRASE_CACHE_SIZE,
    ) -> None:
        self.name = name
        self.device = torch.device(device)
        self.dtype = dtype
        self.model = model.to(device=self.device, dtype=dtype).eval().requires_grad_(False)
        self.tokenizer = tokenizer
        size = model.visual.image_size
        self.input_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.embedding_dim = int(model.text_projection.shape[1])
        self.mean, self.std = tuple(mean), tuple(std)
        self._text_cache = PhraseCache(self._encode_text_uncached, text_cache_size)

    def __repr__(self) -> str:
        return f"OpenClipEncoder({self.name!r}, D={self.embedding_dim}, input_size={self.input_size})"

    @torch.no_grad()
    def encode_image(self, images: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B D"]:
        """Unit-norm embeddings of images in [0, 1] (stretched to ``input_size`` squares)."""
        check_images(images, f"{self.name}.encode_image")
        x = resize(images.to(device=self.device, dtype=self.dtype), self.input_size, self.input_size)
        features = self.model.encode_image(normalize(x, self.mean, self.std))
        return F.normalize(features, dim=-1)

    def encode_text(self, phrases: list[str]) -> Float[torch.Tensor, "P D"]:
        """Unit-norm embeddings of phrases (cached per phrase)."""
        return self._text_cache(phrases)

    @torch.no_grad()
    def _encode_text_uncached(self, phrases: list[str]) -> Float[torch.Tensor, "P D"]:
        tokens = self.tokenizer(phrases).to(self.device)
        return F.normalize(self.model.encode_text(tokens), dim=-1)


def cached_pretrained_file(name: str, tag: str) -> Path | None:
    """The local file open_clip would load for ``name``/``tag`` if it is already cached, else None.

    Mirrors the lookup order of open_clip 2.32 ``download_pretrained`` (Hugging Face hub first,
    safetensors before pickles, then the URL cache) without touching the network.
    """
    open_clip = _import_open_clip()
    cfg = open_clip.get_pretrained_cfg(name, tag)
    if cfg.get("file"):
        return Path(cfg["file"]) if Path(cfg["file"]).is_file() else None
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache
        from open_clip.pretrained import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

        repo_id, filename = os.path.split(cfg["hf_hub"])
        filename = filename or HF_WEIGHTS_NAME
        candidates = [filename]
        if filename == HF_WEIGHTS_NAME:
            candidates.insert(0, HF_SAFE_WEIGHTS_NAME)
        elif filename.endswith((".bin", ".pth")):
            candidates.insert(0, filename[:-4] + ".safetensors")
        for candidate in candidates:
            found = try_to_load_from_cache(repo_id, candidate)
            if isinstance(found, str) and Path(found).is_file():
                return Path(found)
    if cfg.get("url"):
        path = Path(OPENCLIP_URL_CACHE).expanduser() / Path(cfg["url"]).name
        if path.is_file():
            return path
    return None


def build_openclip(
    spec: EncoderSpec,
    device: torch.device | str,
    dtype: torch.dtype,
    allow_download: bool = False,
    text_cache_size: int = DEFAULT_PHRASE_CACHE_SIZE,
) -> OpenClipEncoder:
    """An OpenClipEncoder from ``openclip:NAME/TAG`` (local cache) or ``openclip:NAME@checkpoint``."""
    open_clip = _import_open_clip()
    name = spec.name.replace("/", "-")
    if open_clip.get_model_config(name) is None:
        raise unknown_name_error(spec, open_clip.list_models())
    if spec.tag is None and spec.checkpoint is None:
        raise EncoderSpecError(
            f"'{spec}' names no weights: use 'openclip:{name}/TAG' with one of "
            f"{open_clip.list_pretrained_tags_by_model(name)} or 'openclip:{name}@/path/to/checkpoint.pt'"
        )
    pretrained_cfg: dict = {}
    if spec.checkpoint is not None:
        if not spec.checkpoint.is_file():
            raise MissingWeightsError(f"'{spec}': checkpoint {spec.checkpoint} does not exist")
        weights = str(spec.checkpoint)
    else:
        pretrained_cfg = open_clip.get_pretrained_cfg(name, spec.tag)
        if not pretrained_cfg:
            raise EncoderSpecError(
                f"unknown pretrained tag {spec.tag!r} for {name}; valid tags: "
                f"{open_clip.list_pretrained_tags_by_model(name)}"
            )
        cached = cached_pretrained_file(name, spec.tag)
        if cached is None and not allow_download:
            raise MissingWeightsError(
                f"weights for '{spec}' are not in open_clip's local cache. Download them once with internet "
                f"access (open_clip.create_model('{name}', pretrained='{spec.tag}')), pass "
                f"'openclip:{name}@/path/to/checkpoint.pt', or build with allow_download=True."
            )
        weights = str(cached) if cached is not None else spec.tag
    model = open_clip.create_model(
        name, pretrained=weights, force_quick_gelu=bool(pretrained_cfg.get("quick_gelu", False))
    )
    mean = tuple(pretrained_cfg.get("mean") or getattr(model.visual, "image_mean", None) or CLIP_MEAN)
    std = tuple(pretrained_cfg.get("std") or getattr(model.visual, "image_std", None) or CLIP_STD)
    tokenizer = open_clip.get_tokenizer(name)
    return OpenClipEncoder(str(spec), model, tokenizer, device, dtype, mean, std, text_cache_size)
