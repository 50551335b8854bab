"""Augmentations as named, parametrised callables, and a two-view wrapper.

An augmentation maps a batch ``x`` of shape ``(n, ...)`` to a randomly transformed batch of the
same shape; it takes an optional ``torch.Generator`` so a chapter can make its views
reproducible. :class:`TwoViews` draws two independent augmentations of the same batch: row ``i``
of both outputs is a positive pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .. import _checks

__all__ = ["Augmentation", "GaussianNoise", "RandomMask", "Compose", "TwoViews"]

Augmentation = Callable[..., torch.Tensor]


def _batch(x: torch.Tensor) -> torch.Tensor:
    _checks.tensor(x, "x", ndim=(2, 3, 4))
    return x


@dataclass(frozen=True)
class GaussianNoise:
    """Add i.i.d. ``N(0, std^2)`` noise to every entry, and optionally clip the result.

    The package's one way to draw a noisy view; ``TwoViews(GaussianNoise(rho))`` gives a positive
    pair per row. Calling it on a batch ``x`` of shape ``(n, ...)`` (2 to 4 dimensions) returns a
    new batch of the same shape. The noise is drawn on the generator's device (the CPU when
    ``generator`` is ``None``) and moved to ``x``'s.

    Parameters
    ----------
    std
        Standard deviation of the noise, ``>= 0`` (0 returns a copy and draws nothing).
    clip
        ``None``, or a range ``(low, high)`` with ``low < high`` that the result is clipped to;
        ``(0, 1)`` keeps the grey levels of images valid targets of a Bernoulli decoder.
    """

    std: float
    clip: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        _checks.positive(self.std, "std", allow_zero=True)
        if self.clip is not None:
            if isinstance(self.clip, (str, bytes, bool)) or not isinstance(self.clip, Sequence) or len(self.clip) != 2:
                raise TypeError(f"clip must be None or a pair (low, high), got {self.clip!r}")
            low, high = _checks.real(self.clip[0], "clip[0]"), _checks.real(self.clip[1], "clip[1]")
            if not low < high:
                raise ValueError(f"clip must have low < high, got {self.clip!r}")
            object.__setattr__(self, "clip", (low, high))

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _batch(x)
        if self.std == 0:
            out = x.clone()
        else:
            where = "cpu" if generator is None else generator.device
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=where).to(x.device)
            out = x + self.std * noise
        return out if self.clip is None else out.clamp(*self.clip)


@dataclass(frozen=True)
class RandomMask:
    """Set each feature to zero independently with probability ``p`` (0 <= p < 1)."""

    p: float

    def __post_init__(self) -> None:
        p = _checks.probability(self.p, "p")
        if p >= 1:
            raise ValueError(f"p must be < 1 (p = 1 erases the input), got {self.p!r}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _batch(x)
        keep = torch.rand(x.shape, generator=generator, device="cpu").to(x.device) >= self.p
        return x * keep


class Compose:
    """Apply augmentations in order: ``Compose([GaussianNoise(0.1), RandomMask(0.2)])``."""

    def __init__(self, transforms: Sequence[Augmentation]) -> None:
        if isinstance(transforms, (str, bytes)) or not isinstance(transforms, Sequence) or not transforms:
            raise TypeError("transforms must be a non-empty sequence of callables")
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"transforms[{i}] must be callable, got {type(t).__name__}")
        self.transforms = list(transforms)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for t in self.transforms:
            x = t(x, generator=generator)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class TwoViews:
    """Two independent draws of ``transform`` on the same batch (a positive pair per row).

    The package's one way to get two views. ``TwoViews(t)(x, generator)`` applies ``t`` once, to
    the batch stacked on itself (``torch.cat([x, x])``), and splits the result: rows ``:n`` are the
    first views, rows ``n:`` the second. This draws both views in one call, and requires ``t`` to
    treat the rows independently, as every augmentation of :mod:`sslbook.data` does. ``x`` may also
    be a stack ``(r, n, d)`` of ``r`` data sets, for transforms that accept it (e.g.
    :class:`GaussianNoise`).
    """

    def __init__(self, transform: Augmentation) -> None:
        if not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.transform = transform

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim < 1 or x.shape[0] < 1:
            raise ValueError(f"x must have at least one row, got shape {tuple(x.shape)}")
        n = x.shape[0]
        both = self.transform(torch.cat([x, x]), generator=generator)
        return both[:n], both[n:]

    def __repr__(self) -> str:
        return f"TwoViews({self.transform!r})"
