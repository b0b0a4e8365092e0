"""Batched image augmentations for tower training, in plain torch with an explicit generator.

Every function takes a ``torch.Generator`` so a run is reproducible from its seed, and works on a
whole batch at once (per-sample parameters by broadcasting): on two CPU cores a Python loop over
samples would cost more than the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float

from lerf3d.encoders.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize

LUMA = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights (the grey of torchvision's ``rgb_to_grayscale``)."""
RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))
"""NTSC YIQ transform: a hue shift is a rotation of the (I, Q) chroma plane."""


@dataclass(frozen=True)
class ColorJitterConfig:
    """Random photometric changes (SimCLR/DINO style colour distortion)."""

    brightness: float = 0.4
    """Brightness factor drawn from [1 - b, 1 + b] (DINO: 0.4)."""
    contrast: float = 0.4
    """Contrast factor drawn from [1 - c, 1 + c] (DINO: 0.4)."""
    saturation: float = 0.2
    """Saturation factor drawn from [1 - s, 1 + s] (DINO: 0.2)."""
    hue: float = 0.1
    """Hue shift drawn from [-h, h] turns (DINO: 0.1)."""
    p: float = 0.8
    """Probability of jittering a sample (DINO: 0.8)."""
    grayscale_p: float = 0.2
    """Probability of turning a sample grey (DINO: 0.2)."""


def uniform(n: int, low: float, high: float, gen: torch.Generator) -> Float[torch.Tensor, "n"]:
    return low + (high - low) * torch.rand(n, generator=gen)


def random_boxes(
    n: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    gen: torch.Generator,
) -> Float[torch.Tensor, "n 4"]:
    """Random-resized-crop boxes (x1, y1, x2, y2) in pixels: area share in ``scale``, aspect
    (w / h) log-uniform in ``ratio``, clipped to the image (Inception-style RandomResizedCrop)."""
    area = uniform(n, *scale, gen) * height * width
    aspect = torch.exp(uniform(n, math.log(ratio[0]), math.log(ratio[1]), gen))
    w = torch.sqrt(area * aspect).clamp(max=width)
    h = torch.sqrt(area / aspect).clamp(max=height)
    x1 = torch.rand(n, generator=gen) * (width - w)
    y1 = torch.rand(n, generator=gen) * (height - h)
    return torch.stack([x1, y1, x1 + w, y1 + h], dim=1)


SHRINK_SUPERSAMPLE = 2
"""Bilinear samples per output pixel side, averaged, when crops shrink (DINO's crops of whole
views, up to ~4x): one sample per pixel would alias floor-board textures."""


def crop_resize(
    images: Float[torch.Tensor, "B 3 H W"],
    index: torch.Tensor,
    boxes: Float[torch.Tensor, "n 4"],
    size: int,
    supersample: int = 1,
) -> Float[torch.Tensor, "n 3 S S"]:
    """Crop box ``k`` (x1, y1, x2, y2 in pixels) of image ``index[k]``, resized to ``size`` by
    bilinear sampling; ``supersample`` samples per output pixel side are averaged (1: a box of
    ``size`` pixels on the pixel grid comes back unchanged)."""
    h, w = images.shape[-2:]
    fine = size * supersample
    t = (torch.arange(fine, dtype=images.dtype) + 0.5) / fine  # sample positions in [0, 1] of the box
    xs = boxes[:, 0:1] + t * (boxes[:, 2:3] - boxes[:, 0:1])  # (n, fine) pixel x
    ys = boxes[:, 1:2] + t * (boxes[:, 3:4] - boxes[:, 1:2])  # (n, fine) pixel y
    gx = (2 * xs / w - 1)[:, None, :].expand(-1, fine, -1)  # (n, fine, fine), align_corners=False
    gy = (2 * ys / h - 1)[:, :, None].expand(-1, -1, fine)  # (n, fine, fine)
    grid = torch.stack([gx, gy], dim=-1)  # (n, fine, fine, 2)
    out = F.grid_sample(images[index], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return F.avg_pool2d(out, supersample) if supersample > 1 else out  # (n, 3, size, size)


def hflip(x: Float[torch.Tensor, "B 3 H W"], p: float, gen: torch.Generator) -> Float[torch.Tensor, "B 3 H W"]:
    """Mirror a random ``p`` share of the batch left-right."""
    return mirror(x, torch.rand(x.shape[0], generator=gen) < p)


def mirror(x: Float[torch.Tensor, "B 3 H W"], flips: torch.Tensor) -> Float[torch.Tensor, "B 3 H W"]:
    """Mirror the samples whose ``flips`` entry is true left-right."""
    return torch.where(flips[:, None, None, None], x.flip(-1), x)


def grey(x: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B 1 H W"]:
    w = torch.tensor(LUMA, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def hue_rotation(turns: Float[torch.Tensor, "B"]) -> Float[torch.Tensor, "B 3 3"]:
    """RGB -> RGB matrices that rotate hue by ``turns`` (a full turn = 1) in YIQ space."""
    yiq = torch.tensor(RGB_TO_YIQ, dtype=turns.dtype)
    angle = 2 * math.pi * turns
    rot = torch.zeros(len(turns), 3, 3, dtype=turns.dtype)
    rot[:, 0, 0] = 1.0
    rot[:, 1, 1], rot[:, 1, 2] = torch.cos(angle), -torch.sin(angle)
    rot[:, 2, 1], rot[:, 2, 2] = torch.sin(angle), torch.cos(angle)
    return torch.linalg.inv(yiq) @ rot @ yiq  # (B, 3, 3)


def color_jitter(
    x: Float[torch.Tensor, "B 3 H W"], cfg: ColorJitterConfig, gen: torch.Generator
) -> Float[torch.Tensor, "B 3 H W"]:
    """Brightness, contrast, saturation and hue jitter on a random ``p`` share, then random grey."""
    b = x.shape[0]
    on = (torch.rand(b, generator=gen) < cfg.p).to(x.dtype)

    def factor(amount: float) -> torch.Tensor:
        return (1.0 + on * uniform(b, -amount, amount, gen)).view(b, 1, 1, 1)

    x = (x * factor(cfg.brightness)).clamp(0, 1)
    mean = grey(x).mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * factor(cfg.contrast) + mean).clamp(0, 1)
    g = grey(x)
    x = ((x - g) * factor(cfg.saturation) + g).clamp(0, 1)
    mix = hue_rotation(on * uniform(b, -cfg.hue, cfg.hue, gen))  # (B, 3, 3)
    x = torch.einsum("bij,bjhw->bihw", mix, x).clamp(0, 1)
    to_grey = (torch.rand(b, generator=gen) < cfg.grayscale_p)[:, None, None, None]
    return torch.where(to_grey, grey(x).expand_as(x), x)


def gaussian_blur(
    x: Float[torch.Tensor, "B 3 H W"], p: float, sigma: tuple[float, float], gen: torch.Generator
) -> Float[torch.Tensor, "B 3 H W"]:
    """Blur a random ``p`` share with a 5-tap Gaussian of random sigma (a sigma ~0 is a no-op)."""
    b, c, h, w = x.shape
    s = uniform(b, *sigma, gen)
    s = torch.where(torch.rand(b, generator=gen) < p, s, torch.full_like(s, 1e-3))
    taps = torch.arange(-2, 3, dtype=x.dtype)
    kernel = torch.exp(-(taps[None] ** 2) / (2 * s[:, None] ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*3, 5)
    flat = x.reshape(1, b * c, h, w)  # (1, B*3, H, W): one group per channel of each sample
    flat = F.conv2d(F.pad(flat, (2, 2, 0, 0), mode="replicate"), kernel[:, None, None, :], groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, 2, 2), mode="replicate"), kernel[:, None, :, None], groups=b * c)
    return flat.reshape(b, c, h, w)  # (B, 3, H, W)


def solarize(x: Float[torch.Tensor, "B 3 H W"], p: float, gen: torch.Generator) -> Float[torch.Tensor, "B 3 H W"]:
    """Invert pixels above 0.5 on a random ``p`` share (BYOL/DINO's solarisation)."""
    on = (torch.rand(x.shape[0], generator=gen) < p)[:, None, None, None]
    return torch.where(on & (x >= 0.5), 1.0 - x, x)


def paste_backgrounds(
    crops: torch.Tensor, mattes: torch.Tensor, backgrounds: torch.Tensor, on: torch.Tensor
) -> torch.Tensor:
    """Where ``on`` (B,) is true, the uint8 crop (B, 3, S, S) laid over ``backgrounds`` (B, 3, S, S)
    through its uint8 alpha matte (B, S, S) (255: keep the crop's pixel); elsewhere the crop as it is.
    Cut-and-paste augmentation (Dwibedi et al. 2017): the piece stays, what stood around it goes."""
    alpha = torch.where(on[:, None, None, None], mattes[:, None].float() / 255.0, 1.0)  # (B, 1, S, S)
    mixed = alpha * crops.float() + (1.0 - alpha) * backgrounds.float()
    return mixed.round().clamp(0, 255).to(torch.uint8)


def to_network(x: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B 3 H W"]:
    """[0, 1] images -> the towers' input normalisation (that of ``TinyImageTextEncoder.preprocess``)."""
    return normalize(x, IMAGENET_MEAN, IMAGENET_STD)
