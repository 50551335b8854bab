"""Seeded synthetic data and augmentations.

Generators return small frozen dataclasses holding the inputs, the labels, the latent variables
and the ground truth (means, subspaces) of the model that produced them.
"""

from .mixtures import Mixture, gaussian_mixture
from .views import Compose, GaussianNoise, RandomMask, TwoViews

__all__ = ["Mixture", "gaussian_mixture", "Compose", "GaussianNoise", "RandomMask", "TwoViews"]
