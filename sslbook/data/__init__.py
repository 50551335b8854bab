"""Seeded synthetic data and augmentations.

Generators return small frozen dataclasses holding the inputs, the labels, the latent variables
and the ground truth (means, subspaces) of the model that produced them.
"""

from .mixtures import Mixture, gaussian_mixture
from .views import Compose, GaussianNoise, RandomMask, TwoViews
from .digits import DigitImages, downsample, load_digit_images
from .image_views import PixelNoise, RandomAffine, RandomRotation, RandomShift, affine, style_copies
from .hidden import HiddenFeatureData, hidden_feature_data, noisy_views
from .latent import PlantedViews, planted_subspace_views

__all__ = ["Mixture", "gaussian_mixture", "Compose", "GaussianNoise", "RandomMask", "TwoViews",
           "PlantedViews", "planted_subspace_views",
           "DigitImages", "downsample", "load_digit_images", "PixelNoise", "RandomAffine", "RandomRotation",
           "RandomShift", "affine", "style_copies",
           "HiddenFeatureData", "hidden_feature_data", "noisy_views"]
