"""``lerf3d features``: precompute the crop pyramids and DINO maps of a capture into a cache folder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lerf3d.capture import load_capture
from lerf3d.features.extractor import CaptureFeatures, FeatureExtractor, FeatureExtractorConfig
from lerf3d.features.tiling import PyramidConfig
from lerf3d.types import Capture


@dataclass(frozen=True)
class FeaturesRunSummary:
    """What :func:`run_features` did, for the CLI to print."""

    out_dir: Path
    """Cache folder the feature files are in."""
    num_frames: int
    """Frames of the capture."""
    cache_hits: int
    """Feature files that were already there."""
    cache_misses: int
    """Feature files computed now."""
    seconds: float
    """Wall-clock time of the extraction."""
    image_text_encoder: str
    """Name of the encoder behind the pyramids."""
    dense_encoder: str | None
    """Name of the encoder behind the DINO maps."""

    def describe(self) -> str:
        rate = self.num_frames / self.seconds if self.seconds > 0 else float("inf")
        return (
            f"{self.num_frames} frames in {self.seconds:.1f} s ({rate:.2f} img/s): "
            f"{self.cache_misses} feature files computed, {self.cache_hits} from cache, in {self.out_dir} "
            f"[{self.image_text_encoder}, {self.dense_encoder or 'no DINO'}]"
        )


def run_features(
    capture_path: Path | str | Capture,
    out_dir: Path | str,
    image_text_spec: str,
    dense_spec: str | None,
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
    pyramid: PyramidConfig | None = None,
    show_progress: bool = True,
) -> tuple[FeaturesRunSummary, CaptureFeatures]:
    """Build the encoders from their specs, extract every frame's features into ``out_dir``.

    ``dense_spec=None`` skips the DINO maps. Re-running with the same arguments only reads the
    cache; changing an encoder or a pyramid setting computes new files beside the old ones.
    """
    from lerf3d.encoders import registry  # deferred: building an encoder may import open_clip/timm

    capture = capture_path if isinstance(capture_path, Capture) else load_capture(Path(capture_path))
    device = torch.device(device)
    image_text = registry.build_image_text_encoder(image_text_spec, device)
    dense = registry.build_dense_encoder(dense_spec, device) if dense_spec is not None else None
    config = FeatureExtractorConfig(
        pyramid=pyramid or PyramidConfig(), batch_size=batch_size, show_progress=show_progress
    )
    extractor = FeatureExtractor(config, image_text, dense, Path(out_dir), device=device)
    start = time.perf_counter()
    features = extractor.extract(capture)
    summary = FeaturesRunSummary(
        out_dir=Path(out_dir),
        num_frames=len(capture.frames),
        cache_hits=features.cache_hits,
        cache_misses=features.cache_misses,
        seconds=time.perf_counter() - start,
        image_text_encoder=image_text.name,
        dense_encoder=dense.name if dense is not None else None,
    )
    return summary, features
