"""Reading encoder weights from local files and local caches, never from the network by default."""

from __future__ import annotations

from pathlib import Path

import torch

from lerf3d.torch_files import load_torch_file

STATE_DICT_WRAPPERS = ("state_dict", "model", "teacher", "module")
"""Keys under which training scripts nest the weights (DINO's full checkpoints use ``teacher``)."""
STATE_DICT_PREFIXES = ("module.", "backbone.")
"""Prefixes added by DistributedDataParallel and by DINO's MultiCropWrapper."""


class MissingWeightsError(FileNotFoundError):
    """An encoder's weights are not on this machine; the message says how to get them."""


def load_weights_file(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.pt``/``.pth``/``.bin``/``.safetensors`` file, unwrapped to a flat state dict.

    Uses ``weights_only`` unpickling: a checkpoint cannot run code when it is read.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError(f"checkpoint {path} does not exist (or is not a file)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    obj = load_torch_file(path, "checkpoint")
    return unwrap_state_dict(obj, source=str(path))


def unwrap_state_dict(obj: object, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Find the tensor dict inside common checkpoint wrappers and strip wrapper prefixes."""
    while isinstance(obj, dict) and not _is_tensor_dict(obj):
        nested = next((obj[k] for k in STATE_DICT_WRAPPERS if isinstance(obj.get(k), dict)), None)
        if nested is None:
            raise ValueError(
                f"{source}: no state dict found; top-level keys are {sorted(map(str, obj))[:20]}"
            )
        obj = nested
    if not isinstance(obj, dict):
        raise ValueError(f"{source}: expected a state dict, got {type(obj).__name__}")
    state = dict(obj)
    for prefix in STATE_DICT_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def _is_tensor_dict(obj: dict) -> bool:
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def torch_hub_cached_file(url: str) -> Path | None:
    """The file ``torch.hub.load_state_dict_from_url(url)`` would have left in the torch hub
    cache (where timm 0.6.7 and the DINO/DINOv2 hub entry points keep weights), if present."""
    candidate = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    return candidate if candidate.is_file() else None


def download_to_torch_hub(url: str) -> Path:
    """Download ``url`` into the torch hub cache (only called when the user allowed downloads)."""
    torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=True)
    cached = torch_hub_cached_file(url)
    if cached is None:
        raise MissingWeightsError(f"download of {url} did not leave a file in {torch.hub.get_dir()}")
    return cached


def load_into(
    module: torch.nn.Module, state: dict[str, torch.Tensor], source: str, ignore: tuple[str, ...] = ()
) -> None:
    """Strictly load ``state`` into ``module`` (keys in ``ignore`` dropped), with an error that
    lists the mismatching keys instead of torch's wall of text.

    The tensors are assigned, not copied, so ``module`` may be built on the meta device: building
    a ViT-B with random init only to overwrite it costs seconds on a small CPU.
    """
    state = {k: v for k, v in state.items() if k not in ignore}
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong_shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        raise ValueError(
            f"{source} does not match the {type(module).__name__} architecture: "
            f"missing {missing[:8]}{'...' if len(missing) > 8 else ''}, "
            f"unexpected {unexpected[:8]}{'...' if len(unexpected) > 8 else ''}, "
            f"wrong shape {[(k, tuple(state[k].shape), tuple(own[k].shape)) for k in wrong_shape[:4]]}"
        )
    module.load_state_dict(state, strict=True, assign=True)
