"""Seeded synthetic data and augmentations.

One idiom for data throughout:

* A **data set** is a frozen dataclass holding the inputs, the labels, the latent variables and
  the ground truth (means, subspaces) of the model that produced it. It is returned by a function
  named after the model (:func:`gaussian_mixture`, :func:`hidden_feature_data`,
  :func:`causal_data`, :func:`planted_subspace_views`; :func:`load_digit_images` for real
  images). Its sizes are the properties ``n`` (samples), ``d`` (dimension) and ``k`` (classes or
  mixture components), where they apply; a two-modality sample has ``d1`` and ``d2``.
* A **model to draw from** (:class:`SameComponentPairs`, :class:`TwoModalityMixture`; and a
  :class:`Mixture` or :class:`CausalData` set, for more samples of its model) is frozen too and
  has ``sample(n, generator=None)``, which returns a data set. Its sizes use the same letters (``d``,
  ``k``; ``d1``, ``d2``, ``k1``, ``k2`` for two modalities).
* **Augmentations** (:class:`GaussianNoise`, :class:`RandomMask`, :class:`RandomAffine`, ...)
  are callables ``aug(x, generator)``; :class:`TwoViews` draws two views of a batch with one
  (a positive pair per row), the one way to do so.

Every random draw takes a ``torch.Generator``, so a chapter's seed fixes its data.
"""

from .causal import CausalData, CausalView, causal_data
from .digits import DigitImages, downsample, load_digit_images
from .hidden import HiddenFeatureData, hidden_feature_data
from .image_views import RandomAffine, RandomRotation, RandomShift, affine, style_copies
from .latent import PlantedViews, planted_subspace_views
from .mixtures import (
    Mixture,
    between_class_scatter,
    fisher_subspace,
    gaussian_mixture,
    lda_directions,
    separated_means,
    spiked_covariance,
)
from .pairs import PairedSample, PositivePairs, SameComponentPairs, TwoModalityMixture, two_modality_mixture
from .views import Compose, GaussianNoise, RandomMask, TwoViews

__all__ = [
    "Mixture",
    "gaussian_mixture",
    "between_class_scatter",
    "fisher_subspace",
    "lda_directions",
    "separated_means",
    "spiked_covariance",
    "PairedSample",
    "PositivePairs",
    "SameComponentPairs",
    "TwoModalityMixture",
    "two_modality_mixture",
    "Compose",
    "GaussianNoise",
    "RandomMask",
    "TwoViews",
    "PlantedViews",
    "planted_subspace_views",
    "DigitImages",
    "downsample",
    "load_digit_images",
    "RandomAffine",
    "RandomRotation",
    "RandomShift",
    "affine",
    "style_copies",
    "HiddenFeatureData",
    "hidden_feature_data",
    "CausalData",
    "CausalView",
    "causal_data",
]
