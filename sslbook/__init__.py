"""sslbook: the helper package of the executable book on the theory of self-supervised learning.

Modules, by concept:

* :mod:`~sslbook.config`: seed, scale, device, threads;
* :mod:`~sslbook.data`: synthetic data (mixtures, hidden features, planted subspaces, causal
  models), offline digit images, augmentations;
* :mod:`~sslbook.losses`: InfoNCE, NT-Xent, spectral contrastive, SimSiam, Barlow Twins, VICReg, CLIP;
* :mod:`~sslbook.models`, :mod:`~sslbook.vae`: encoders, heads, VAE and SimVAE;
* :mod:`~sslbook.train`: the training loop;
* :mod:`~sslbook.probing`: linear, nearest-neighbour, clustering and per-layer probes;
* :mod:`~sslbook.spectra`, :mod:`~sslbook.hypersphere`: effective rank; Wang–Isola alignment and
  uniformity;
* :mod:`~sslbook.subspaces`: principal angles, subspace distances, projection lengths;
* :mod:`~sslbook.coding_rate`: coding rates and their reductions (MCR²);
* :mod:`~sslbook.geometry`, :mod:`~sslbook.dynamics`: Stiefel/Grassmann tools, learning dynamics;
* :mod:`~sslbook.critical_points`: stationary points, Hessians, inverse-function certificates;
* :mod:`~sslbook.umm`: the Undoing Memorization Mechanism;
* :mod:`~sslbook.objectives`: one interface to every objective and every pair generator;
* :mod:`~sslbook.exercises`: self-checks of the exercises' answers;
* :mod:`~sslbook.claims`, :mod:`~sslbook.plotting`: claim checks and the figure style.

The book's tooling lives outside the package: the Sphinx extension in ``_ext/bookext``, the
chapter harness in ``conftest.py``, benchmarks and editions in ``tools/``.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("sslbook")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

from . import (  # noqa: E402
    claims,
    coding_rate,
    config,
    critical_points,
    data,
    dynamics,
    exercises,
    geometry,
    hypersphere,
    losses,
    models,
    objectives,
    plotting,
    probing,
    spectra,
    subspaces,
    train,
    umm,
    vae,
)

__all__ = [
    "claims",
    "coding_rate",
    "config",
    "critical_points",
    "data",
    "dynamics",
    "exercises",
    "geometry",
    "hypersphere",
    "losses",
    "models",
    "objectives",
    "plotting",
    "probing",
    "spectra",
    "subspaces",
    "train",
    "umm",
    "vae",
    "__version__",
]
