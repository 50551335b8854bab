"""Stiefel/Grassmann helpers against their defining properties."""

import pytest
import torch

from sslbook import geometry, subspaces

D = torch.float64


def test_random_frame_is_orthonormal_and_seeded():
    w = geometry.random_frame(7, 3, generator=torch.Generator().manual_seed(0))
    assert w.shape == (7, 3) and geometry.is_orthonormal(w, 1e-12)
    w2 = geometry.random_frame(7, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(w, w2)


def test_orthonormalize_keeps_span_and_is_continuous():
    a = torch.randn(6, 2, dtype=D)
    q = geometry.orthonormalize(a)
    assert geometry.is_orthonormal(q)
    assert subspaces.subspace_distance(q, a) < 1e-12
    r = q.T @ a
    assert (torch.diagonal(r) > 0).all()  # sign convention: positive diagonal of R
    assert torch.allclose(geometry.orthonormalize(q), q)


def test_projector_is_idempotent_symmetric():
    p = geometry.projector(torch.randn(5, 2, dtype=D))
    assert torch.allclose(p @ p, p) and torch.allclose(p, p.T)
    assert torch.trace(p).item() == pytest.approx(2.0)


def test_tangent_projections():
    w = geometry.random_frame(6, 2)
    g = torch.randn(6, 2, dtype=D)
    xi = geometry.tangent_project_stiefel(w, g)
    s = w.T @ xi
    assert torch.allclose(s + s.T, torch.zeros(2, 2, dtype=D), atol=1e-12)  # tangent: W^T xi skew
    h = geometry.grassmann_gradient(w, g)
    assert torch.allclose(w.T @ h, torch.zeros(2, 2, dtype=D), atol=1e-12)  # horizontal


def test_grassmann_ascent_finds_top_eigenspace():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(8, 8, generator=g, dtype=D)
    a = a @ a.T
    vals, top = geometry.top_eigenspace(a, 2)
    assert torch.all(vals[:-1] >= vals[1:])
    w = geometry.random_frame(8, 2, generator=g)
    lr = 0.5 / torch.linalg.eigvalsh(a).max().item()
    for _ in range(3000):
        w = geometry.grassmann_step(w, 2 * a @ w, lr=lr, ascent=True)
    assert geometry.is_orthonormal(w, 1e-10)
    assert subspaces.subspace_distance(w, top) < 1e-6


def test_retraction_is_first_order():
    w = geometry.random_frame(5, 2)
    xi = geometry.grassmann_gradient(w, torch.randn(5, 2, dtype=D))
    for t in (1e-2, 1e-3):
        err = (geometry.qr_retraction(w, t * xi) - (w + t * xi)).norm().item()
        assert err < 10 * t**2 * xi.norm().item() ** 2 + 1e-12


def test_geometry_validation():
    w = geometry.random_frame(4, 2)
    with pytest.raises(ValueError, match="at most as many columns"):
        geometry.orthonormalize(torch.randn(2, 3))
    with pytest.raises(ValueError, match="same shape"):
        geometry.grassmann_gradient(w, torch.randn(4, 3, dtype=D))
    with pytest.raises(ValueError, match="lr"):
        geometry.grassmann_step(w, w, lr=0)
    with pytest.raises(ValueError, match="square"):
        geometry.top_eigenspace(torch.randn(3, 2), 1)
    with pytest.raises(ValueError, match="symmetric"):
        geometry.top_eigenspace(torch.tensor([[1.0, 2.0], [0.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="k must be <="):
        geometry.random_frame(3, 4)
    with pytest.raises(TypeError, match="d must be an integer"):
        geometry.random_frame(3.0, 2)
