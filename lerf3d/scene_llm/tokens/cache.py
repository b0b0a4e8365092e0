"""A run's pooled tokens on disk, so that a resumed run does not pool its rooms again.

Pooling a segment-token run's rooms (segmentation, each segment named from crops by the image
tower) takes minutes: about 8 on 2 cores for the demo's 64 rooms, repeated by every start of the run
after a crash or a stop. A run writes the tokens it pooled to one file (under a temporary name,
then renamed) with a fingerprint of what made them: the token settings, the names the segments are
named among, lerf3d's version and each scene's features file (size and modification time). A later
start reads them back when the fingerprint matches and pools afresh otherwise; a damaged file is
reported and pooled over, never trusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

import lerf3d
from lerf3d.atomic import atomic_path
from lerf3d.scene_llm.tokens.frames import SceneTokens
from lerf3d.torch_files import UnreadableFileError, load_torch_file

TOKENS_FORMAT = "lerf3d-scene-tokens/1"
"""Tag of a tokens file; bump when its payload changes."""

TokenKey = tuple[str, str | None]
"""(scene, frame): a frame's egocentric tokens, or the scene's own with None."""

_FIELDS = tuple(f.name for f in dataclasses.fields(SceneTokens))


def tokens_fingerprint(settings: Mapping[str, object], files: Mapping[str, Path]) -> str:
    """A digest of what a store's tokens are made from: the ``settings`` that make them (token
    settings, the names segments are named among, as JSON-able values or dataclasses), lerf3d's
    version and the size and modification time of each of ``files`` (the scenes' features)."""
    stats = {name: [Path(path).stat().st_size, Path(path).stat().st_mtime_ns] for name, path in files.items()}
    made_of = {"settings": {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in settings.items()},
               "files": stats, "version": lerf3d.__version__}
    return hashlib.sha256(json.dumps(made_of, sort_keys=True, default=str).encode()).hexdigest()


def save_tokens(path: str | Path, tokens: Mapping[TokenKey, SceneTokens], fingerprint: str) -> Path:
    """Write ``tokens`` and their ``fingerprint`` to ``path`` atomically."""
    entries = [{"scene": scene, "view": frame, "fields": {name: getattr(t, name) for name in _FIELDS}}
               for (scene, frame), t in tokens.items()]
    with atomic_path(path) as tmp:
        torch.save({"format": TOKENS_FORMAT, "fingerprint": fingerprint, "tokens": entries}, tmp)
    return Path(path)


def load_tokens(path: str | Path, fingerprint: str) -> dict[TokenKey, SceneTokens] | None:
    """The tokens saved at ``path`` when they were made as ``fingerprint`` says; None when there is
    no file or it was made otherwise, and (with a warning naming the file) when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = load_torch_file(path, "tokens file")
        if not isinstance(payload, dict) or payload.get("format") != TOKENS_FORMAT:
            raise UnreadableFileError(f"{path} is not a lerf3d tokens file")
        if payload["fingerprint"] != fingerprint:
            return None
        return {(e["scene"], e["view"]): SceneTokens(**e["fields"]) for e in payload["tokens"]}
    except (UnreadableFileError, KeyError, TypeError, ValueError) as err:
        warnings.warn(f"{path}: unreadable tokens file ({err}); pooling the tokens again", stacklevel=2)
        return None
