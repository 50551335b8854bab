"""Shape properties shared by the data-set containers of :mod:`sslbook.data`."""

from __future__ import annotations

import torch


class Samples:
    """Mixin for a container whose samples are the rows of ``x``, shape ``(n, d)``."""

    x: torch.Tensor

    @property
    def n(self) -> int:
        """Number of samples (rows of ``x``)."""
        return self.x.shape[0]

    @property
    def d(self) -> int:
        """Dimension of a sample (columns of ``x``)."""
        return self.x.shape[1]


class ClassMeans:
    """Mixin for a container with one mean per class (or mixture component), ``means`` of shape ``(k, d)``."""

    means: torch.Tensor

    @property
    def k(self) -> int:
        """Number of classes (mixture components): rows of ``means``."""
        return self.means.shape[0]
