"""sslbook: the helper package of the executable book on the theory of self-supervised learning.

Modules, by concept: :mod:`~sslbook.config` (seed, scale, device, threads),
:mod:`~sslbook.data` (synthetic data, augmentations), :mod:`~sslbook.losses`,
:mod:`~sslbook.models`, :mod:`~sslbook.train`, :mod:`~sslbook.metrics`,
:mod:`~sslbook.geometry`, :mod:`~sslbook.claims`, :mod:`~sslbook.plotting`.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("sslbook")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

from . import claims, config, data, geometry, losses, metrics, models, plotting, train  # noqa: E402

__all__ = ["claims", "config", "data", "geometry", "losses", "metrics", "models", "plotting", "train", "__version__"]
