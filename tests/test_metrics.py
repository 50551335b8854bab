"""Metrics against closed forms and slow references; validation errors."""

import math

import numpy as np
import pytest
import torch

from sslbook import metrics

D = torch.float64


def rotation_basis(d, angles, seed=0):
    """Two bases of R^d whose principal angles are exactly `angles`."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    p = len(angles)
    a = q[:, :p]
    b = np.cos(angles) * q[:, :p] + np.sin(angles) * q[:, p : 2 * p]
    return a, b


@pytest.mark.parametrize("angles", [[0.1, 0.4, 1.2], [1e-9, 1e-7, 1e-5], [0.0, math.pi / 2, 0.7]])
def test_principal_angles_of_built_subspaces(angles):
    a, b = rotation_basis(8, np.array(angles))
    got = metrics.principal_angles(a @ np.diag([2.0, 0.5, 3.0]), b)  # non-orthonormal basis of the same span
    want = np.sort(angles)
    assert np.allclose(got, want, atol=1e-12, rtol=1e-6)


def test_principal_angles_different_dimensions_and_distances():
    a, b = rotation_basis(6, np.array([0.3, 0.9]))
    got = metrics.principal_angles(a[:, :1], b)
    assert got.shape == (1,)
    assert metrics.subspace_distance(a, b) == pytest.approx(math.sin(0.9))
    assert metrics.subspace_distance(a, b, "projection") == pytest.approx(math.hypot(math.sin(0.3), math.sin(0.9)))
    assert metrics.subspace_distance(a, b, "geodesic") == pytest.approx(math.hypot(0.3, 0.9))
    assert metrics.subspace_distance(torch.tensor(a), torch.tensor(a)) == pytest.approx(0.0, abs=1e-12)


def test_principal_angles_validation():
    a = np.eye(4)[:, :2]
    with pytest.raises(ValueError, match="linearly dependent"):
        metrics.principal_angles(np.ones((4, 2)), a)
    with pytest.raises(ValueError, match="ambient"):
        metrics.principal_angles(a, np.eye(5)[:, :2])
    with pytest.raises(ValueError, match="b contains NaN"):
        metrics.principal_angles(a, np.full((4, 2), np.nan))
    with pytest.raises(ValueError, match="kind"):
        metrics.subspace_distance(a, a, kind="chordal")
    with pytest.raises(ValueError, match="a must have 2 dimensions"):
        metrics.principal_angles(np.ones(4), a)


def test_effective_rank_closed_forms():
    assert metrics.effective_rank(np.eye(5)) == pytest.approx(5.0)
    assert metrics.effective_rank(np.outer(np.arange(1, 6), [1.0, 2.0, 0.5])) == pytest.approx(1.0)
    assert metrics.effective_rank(np.diag([1.0, 1.0, 0.0])) == pytest.approx(2.0)
    s = np.array([3.0, 1.0])
    p = s / s.sum()
    assert metrics.effective_rank(np.diag(s)) == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert metrics.effective_rank(np.zeros((4, 3))) == 0.0
    # complete collapse: every row the same vector -> rank one uncentred, zero centred
    z = np.tile([1.0, -2.0, 0.5], (10, 1))
    assert metrics.effective_rank(z) == pytest.approx(1.0)
    assert metrics.effective_rank(z, center=True) == 0.0


def test_alignment_and_uniformity_references():
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(6, 3, generator=g, dtype=D)
    z2 = torch.randn(6, 3, generator=g, dtype=D)
    f1 = z1 / z1.norm(dim=1, keepdim=True)
    f2 = z2 / z2.norm(dim=1, keepdim=True)
    ref = sum(float((f1[i] - f2[i]).norm() ** 2) for i in range(6)) / 6
    assert metrics.alignment(z1, z2).item() == pytest.approx(ref)
    pairs = [(i, j) for i in range(6) for j in range(i + 1, 6)]
    ref_u = math.log(sum(math.exp(-2 * float((f1[i] - f1[j]).norm() ** 2)) for i, j in pairs) / len(pairs))
    assert metrics.uniformity(z1).item() == pytest.approx(ref_u)
    with pytest.raises(ValueError, match="two rows"):
        metrics.uniformity(z1[:1])
    with pytest.raises(ValueError, match="alpha"):
        metrics.alignment(z1, z2, alpha=0)


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[4.0, 0, 0], [0, 4.0, 0], [0, 0, 4.0]])
    return centres[y] + rng.standard_normal((n, 3)), y


def test_probes_and_clustering_on_separable_blobs():
    x, y = blobs()
    xt, yt = blobs(seed=1)
    assert metrics.linear_probe_accuracy(x, y, xt, yt) > 0.95
    assert metrics.knn_accuracy(x, y, xt, yt, k=5) > 0.95
    assert metrics.knn_accuracy(x, y, xt, yt, k=3, metric="euclidean") > 0.95
    assert metrics.clustering_ari(x, y) > 0.9
    noise = np.random.default_rng(2).standard_normal((200, 3))
    assert metrics.linear_probe_accuracy(noise, y, noise, yt) < 0.6


def test_knn_matches_slow_reference():
    x, y = blobs(60)
    xt, yt = blobs(30, seed=3)
    k = 5
    correct = 0
    for i in range(30):
        d = [np.sum((xt[i] - x[j]) ** 2) for j in range(60)]
        nn_idx = np.argsort(d)[:k]
        votes = np.bincount(y[nn_idx], minlength=3)
        tied = set(np.flatnonzero(votes == votes.max()))
        winner = next(c for c in y[nn_idx] if c in tied)  # a tie goes to the nearer neighbours' class
        correct += int(winner == yt[i])
    assert metrics.knn_accuracy(x, y, xt, yt, k=k, metric="euclidean") == pytest.approx(correct / 30)


def test_probe_validation():
    x, y = blobs(20)
    with pytest.raises(ValueError, match="y_train must have length"):
        metrics.linear_probe_accuracy(x, y[:5], x, y)
    with pytest.raises(ValueError, match="same number of features"):
        metrics.linear_probe_accuracy(x, y, x[:, :2], y)
    with pytest.raises(ValueError, match="two classes"):
        metrics.linear_probe_accuracy(x, np.zeros(20, int), x, y)
    with pytest.raises(TypeError, match="y_train must hold integer"):
        metrics.linear_probe_accuracy(x, y + 0.5, x, y)
    with pytest.raises(ValueError, match="k must be <="):
        metrics.knn_accuracy(x, y, x, y, k=100)
    with pytest.raises(ValueError, match="metric"):
        metrics.knn_accuracy(x, y, x, y, metric="manhattan")
    with pytest.raises(ValueError, match="c must be"):
        metrics.linear_probe_accuracy(x, y, x, y, c=0)
    with pytest.raises(ValueError, match="z_train contains NaN"):
        metrics.linear_probe_accuracy(np.full((20, 3), np.nan), y, x, y)


def slow_rate(z, eps):
    n, k = z.shape
    return 0.5 * np.linalg.slogdet(np.eye(k) + k / (n * eps**2) * z.T @ z)[1]


def test_coding_rate_closed_forms():
    z = torch.randn(30, 5, dtype=D, generator=torch.Generator().manual_seed(0))
    assert metrics.coding_rate(z, 0.5).item() == pytest.approx(slow_rate(z.numpy(), 0.5))
    wide = torch.randn(4, 9, dtype=D)  # k > n: Gram form
    assert metrics.coding_rate(wide, 0.3).item() == pytest.approx(slow_rate(wide.numpy(), 0.3))
    # an orthonormal set of k vectors scaled by sqrt(n/k): Z^T Z = (n/k) I -> R = k/2 log(1 + 1/eps^2)
    q = torch.linalg.qr(torch.randn(12, 4, dtype=D))[0] * math.sqrt(12 / 4)
    eps = 0.5
    assert metrics.coding_rate(q, eps).item() == pytest.approx(4 / 2 * math.log(1 + 1 / eps**2))
    # rotation invariance
    rot = torch.linalg.qr(torch.randn(5, 5, dtype=D))[0]
    assert metrics.coding_rate(z @ rot, 0.5).item() == pytest.approx(metrics.coding_rate(z, 0.5).item())


def test_coding_rate_reduction_matches_loop_and_is_nonnegative():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(40, 6, dtype=D, generator=g)
    for labels in (np.repeat(np.arange(20), 2), np.arange(40) % 3, np.r_[np.zeros(5, int), np.ones(35, int)]):
        out = metrics.coding_rate_reduction(z, labels, eps=0.5)
        comp = sum((labels == c).sum() / 40 * slow_rate(z.numpy()[labels == c], 0.5) for c in np.unique(labels))
        assert out["compression"].item() == pytest.approx(comp)
        assert out["expansion"].item() == pytest.approx(slow_rate(z.numpy(), 0.5))
        assert out["reduction"].item() >= 0
    z.requires_grad_(True)
    metrics.coding_rate_reduction(z, np.arange(40) % 4)["reduction"].backward()
    assert torch.isfinite(z.grad).all()


def test_coding_rate_validation():
    z = torch.randn(10, 3)
    with pytest.raises(ValueError, match="eps"):
        metrics.coding_rate(z, eps=0)
    with pytest.raises(TypeError, match="z must be a torch.Tensor"):
        metrics.coding_rate(z.numpy())
    with pytest.raises(ValueError, match="labels must have length 10"):
        metrics.coding_rate_reduction(z, np.zeros(9, int))
