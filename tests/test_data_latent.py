"""The planted-subspace data generator: ground truth, seeding, population matrices, validation."""

import pytest
import torch

from sslbook import dynamics, geometry, subspaces
from sslbook.data import PlantedViews, planted_subspace_views

D = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_shapes_dtype_and_ground_truth():
    v = planted_subspace_views(100, d=12, semantic_std=(2.0, 1.0), n_nuisance=4, mean_shift=2.0, generator=_gen())
    assert isinstance(v, PlantedViews)
    assert v.x.shape == v.x_pos.shape == v.x_neg.shape == (100, 12) and v.x.dtype == D
    assert v.n == 100 and v.d == 12 and v.stacked.shape == (300, 12)
    frame = torch.cat([v.semantic_basis, v.nuisance_basis, (v.mean / v.mean.norm())[:, None]], 1)
    assert frame.shape == (12, 7)
    assert torch.allclose(frame.T @ frame, torch.eye(7, dtype=D), atol=1e-12)  # orthonormal, mutually orthogonal
    assert float(v.mean.norm()) == pytest.approx(2.0)
    assert torch.equal(v.semantic_std, torch.tensor([2.0, 1.0], dtype=D))
    f32 = planted_subspace_views(10, d=5, semantic_std=(1.0,), n_nuisance=1, generator=_gen(), dtype=torch.float32)
    assert f32.x.dtype == torch.float32


def test_seeded_and_negatives_are_other_anchors():
    a = planted_subspace_views(50, generator=_gen(3))
    b = planted_subspace_views(50, generator=_gen(3))
    assert torch.equal(a.x, b.x) and torch.equal(a.x_neg, b.x_neg)
    # each negative is an anchor, never the anchor itself, and every anchor is used once
    dist = torch.cdist(a.x_neg, a.x)
    idx = dist.argmin(1)
    assert float(dist.min(1).values.max()) < 1e-6  # cdist rounding
    assert bool((idx != torch.arange(50)).all()) and sorted(idx.tolist()) == list(range(50))


def test_positive_shares_the_semantic_latent():
    v = planted_subspace_views(4000, jitter=0.1, noise_std=0.1, generator=_gen(1))
    s, s_pos = v.x @ v.semantic_basis, v.x_pos @ v.semantic_basis
    nu, nu_pos = v.x @ v.nuisance_basis, v.x_pos @ v.nuisance_basis
    corr = lambda a, b: float(((a - a.mean(0)) * (b - b.mean(0))).mean() / (a.std() * b.std()))
    assert corr(s, s_pos) > 0.98  # semantic part kept (up to jitter and noise)
    assert abs(corr(nu, nu_pos)) < 0.05  # nuisance redrawn


def test_population_contrastive_matrix_is_the_semantic_covariance():
    v = planted_subspace_views(40_000, mean_shift=3.0, generator=_gen(2))
    a_con = dynamics.loss_matrix(v.x, v.x_pos, v.x_neg, loss="contrastive")
    target = v.semantic_basis @ torch.diag(v.semantic_std**2) @ v.semantic_basis.T
    assert float((a_con - target).norm() / target.norm()) < 0.05
    # the alignment matrix keeps the mean, the contrastive one cancels it
    a_nc = dynamics.loss_matrix(v.x, v.x_pos, loss="alignment")
    assert float((a_nc - target - torch.outer(v.mean, v.mean)).norm() / target.norm()) < 0.05
    # PCA of the inputs finds the nuisance, the contrastive matrix the semantics
    _, top = geometry.top_eigenspace(a_con, 3)
    _, pca = geometry.top_eigenspace(torch.cov(v.x.T), 3)
    assert subspaces.principal_angles(top, v.semantic_basis).max() < 0.1
    assert subspaces.principal_angles(pca, v.semantic_basis).max() > 1.3


def test_mean_direction_when_the_frame_is_full():
    v = planted_subspace_views(20, d=4, semantic_std=(1.0, 1.0), n_nuisance=2, mean_shift=1.5, generator=_gen())
    assert float(v.mean.norm()) == pytest.approx(1.5)


def test_validation_errors():
    with pytest.raises(ValueError, match="n must be >= 2"):
        planted_subspace_views(1)
    with pytest.raises(TypeError, match="n must be an integer"):
        planted_subspace_views(10.0)
    with pytest.raises(ValueError, match="d must be at least"):
        planted_subspace_views(10, d=5, semantic_std=(1.0, 1.0, 1.0), n_nuisance=3)
    with pytest.raises(ValueError, match="semantic_std must be finite and > 0"):
        planted_subspace_views(10, semantic_std=(1.0, 0.0))
    with pytest.raises(TypeError, match="semantic_std must be a sequence"):
        planted_subspace_views(10, semantic_std=2.0)
    with pytest.raises(ValueError, match="at least one"):
        planted_subspace_views(10, semantic_std=())
    with pytest.raises(ValueError, match="nuisance_std must be finite"):
        planted_subspace_views(10, nuisance_std=-1.0)
    with pytest.raises(ValueError, match="mean_shift must be finite"):
        planted_subspace_views(10, mean_shift=float("nan"))
    with pytest.raises(TypeError, match="dtype must be a floating"):
        planted_subspace_views(10, dtype=torch.int64)
    with pytest.raises(ValueError, match="semantic_std must hold finite positive"):
        planted_subspace_views(10, semantic_std=torch.tensor([1.0, -1.0]))
