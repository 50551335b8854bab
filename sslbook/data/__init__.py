"""Seeded synthetic data and augmentations.

Generators return small frozen dataclasses holding the inputs, the labels, the latent variables
and the ground truth (means, subspaces) of the model that produced them.
"""

from .causal import CausalData, CausalView, causal_data
from .digits import DigitImages, downsample, load_digit_images
from .hidden import HiddenFeatureData, hidden_feature_data, noisy_views
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
    "noisy_views",
    "CausalData",
    "CausalView",
    "causal_data",
]
