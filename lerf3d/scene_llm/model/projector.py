"""The projector from scene-token features to the LLM's embedding space, and its own checkpoint file.

The projector is saved apart from the LLM so a stage-1 (alignment) projector can be shipped and
loaded on its own; the file carries its config, so loading needs nothing but the path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from lerf3d.atomic import atomic_path
from lerf3d.scene_llm.model.bridge import LabelBridge
from lerf3d.torch_files import load_torch_file

ProjectorKind = Literal["mlp2x_gelu", "linear"]

PROJECTOR_FORMAT_VERSION = 1
"""Bumped when the checkpoint layout changes; loading refuses other versions."""


@dataclass(frozen=True)
class ProjectorConfig:
    """Shape of the projector: scene-token input -> LLM hidden size."""

    d_in: int
    """Input width per token: feature dim + 3 (xyz) (+ 3 rgb); see ``tokens.projector_input_dim``."""
    hidden: int
    """Width of the hidden layer of "mlp2x_gelu" (unused by "linear")."""
    d_llm: int
    """The LLM's hidden size (its token-embedding width)."""
    kind: ProjectorKind = "mlp2x_gelu"
    """"mlp2x_gelu": Linear -> GELU -> Linear (LLaVA-1.5's choice, which Scene-LLM follows);
    "linear": one Linear (LLaVA-1)."""
    bridge_dim: int = 0
    """> 0: add a linear bridge reading the first ``bridge_dim`` inputs (the language feature) to the
    output (:mod:`lerf3d.scene_llm.model.bridge`); 0: none."""
    bridge_labels: int = 0
    """> 0 (with ``bridge_dim``): the bridge is a soft lookup over this many labels
    (:class:`~lerf3d.scene_llm.model.bridge.LabelBridge`) instead of a linear map."""
    slots: int = 1
    """LLM positions per scene token: > 1 (label bridges only) spells each object's name over that
    many positions; the projector then maps (..., d_in) to (..., slots, d_llm) and the MLP's output
    is added to every slot (it carries where the object is and how it looks)."""
    mlp_slot: bool = False
    """With a label bridge: the MLP's output takes a position of its own after the name's slots
    instead of being added to each of them, so the name stays the LLM's own embeddings of its words
    (up to the lookup's softmax); the projector then maps to (..., slots + 1, d_llm)."""

    def __post_init__(self) -> None:
        for name in ("d_in", "hidden", "d_llm"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ProjectorConfig.{name} must be a positive int, got {value!r}")
        if not isinstance(self.bridge_dim, int) or not 0 <= self.bridge_dim <= self.d_in:
            raise ValueError(f"ProjectorConfig.bridge_dim must be an int in [0, d_in], "
                             f"got {self.bridge_dim!r}")
        if not isinstance(self.bridge_labels, int) or self.bridge_labels < 0 or (
                self.bridge_labels and not self.bridge_dim):
            raise ValueError(f"ProjectorConfig.bridge_labels must be an int >= 0, and > 0 only with "
                             f"bridge_dim > 0, got {self.bridge_labels!r}")
        if not isinstance(self.slots, int) or self.slots < 1 or (self.slots > 1 and not self.bridge_labels):
            raise ValueError(f"ProjectorConfig.slots must be an int >= 1, and > 1 only with a label "
                             f"bridge (bridge_labels > 0), got {self.slots!r}")
        if self.mlp_slot and not self.bridge_labels:
            raise ValueError("ProjectorConfig.mlp_slot puts the MLP's output beside a spelled label: it "
                             "needs a label bridge (bridge_labels > 0)")
        if self.kind not in ("mlp2x_gelu", "linear"):
            raise ValueError(f"ProjectorConfig.kind must be 'mlp2x_gelu' or 'linear', got {self.kind!r}")


class BridgedProjector(nn.Module):
    """``mlp(x) + bridge(x[..., :bridge_dim])``: the projector plus a map of the language feature
    alone, initialised from text (:mod:`lerf3d.scene_llm.model.bridge`): linear, or a label lookup.
    ``mlp_slot``: the MLP's output follows the bridge's slots as one more position instead."""

    def __init__(self, mlp: nn.Module, bridge: nn.Linear | LabelBridge, mlp_slot: bool = False) -> None:
        super().__init__()
        self.mlp = mlp
        self.bridge = bridge
        self.mlp_slot = mlp_slot

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bridged = self.bridge(x[..., : self.bridge.in_features])  # (..., H) or (..., K, H)
        own = self.mlp(x)  # (..., H)
        if self.mlp_slot:  # (..., K + 1, H): the name's slots, then the MLP's own position
            named = bridged if bridged.dim() > own.dim() else bridged.unsqueeze(-2)
            return torch.cat([named, own.unsqueeze(-2)], dim=-2)
        return own + bridged if bridged.dim() == own.dim() else own.unsqueeze(-2) + bridged

    def set_bridge(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Start as the given bridge ((F, H) weight, (H,) bias), the MLP's output zeroed so the
        initial projection is exactly the bridge (the MLP learns what features alone do not say)."""
        if not isinstance(self.bridge, nn.Linear):
            raise ValueError("set_bridge fits a linear bridge; this projector has a label bridge (set_labels)")
        with torch.no_grad():
            self.bridge.weight.copy_(weight.T)
            self.bridge.bias.copy_(bias)
        self._zero_mlp_output()

    def set_labels(self, keys: torch.Tensor, values: torch.Tensor, temperature: float) -> None:
        """Start as the label lookup ((V, F) text keys, (V, H) or (V, K, H) LLM embeddings, softmax
        sharpness), the MLP's output zeroed."""
        if not isinstance(self.bridge, LabelBridge):
            raise ValueError("set_labels needs a label bridge (ProjectorConfig.bridge_labels > 0)")
        self.bridge.set_labels(keys, values, temperature)
        self._zero_mlp_output()

    def _zero_mlp_output(self) -> None:
        with torch.no_grad():
            last = [m for m in self.mlp.modules() if isinstance(m, nn.Linear)][-1]
            last.weight.zero_()
            last.bias.zero_()


def build_projector(
    cfg: ProjectorConfig, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> nn.Module:
    """A fresh projector; maps (..., d_in) to (..., d_llm), or (..., slots, d_llm) with
    ``cfg.slots`` > 1. An ``nn.Sequential``, inside a :class:`BridgedProjector` when ``cfg.bridge_dim`` > 0."""
    if cfg.kind == "linear":
        layers: list[nn.Module] = [nn.Linear(cfg.d_in, cfg.d_llm)]
    else:
        layers = [nn.Linear(cfg.d_in, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, cfg.d_llm)]
    module: nn.Module = nn.Sequential(*layers)
    if cfg.bridge_dim:
        bridge = (LabelBridge(cfg.bridge_dim, cfg.bridge_labels, cfg.d_llm, cfg.slots) if cfg.bridge_labels
                  else nn.Linear(cfg.bridge_dim, cfg.d_llm))
        module = BridgedProjector(module, bridge, cfg.mlp_slot)
    return module.to(device=device, dtype=dtype)


def save_projector(module: nn.Module, cfg: ProjectorConfig, path: str | Path) -> None:
    """Write weights + config atomically: a crash mid-write never leaves a truncated file at ``path``."""
    path = Path(path)
    _check_state_dict(module.state_dict(), cfg, source="the module being saved")
    payload = {
        "format_version": PROJECTOR_FORMAT_VERSION,
        "config": dataclasses.asdict(cfg),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_projector(
    path: str | Path,
    expected: ProjectorConfig | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[nn.Module, ProjectorConfig]:
    """The projector saved at ``path`` and its config.

    ``expected``: the config the caller needs (e.g. built from the current LLM's hidden size);
    a different saved config is an error naming both, instead of a shape error deep in a forward.
    """
    path = Path(path)
    payload = load_torch_file(path, "projector checkpoint")
    if not isinstance(payload, dict) or payload.get("format_version") != PROJECTOR_FORMAT_VERSION:
        found = payload.get("format_version") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} is not a lerf3d projector checkpoint (format_version {found!r}, "
                         f"expected {PROJECTOR_FORMAT_VERSION})")
    try:
        cfg = ProjectorConfig(**payload["config"])
    except TypeError as err:
        raise ValueError(f"{path}: unreadable projector config {payload['config']!r}: {err}") from err
    if expected is not None and cfg != expected:
        raise ValueError(f"{path} holds a projector for {cfg}, but {expected} was expected "
                         "(was it trained for another LLM or feature encoder?)")
    _check_state_dict(payload["state_dict"], cfg, source=str(path))
    module = build_projector(cfg)
    module.load_state_dict(payload["state_dict"])
    return module.to(device=device, dtype=dtype), cfg


def _check_state_dict(state: dict[str, torch.Tensor], cfg: ProjectorConfig, source: str) -> None:
    """Raise a ValueError listing every weight whose name or shape disagrees with ``cfg``."""
    with torch.device("meta"):  # shapes only: allocates nothing
        reference = {k: tuple(v.shape) for k, v in build_projector(cfg).state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if found == reference:
        return
    problems = [f"{k}: expected {reference.get(k, 'nothing')}, found {found.get(k, 'nothing')}"
                for k in sorted(set(reference) | set(found)) if reference.get(k) != found.get(k)]
    raise ValueError(f"projector weights in {source} do not match {cfg}: " + "; ".join(problems))
