"""Image augmentations (rotations, shifts, scaling) and known "style" transformations.

Every augmentation is a frozen dataclass called as ``aug(x, generator=None)`` on a batch of
square grey-level images of shape ``(n, H, W)`` or ``(n, 1, H, W)``; it returns a batch of the
same shape. Geometric transformations of the whole batch are one call of
:func:`torch.nn.functional.affine_grid` and :func:`~torch.nn.functional.grid_sample` (bilinear,
zero padding, so the black background of digit images is extended), with no Python loop over
images.

:func:`affine` applies *known* per-image parameters, and :func:`style_copies` uses it to build a
"style" probing task: each test image is transformed by every level of a known rotation or shift,
and the level is the label. These are the factors that SimCLR is trained to be invariant to, the
sharpest version of the style attributes of Bizeul, Schölkopf & Allen (2024).

Conventions: a positive angle rotates the image counter-clockwise as displayed by ``imshow``
(row 0 at the top); a positive shift ``(dx, dy)`` moves the content right and down; shifts are
fractions of the image side (``dx = 1/H`` is one pixel). Pixel noise is
:class:`sslbook.data.GaussianNoise` with ``clip=(0, 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import _checks

__all__ = ["affine", "RandomRotation", "RandomShift", "RandomAffine", "style_copies", "STYLES"]

STYLES = ("rotation", "shift_x", "shift_y")


def _images(x: object, name: str = "x", finite: bool = True) -> torch.Tensor:
    _checks.tensor(x, name, ndim=(3, 4), finite=finite)
    if x.ndim == 4 and x.shape[1] != 1:
        raise ValueError(f"{name} must have one channel (shape (n, 1, H, W)), got shape {tuple(x.shape)}")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name} must hold square images, got {x.shape[-2]}x{x.shape[-1]}")
    if x.shape[0] < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name} must hold at least one image of at least one pixel, got shape {tuple(x.shape)}")
    return x


def _per_image(v: object, n: int, name: str, like: torch.Tensor, width: int = 1) -> torch.Tensor:
    """Broadcast a number or a tensor of shape (n,) / (n, width) to float64 on the CPU."""
    if isinstance(v, torch.Tensor):
        _checks.tensor(v, name)
        t = v.detach().to("cpu", torch.float64)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        if not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite, got {v!r}")
        t = torch.tensor(float(v), dtype=torch.float64)
    elif isinstance(v, Sequence) and not isinstance(v, (str, bytes)) and len(v) == width and width > 1:
        t = torch.tensor([float(a) for a in v], dtype=torch.float64)
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be finite, got {v!r}")
    else:
        raise TypeError(f"{name} must be a number or a tensor, got {type(v).__name__}")
    want = (n,) if width == 1 else (n, width)
    try:
        return torch.broadcast_to(t, want)
    except RuntimeError:
        raise ValueError(f"{name} must be a scalar or have shape {want}, got shape {tuple(t.shape)}") from None


def affine(
    x: torch.Tensor,
    angle: float | torch.Tensor = 0.0,
    shift: float | Sequence[float] | torch.Tensor = 0.0,
    scale: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    r"""Rotate, scale and shift every image of a batch by known amounts (one ``grid_sample`` call).

    The output pixel at normalised position :math:`p` is read from the input at
    :math:`R_\alpha^{-1}(p - 2\delta)/s`, where :math:`R_\alpha` rotates by :math:`\alpha`
    counter-clockwise (as displayed), :math:`s` is the scale and :math:`\delta` the shift as a
    fraction of the side (normalised coordinates span 2). Bilinear interpolation, zero padding.

    Parameters
    ----------
    x
        Images, shape ``(n, H, H)`` or ``(n, 1, H, H)``.
    angle
        Rotation in degrees (counter-clockwise): a number or a tensor of shape ``(n,)``.
    shift
        ``(dx, dy)`` as fractions of the side (right and down positive): a number (same shift
        in both directions), a pair, or a tensor of shape ``(n, 2)``.
    scale
        Zoom factor ``> 0`` (``> 1`` enlarges the digit): a number or a tensor of shape ``(n,)``.

    Returns
    -------
    torch.Tensor
        The transformed images, same shape, dtype and device as ``x``.
    """
    _images(x)
    n = x.shape[0]
    a = _per_image(angle, n, "angle", x)
    d = _per_image(shift, n, "shift", x, width=2)
    s = _per_image(scale, n, "scale", x)
    if bool((s <= 0).any()):
        raise ValueError("scale must be > 0")
    a = a * (math.pi / 180.0)
    d = d * 2.0
    c, si = torch.cos(a), torch.sin(a)
    # inverse of the (y-down) counter-clockwise rotation, divided by the scale
    rinv = torch.stack([torch.stack([c, -si], dim=-1), torch.stack([si, c], dim=-1)], dim=-2) / s[:, None, None]
    offset = -(rinv @ d[:, :, None])
    theta = torch.cat([rinv, offset], dim=2).to(device=x.device, dtype=x.dtype)
    img = x if x.ndim == 4 else x[:, None]
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out if x.ndim == 4 else out[:, 0]


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator | None) -> torch.Tensor:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return lo + (hi - lo) * torch.rand(n, generator=generator, dtype=torch.float64)


@dataclass(frozen=True)
class RandomRotation:
    """Rotate each image by an angle drawn uniformly from ``[-max_degrees, max_degrees]``."""

    max_degrees: float

    def __post_init__(self) -> None:
        v = _checks.positive(self.max_degrees, "max_degrees", allow_zero=True)
        if v > 180:
            raise ValueError(f"max_degrees must be <= 180, got {self.max_degrees!r}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _images(x, finite=False)  # affine checks the rest
        m, n = float(self.max_degrees), x.shape[0]
        return affine(x, angle=_uniform(n, -m, m, generator))


@dataclass(frozen=True)
class RandomShift:
    """Shift each image by ``(dx, dy)``, each uniform in ``[-max_fraction, max_fraction]`` of the side."""

    max_fraction: float

    def __post_init__(self) -> None:
        v = _checks.positive(self.max_fraction, "max_fraction", allow_zero=True)
        if v >= 1:
            raise ValueError(f"max_fraction must be < 1 (a full side moves the digit out), got {self.max_fraction!r}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _images(x, finite=False)  # affine checks the rest
        m = float(self.max_fraction)
        n = x.shape[0]
        shift = torch.stack([_uniform(n, -m, m, generator), _uniform(n, -m, m, generator)], dim=1)
        return affine(x, shift=shift)


@dataclass(frozen=True)
class RandomAffine:
    """Random rotation, shift and scale of each image, applied in one ``grid_sample`` call.

    The book's digit augmentation (after the random resized crops of Bizeul et al., with rotations
    instead of vertical flips, which can turn a 6 into a 9) is ``RandomAffine(30, 0.15, (0.9, 1.1))``.

    Parameters
    ----------
    max_degrees
        Angles are uniform in ``[-max_degrees, max_degrees]`` (0 to 180).
    max_shift
        The shifts ``dx`` and ``dy`` are uniform in ``[-max_shift, max_shift]`` (fractions of the
        side, below 1).
    scale
        A pair ``(low, high)``: the zoom factor is uniform in this interval (``0 < low <= high``).
    """

    max_degrees: float = 30.0
    max_shift: float = 0.15
    scale: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self) -> None:
        v = _checks.positive(self.max_degrees, "max_degrees", allow_zero=True)
        if v > 180:
            raise ValueError(f"max_degrees must be <= 180, got {self.max_degrees!r}")
        v = _checks.positive(self.max_shift, "max_shift", allow_zero=True)
        if v >= 1:
            raise ValueError(f"max_shift must be < 1 (a full side moves the digit out), got {self.max_shift!r}")
        if isinstance(self.scale, (str, bytes)) or not isinstance(self.scale, Sequence) or len(self.scale) != 2:
            raise TypeError(f"scale must be a (low, high) pair, got {self.scale!r}")
        lo = _checks.positive(self.scale[0], "scale[0]")
        hi = _checks.positive(self.scale[1], "scale[1]")
        if lo > hi:
            raise ValueError(f"scale must satisfy low <= high, got {self.scale!r}")

    def parameters(self, n: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Draw the parameters for ``n`` images: ``angle`` (n,), ``shift`` (n, 2), ``scale`` (n,)."""
        n = _checks.integer(n, "n", minimum=1)
        m, t = float(self.max_degrees), float(self.max_shift)
        angle = _uniform(n, -m, m, generator)
        shift = torch.stack([_uniform(n, -t, t, generator), _uniform(n, -t, t, generator)], dim=1)
        scale = _uniform(n, float(self.scale[0]), float(self.scale[1]), generator)
        return {"angle": angle, "shift": shift, "scale": scale}

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _images(x, finite=False)  # affine checks the rest
        p = self.parameters(x.shape[0], generator)
        return affine(x, p["angle"], p["shift"], p["scale"])


def style_copies(
    x: torch.Tensor, kind: str, levels: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Apply every level of a known transformation to every image: a "style" probing task.

    Parameters
    ----------
    x
        Images, shape ``(n, H, H)`` or ``(n, 1, H, H)``.
    kind
        ``"rotation"`` (levels in degrees), ``"shift_x"`` or ``"shift_y"`` (levels as fractions
        of the side).
    levels
        At least two distinct values, e.g. ``(-25, 0, 25)``.

    Returns
    -------
    images
        Shape ``(n * len(levels), ...)``: block ``k`` (rows ``k n`` to ``(k+1) n - 1``) holds all
        images transformed by ``levels[k]``.
    style
        Shape ``(n * len(levels),)``, int64: the level index ``k`` of each row (the style label).
    source
        Shape ``(n * len(levels),)``, int64: the index of the original image of each row (use it
        to copy content labels).
    """
    _images(x)
    _checks.choice(kind, "kind", STYLES)
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence) or len(levels) < 2:
        raise ValueError("levels must be a sequence of at least two numbers")
    vals = [float(_checks.array(v, f"levels[{i}]", ndim=0)) for i, v in enumerate(levels)]
    if len(set(vals)) != len(vals):
        raise ValueError(f"levels must be distinct, got {list(levels)}")
    n, k = x.shape[0], len(vals)
    lv = torch.tensor(vals, dtype=torch.float64).repeat_interleave(n)
    xs = x.repeat(k, *([1] * (x.ndim - 1)))
    if kind == "rotation":
        out = affine(xs, angle=lv)
    else:
        zero = torch.zeros_like(lv)
        shift = torch.stack([lv, zero], 1) if kind == "shift_x" else torch.stack([zero, lv], 1)
        out = affine(xs, shift=shift)
    style = torch.arange(k).repeat_interleave(n).to(x.device)
    source = torch.arange(n).repeat(k).to(x.device)
    return out, style, source
