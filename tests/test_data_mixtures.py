"""Gaussian mixtures, their Fisher subspace, same-component pairs and the two-modality mixture."""

import numpy as np
import pytest
import torch

from sslbook import data, subspaces
from sslbook.data import _base, pairs

D = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def params(d=6, k=3, seed=0, spike=10.0):
    g = gen(seed)
    cov = data.spiked_covariance(d, n_spikes=2, spike_var=spike, generator=g)
    means = data.separated_means(k, d, cov, separation=3.0, generator=g)
    return means, cov


def span_distance(a, b):
    return subspaces.subspace_distance(np.asarray(a), np.asarray(b))


# --- gaussian_mixture keeps its behaviour --------------------------------------------------------


def test_gaussian_mixture_shapes_and_moments():
    means, cov = params(d=4, k=3)
    w = torch.tensor([0.2, 0.3, 0.5], dtype=D)
    m = data.gaussian_mixture(40000, means, cov, w, generator=gen(1), dtype=D)
    assert m.x.shape == (40000, 4) and m.y.shape == (40000,) and m.y.dtype == torch.int64
    assert (m.n, m.d, m.k) == (40000, 4, 3)
    assert torch.allclose(m.weights, w)
    freq = torch.bincount(m.y, minlength=3).double() / m.n
    assert torch.allclose(freq, w, atol=0.01)
    resid = m.x - means[m.y]
    assert torch.allclose(resid.T @ resid / m.n, cov, atol=0.15 * float(cov.diagonal().max()) ** 0.5)


def test_gaussian_mixture_scalar_cov_and_dtype():
    means = torch.zeros(2, 3)
    m = data.gaussian_mixture(10, means, 2.0, generator=gen())
    assert m.x.dtype == torch.float32 and torch.allclose(m.cov, 2.0 * torch.eye(3))
    assert m.weights is not None and torch.allclose(m.weights, torch.full((2,), 0.5))


def test_gaussian_mixture_validation():
    means = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="n"):
        data.gaussian_mixture(0, means)
    with pytest.raises(ValueError, match="cov must have shape"):
        data.gaussian_mixture(5, means, torch.eye(2))
    with pytest.raises(ValueError, match="symmetric"):
        data.gaussian_mixture(5, means, torch.tensor([[1.0, 0.5, 0], [0, 1, 0], [0, 0, 1]]))
    with pytest.raises(ValueError, match="positive definite"):
        data.gaussian_mixture(5, means, -torch.eye(3))
    with pytest.raises(ValueError, match="weights must have length"):
        data.gaussian_mixture(5, means, weights=torch.ones(3) / 3)
    with pytest.raises(ValueError, match="sum to 1"):
        data.gaussian_mixture(5, means, weights=torch.tensor([0.7, 0.7]))
    with pytest.raises(TypeError, match="means"):
        data.gaussian_mixture(5, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="cov"):
        data.gaussian_mixture(5, means, cov=0.0)


# --- scatter, LDA, Fisher subspace ---------------------------------------------------------------


def test_between_class_scatter_matches_loop():
    means, _ = params(d=5, k=4)
    w = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=D)
    mbar = sum(w[i] * means[i] for i in range(4))
    ref = sum(w[i] * torch.outer(means[i] - mbar, means[i] - mbar) for i in range(4))
    got = data.between_class_scatter(means + 7.0, w)  # translation invariant
    assert torch.allclose(got, ref, atol=1e-10)
    assert torch.linalg.matrix_rank(got) == 3


def test_lda_directions_solve_the_generalised_eigenproblem():
    means, cov = params(d=7, k=4)
    rho, v = data.lda_directions(means, cov)
    m = data.between_class_scatter(means)
    assert rho.shape == (3,) and v.shape == (7, 3)
    assert bool((rho[:-1] >= rho[1:]).all()) and bool((rho > 0).all())
    assert torch.allclose(m @ v, cov @ v * rho, atol=1e-9)
    assert torch.allclose(v.T @ cov @ v, torch.eye(3, dtype=D), atol=1e-9)
    c = cov + m  # same vectors for the total scatter, lambda = rho / (1 + rho)
    lam = rho / (1 + rho)
    assert torch.allclose(m @ v, c @ v * lam, atol=1e-9)


def test_fisher_subspace_is_span_of_sigma_inverse_means():
    means, cov = params(d=8, k=4)
    f = data.fisher_subspace(means, cov)
    assert f.shape == (8, 3) and f.dtype == D
    assert torch.allclose(f.T @ f, torch.eye(3, dtype=D), atol=1e-10)
    direct = torch.linalg.solve(cov, (means - means.mean(0)).T)  # (d, k), rank k - 1
    assert span_distance(f, torch.linalg.svd(direct, full_matrices=False)[0][:, :3]) < 1e-8
    # first column is the top LDA direction
    _, v = data.lda_directions(means, cov)
    assert span_distance(f[:, :1], v[:, :1]) < 1e-8
    m = data.gaussian_mixture(10, means, cov, generator=gen())
    assert span_distance(m.fisher_subspace(), f) < 1e-6


def test_fisher_subspace_isotropic_is_span_of_means_and_anisotropic_is_not():
    g = gen(3)
    means = torch.randn(3, 6, generator=g, dtype=D)
    means = means - means.mean(0)
    f = data.fisher_subspace(means, 2.5)
    assert span_distance(f, torch.linalg.svd(means.T, full_matrices=False)[0][:, :2]) < 1e-8
    cov = data.spiked_covariance(6, 2, 25.0, generator=g)
    assert span_distance(data.fisher_subspace(means, cov), f) > 0.05


def test_lda_validation():
    with pytest.raises(ValueError, match="coincide"):
        data.lda_directions(torch.ones(3, 4, dtype=D), torch.eye(4, dtype=D))
    with pytest.raises(ValueError, match="cov must have shape"):
        data.fisher_subspace(torch.randn(3, 4), torch.eye(3))
    with pytest.raises(ValueError, match="means"):
        data.fisher_subspace(torch.randn(3), 1.0)
    with pytest.raises(ValueError, match="rtol"):
        data.lda_directions(torch.randn(3, 4), 1.0, rtol=0.0)
    with pytest.raises(ValueError, match="weights"):
        data.between_class_scatter(torch.randn(3, 4), torch.tensor([0.5, 0.5]))


# --- generators of the paper's mixtures ----------------------------------------------------------


def test_spiked_covariance():
    c = data.spiked_covariance(10, n_spikes=3, spike_var=25.0, generator=gen())
    assert c.shape == (10, 10) and torch.allclose(c, c.T)
    ev = torch.linalg.eigvalsh(c)
    assert float(ev.min()) >= 0.5 - 1e-9
    assert bool((ev[-3:] >= 25.5 - 1e-9).all()) and float(ev[-4]) <= 1.5 + 1e-9
    assert torch.allclose(data.spiked_covariance(4, 0, 0.0, 1.0, 1.0), torch.eye(4, dtype=D))
    for kwargs, match in (
        ({"n_spikes": 11}, "n_spikes"),
        ({"spike_var": -1.0}, "spike_var"),
        ({"diag_low": 2.0, "diag_high": 1.0}, "diag_high"),
        ({"diag_low": 0.0}, "diag_low"),
    ):
        with pytest.raises(ValueError, match=match):
            data.spiked_covariance(10, **kwargs)


def test_separated_means():
    cov = data.spiked_covariance(6, 2, 10.0, generator=gen())
    w = torch.tensor([0.5, 0.25, 0.25], dtype=D)
    mu = data.separated_means(3, 6, cov, separation=2.5, weights=w, generator=gen(1))
    assert torch.allclose(w @ mu, torch.zeros(6, dtype=D), atol=1e-12)
    maha = torch.sqrt(torch.einsum("kd,de,ke->k", mu, torch.linalg.inv(cov), mu))
    assert float(maha.mean()) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="k"):
        data.separated_means(1, 6)
    with pytest.raises(ValueError, match="separation"):
        data.separated_means(3, 6, separation=-1.0)


# --- same-component pairs ------------------------------------------------------------------------


def test_same_component_pairs_moments():
    means, cov = params(d=4, k=3, spike=5.0)
    prs = data.SameComponentPairs(means, cov)
    b = prs.sample(60000, generator=gen(2), dtype=D)
    assert b.x1.shape == (60000, 4) and b.n == 60000 and torch.equal(b.y1, b.y2)
    mom = prs.second_moments()
    m = data.between_class_scatter(means)
    assert torch.allclose(mom["cross"], m, atol=1e-10) and torch.allclose(mom["total"], cov + m, atol=1e-10)
    scale = float(mom["total"].abs().max())
    assert torch.allclose(b.x1.T @ b.x2 / b.n, mom["cross"], atol=0.04 * scale)
    assert torch.allclose(b.x1.T @ b.x1 / b.n, mom["total"], atol=0.04 * scale)
    diff = b.x1 - b.x2  # pairs reveal the within-class covariance: E[(x - x+)(x - x+)^T] = 2 Sigma
    assert torch.allclose(diff.T @ diff / (2 * b.n), cov, atol=0.04 * scale)
    assert torch.allclose(prs.fisher_subspace(), data.fisher_subspace(means, cov))


def test_same_component_pairs_redraw():
    means, cov = params(d=3, k=4, spike=1.0)
    p = 0.6
    prs = data.SameComponentPairs(means, cov, redraw=p)
    b = prs.sample(50000, generator=gen(5))
    assert b.x1.dtype == torch.float32
    differ = float((b.y1 != b.y2).double().mean())
    assert differ == pytest.approx(p * (1 - 1 / 4), abs=0.01)
    m = data.between_class_scatter(means)
    assert torch.allclose(prs.second_moments()["cross"], (1 - p) * m, atol=1e-10)
    assert torch.allclose((b.x1.T @ b.x2 / b.n).double(), (1 - p) * m, atol=0.05 * float(m.abs().max()) + 0.03)


def test_same_component_pairs_mixture_and_validation():
    means, cov = params(d=3, k=2)
    prs = data.SameComponentPairs(means, cov)
    mix = prs.mixture(7, generator=gen())
    assert isinstance(mix, data.Mixture) and mix.x.shape == (7, 3)
    assert "k=2" in repr(prs) and prs.k == 2 and prs.d == 3
    with pytest.raises(ValueError, match="redraw"):
        data.SameComponentPairs(means, cov, redraw=1.5)
    with pytest.raises(ValueError, match="n"):
        prs.sample(0)
    with pytest.raises(TypeError, match="dtype"):
        prs.sample(3, dtype=torch.int64)
    with pytest.raises(ValueError, match="cov"):
        data.SameComponentPairs(means, torch.eye(2))


# --- two-modality mixture ------------------------------------------------------------------------


def two_modalities(seed=0):
    g = gen(seed)
    c1 = data.spiked_covariance(9, 2, 10.0, generator=g)
    c2 = data.spiked_covariance(7, 2, 10.0, generator=g)
    return data.two_modality_mixture(k=3, d1=9, d2=7, private1=3, private2=2, cov1=c1, cov2=c2, radius=2.0, generator=g)


def test_two_modality_structure():
    tm = two_modalities()
    assert tm.k == 3 and (tm.d1, tm.d2) == (9, 7) and (tm.k1, tm.k2) == (3, 2)
    for j in (1, 2):
        a, b = tm.means(j)
        half_inv = torch.linalg.inv(torch.linalg.cholesky(tm.cov(j)))  # any whitening works for orthogonality
        cov_inv = torch.linalg.inv(tm.cov(j))
        assert torch.allclose(a @ cov_inv @ b.T, torch.zeros(a.shape[0], b.shape[0], dtype=D), atol=1e-9)
        assert torch.allclose(a.mean(0), torch.zeros(a.shape[1], dtype=D), atol=1e-10)
        radii = torch.sqrt(torch.einsum("kd,de,ke->k", a, cov_inv, a))
        assert torch.allclose(radii, torch.full_like(radii, 2.0))
        assert half_inv.shape[0] == a.shape[1]
    s_c, s_p, s_f = tm.shared_subspace(1), tm.private_subspace(1), tm.fisher_subspace(1)
    assert s_c.shape[1] == 2 and s_p.shape[1] == 2 and s_f.shape[1] == 4
    assert span_distance(s_f, torch.cat([s_c, s_p], 1)) < 1e-8


def test_two_modality_sample_and_labels():
    tm = two_modalities()
    s = tm.sample(30000, generator=gen(1), dtype=D)
    assert s.x.shape == (30000, 9) and s.y.shape == (30000, 7) and s.n == 30000
    a, b = tm.means(1)
    e, f = tm.means(2)
    rx = s.x - a[s.c] - b[s.p]
    ry = s.y - e[s.c] - f[s.q]
    assert torch.allclose(rx.T @ rx / s.n, tm.cov(1), atol=0.3)
    assert float((rx.T @ ry / s.n).abs().max()) < 0.1  # modalities independent given c
    lab = tm.joint_labels(s, 1)
    means, weights = tm.component_means(1)
    assert int(lab.max()) == 8 and torch.allclose(weights.sum(), torch.tensor(1.0, dtype=D))
    assert torch.allclose(means[lab], a[s.c] + b[s.p])


def test_variance_split():
    tm = two_modalities()
    s_c, s_p = tm.shared_subspace(1), tm.private_subspace(1)
    split = tm.variance_split(s_c.T, 1)
    assert split["shared"] == pytest.approx(1.0) and split["private"] == pytest.approx(0.0, abs=1e-10)
    split = tm.variance_split(s_p.T, 1)
    assert split["private"] == pytest.approx(1.0) and split["shared"] == pytest.approx(0.0, abs=1e-10)
    w = torch.randn(4, 9, generator=gen(2), dtype=D)
    split = tm.variance_split(w, 1)
    assert sum(split.values()) == pytest.approx(1.0) and min(split.values()) >= -1e-12


def test_two_modality_validation():
    tm = two_modalities()
    with pytest.raises(ValueError, match="modality"):
        tm.shared_subspace(3)
    with pytest.raises(ValueError, match="columns"):
        tm.variance_split(torch.randn(2, 5), 1)
    with pytest.raises(ValueError, match="zero"):
        tm.variance_split(torch.zeros(2, 9), 1)
    with pytest.raises(TypeError, match="PairedSample"):
        tm.joint_labels("x")
    with pytest.raises(ValueError, match="d1 must be"):
        data.two_modality_mixture(k=4, d1=3)
    with pytest.raises(ValueError, match="cov2 must have shape"):
        data.two_modality_mixture(k=2, d1=4, d2=4, cov2=torch.eye(3))
    with pytest.raises(ValueError, match="shared1 and shared2"):
        pairs.TwoModalityMixture(torch.randn(3, 4), torch.zeros(1, 4), 1.0, torch.randn(2, 4), torch.zeros(1, 4), 1.0)
    with pytest.raises(ValueError, match="private1"):
        pairs.TwoModalityMixture(torch.randn(3, 4), torch.zeros(1, 5), 1.0, torch.randn(3, 4), torch.zeros(1, 4), 1.0)
    single = data.two_modality_mixture(k=2, d1=3, d2=3, private1=1, private2=1, generator=gen())
    with pytest.raises(ValueError, match="single private cluster"):
        single.private_subspace(1)
    assert single.variance_split(single.shared_subspace(1).T, 1)["shared"] == pytest.approx(1.0)


def test_internal_matrix_power():
    c = data.spiked_covariance(5, 2, 4.0, generator=gen())
    half = _base.sym_power(c, 0.5)
    assert torch.allclose(half @ half, c, atol=1e-10)


def test_mixture_sample_draws_more_of_the_same_mixture():
    means = torch.tensor([[3.0, 0.0], [0.0, 3.0], [-3.0, -3.0]])
    m = data.gaussian_mixture(40, means, cov=0.5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    more = m.sample(30, torch.Generator().manual_seed(1))
    again = data.gaussian_mixture(30, means, cov=0.5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert (more.n, more.d, more.k) == (30, 2, 3)
    assert torch.equal(more.x, again.x) and torch.equal(more.y, again.y)
    assert more.means is m.means and more.cov is m.cov
    with pytest.raises(ValueError, match="n"):
        m.sample(0)
