"""Augmentation callables and the basic Gaussian-mixture sampler."""

import pytest
import torch

from sslbook import data


def test_gaussian_noise_and_mask():
    x = torch.zeros(2000, 3)
    g = torch.Generator().manual_seed(0)
    v = data.GaussianNoise(0.5)(x, generator=g)
    assert v.shape == x.shape and abs(v.std().item() - 0.5) < 0.03
    assert torch.equal(data.GaussianNoise(0.0)(x), x)
    m = data.RandomMask(0.25)(torch.ones(4000, 2), generator=g)
    assert abs(1 - m.mean().item() - 0.25) < 0.03
    v1, v2 = data.TwoViews(data.Compose([data.GaussianNoise(1.0), data.RandomMask(0.1)]))(x, generator=g)
    assert v1.shape == x.shape and not torch.equal(v1, v2)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(data.GaussianNoise(1.0)(x, generator=g1), data.GaussianNoise(1.0)(x, generator=g2))


def test_view_validation():
    with pytest.raises(ValueError, match="std"):
        data.GaussianNoise(-1.0)
    with pytest.raises(ValueError, match="p must be < 1"):
        data.RandomMask(1.0)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        data.GaussianNoise(1.0)([1.0, 2.0])
    with pytest.raises(ValueError, match="x must have 2 or 3 or 4 dimensions"):
        data.GaussianNoise(1.0)(torch.zeros(3))
    with pytest.raises(TypeError, match="transforms"):
        data.Compose([])
    with pytest.raises(TypeError, match="transforms\\[1\\]"):
        data.Compose([data.GaussianNoise(1.0), 3])
    with pytest.raises(TypeError, match="transform must be callable"):
        data.TwoViews(None)


def test_gaussian_mixture_moments():
    means = torch.tensor([[3.0, 0.0], [-3.0, 0.0]])
    cov = torch.tensor([[1.0, 0.5], [0.5, 2.0]])
    m = data.gaussian_mixture(20000, means, cov, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert (m.n, m.d, m.k) == (20000, 2, 2)
    for j in range(2):
        xj = m.x[m.y == j]
        assert torch.allclose(xj.mean(0), means[j].double(), atol=0.05)
        assert torch.allclose(torch.cov(xj.T), cov.double(), atol=0.08)
    w = data.gaussian_mixture(10000, means, 1.0, weights=torch.tensor([0.9, 0.1]))
    assert abs(w.y.float().mean().item() - 0.1) < 0.02


def test_gaussian_mixture_validation():
    means = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="cov must have shape \\(3, 3\\)"):
        data.gaussian_mixture(5, means, torch.eye(2))
    with pytest.raises(ValueError, match="positive definite"):
        data.gaussian_mixture(5, means, -torch.eye(3))
    with pytest.raises(ValueError, match="symmetric"):
        data.gaussian_mixture(5, means, torch.tensor([[1.0, 1, 0], [0, 1, 0], [0, 0, 1]]))
    with pytest.raises(ValueError, match="weights must be non-negative and sum to 1"):
        data.gaussian_mixture(5, means, 1.0, weights=torch.tensor([0.5, 0.6]))
    with pytest.raises(ValueError, match="weights must have length 2"):
        data.gaussian_mixture(5, means, 1.0, weights=torch.tensor([1.0]))
    with pytest.raises(ValueError, match="cov must be finite and > 0"):
        data.gaussian_mixture(5, means, 0.0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        data.gaussian_mixture(0, means)
