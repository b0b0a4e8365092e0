"""Real spherical-harmonic encoding of unit view directions (the basis tcnn's "SphericalHarmonics" uses)."""

from __future__ import annotations

import torch
from jaxtyping import Float

# Normalisation constants of the real spherical harmonics Y_l^m (standard closed forms,
# e.g. Sloan, "Stupid Spherical Harmonics Tricks", 2008, Appendix A2).
_C0 = 0.28209479177387814  # 1 / (2 sqrt(pi))
_C1 = 0.4886025119029199  # sqrt(3 / (4 pi))
_C2 = (1.0925484305920792, 0.31539156525252005, 0.5462742152960396)
_C3 = (0.5900435899266435, 2.890611442640554, 0.4570457994644658, 0.3731763325901154, 1.445305721320277)
MAX_SH_DEGREE = 4
"""Bands supported: degree d gives d**2 coefficients (nerfacto uses 4, i.e. 16 outputs)."""


def spherical_harmonics(
    directions: Float[torch.Tensor, "N 3"], degree: int = MAX_SH_DEGREE
) -> Float[torch.Tensor, "N C"]:
    """The first ``degree**2`` real SH basis functions at unit directions (x, y, z)."""
    if not 1 <= degree <= MAX_SH_DEGREE:
        raise ValueError(f"spherical harmonics degree must be in [1, {MAX_SH_DEGREE}], got {degree}")
    x, y, z = directions.unbind(-1)
    out = [torch.full_like(x, _C0)]
    if degree > 1:
        out += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree > 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [
            _C2[0] * x * y,
            -_C2[0] * y * z,
            _C2[1] * (3 * zz - 1),
            -_C2[0] * x * z,
            _C2[2] * (xx - yy),
        ]
    if degree > 3:
        out += [
            -_C3[0] * y * (3 * xx - yy),
            _C3[1] * x * y * z,
            -_C3[2] * y * (5 * zz - 1),
            _C3[3] * z * (5 * zz - 3),
            -_C3[2] * x * (5 * zz - 1),
            _C3[4] * z * (xx - yy),
            -_C3[0] * x * (xx - 3 * yy),
        ]
    return torch.stack(out, dim=-1)
