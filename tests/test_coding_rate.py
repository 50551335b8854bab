"""Coding rate and coding-rate reduction against slow references and closed forms.

Covers ``coding_rate.coding_rate``, ``coding_rate.coding_rate_reduction`` (hard partitions, including the
augmentation-pair partition), ``coding_rate.coding_rate_reduction_soft`` and
``coding_rate.pair_coding_rate_reduction`` (Yu et al. 2020; Qiang et al. 2024).
"""

import math

import numpy as np
import pytest
import torch

from sslbook import coding_rate

D = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def slow_rate_cov(z, eps):
    """R from the definition: k x k covariance form, numpy slogdet."""
    z = np.asarray(z, dtype=float)
    n, k = z.shape
    return 0.5 * np.linalg.slogdet(np.eye(k) + k / (n * eps**2) * z.T @ z)[1]


def slow_rate_gram(z, eps):
    """R from the n x n Gram form."""
    z = np.asarray(z, dtype=float)
    n, k = z.shape
    return 0.5 * np.linalg.slogdet(np.eye(n) + k / (n * eps**2) * z @ z.T)[1]


def slow_soft_compression(z, pi, eps):
    """R_c(Z | Pi) group by group with explicit diagonal matrices."""
    z, pi = np.asarray(z, dtype=float), np.asarray(pi, dtype=float)
    n, k = z.shape
    total = 0.0
    for j in range(pi.shape[1]):
        t = pi[:, j].sum()
        if t <= 0:
            continue
        cov = z.T @ np.diag(pi[:, j]) @ z
        total += t / (2 * n) * np.linalg.slogdet(np.eye(k) + k / (t * eps**2) * cov)[1]
    return total


def slow_hard_compression(z, labels, eps):
    z = np.asarray(z, dtype=float)
    labels = np.asarray(labels)
    n = z.shape[0]
    return sum((labels == c).sum() / n * slow_rate_cov(z[labels == c], eps) for c in np.unique(labels))


@pytest.mark.parametrize("shape", [(200, 12), (9, 30), (40, 40)])
@pytest.mark.parametrize("eps", [0.3, 0.5, 1.0])
def test_coding_rate_matches_both_slow_forms(shape, eps):
    z = torch.randn(*shape, generator=gen(1), dtype=D)
    got = coding_rate.coding_rate(z, eps).item()
    assert slow_rate_cov(z, eps) == pytest.approx(slow_rate_gram(z, eps), rel=1e-10)  # Sylvester
    assert got == pytest.approx(slow_rate_cov(z, eps), rel=1e-10)


def test_rotation_invariance_of_rate_and_reduction():
    z = torch.randn(150, 10, generator=gen(2), dtype=D)
    q, _ = torch.linalg.qr(torch.randn(10, 10, generator=gen(3), dtype=D))
    y = torch.arange(150) % 4
    pi = torch.softmax(torch.randn(150, 5, generator=gen(4), dtype=D), dim=1)
    assert coding_rate.coding_rate(z @ q).item() == pytest.approx(coding_rate.coding_rate(z).item(), abs=1e-10)
    for a, b in [
        (coding_rate.coding_rate_reduction(z @ q, y), coding_rate.coding_rate_reduction(z, y)),
        (coding_rate.coding_rate_reduction_soft(z @ q, pi), coding_rate.coding_rate_reduction_soft(z, pi)),
    ]:
        assert a["reduction"].item() == pytest.approx(b["reduction"].item(), abs=1e-10)


def test_orthonormal_set_closed_form():
    n, k, eps = 12, 20, 0.5
    q, _ = torch.linalg.qr(torch.randn(k, n, generator=gen(5), dtype=D))
    z = q.T  # n orthonormal rows
    assert coding_rate.coding_rate(z, eps).item() == pytest.approx(n / 2 * math.log(1 + k / (n * eps**2)))
    for groups in (1, 3, 4, 12):
        want = n / 2 * math.log(1 + k / (n * eps**2)) - n / (2 * groups) * math.log(1 + k * groups / (n * eps**2))
        got = coding_rate.coding_rate_reduction(z, torch.arange(n) % groups, eps)["reduction"].item()
        assert got == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_reduction_is_nonnegative_for_random_partitions():
    g = gen(6)
    z = torch.randn(80, 6, generator=g, dtype=D)
    for _ in range(30):
        labels = torch.randint(0, 5, (80,), generator=g)
        assert coding_rate.coding_rate_reduction(z, labels)["reduction"].item() >= -1e-12
        pi = torch.softmax(4 * torch.randn(80, 4, generator=g, dtype=D), dim=1)
        out = coding_rate.coding_rate_reduction_soft(z, pi)
        assert out["reduction"].item() >= -1e-12
        assert 0 <= out["compression"].item() <= out["expansion"].item() + 1e-12


def test_hard_partition_matches_slow_reference_including_pairs():
    g = gen(7)
    z = torch.randn(60, 8, generator=g, dtype=D)
    labels = torch.randint(0, 4, (60,), generator=g)
    out = coding_rate.coding_rate_reduction(z, labels, 0.4)
    assert out["compression"].item() == pytest.approx(slow_hard_compression(z, labels, 0.4), rel=1e-10)
    # augmentation-pair partition: 30 groups of two, rows of a pair not adjacent
    pairs = torch.arange(30).repeat(2)
    out = coding_rate.coding_rate_reduction(z, pairs, 0.4)
    assert out["compression"].item() == pytest.approx(slow_hard_compression(z, pairs, 0.4), rel=1e-10)


def test_soft_partition_matches_slow_reference_and_special_cases():
    g = gen(8)
    z = torch.randn(50, 7, generator=g, dtype=D)
    pi = torch.softmax(2 * torch.randn(50, 6, generator=g, dtype=D), dim=1)
    out = coding_rate.coding_rate_reduction_soft(z, pi, 0.6)
    assert out["compression"].item() == pytest.approx(slow_soft_compression(z, pi, 0.6), rel=1e-10)
    # one-hot memberships: the hard version; an empty group is dropped
    y = torch.randint(0, 5, (50,), generator=g)
    onehot = torch.nn.functional.one_hot(y, 7).to(D)
    assert coding_rate.coding_rate_reduction_soft(z, onehot, 0.6)["reduction"].item() == pytest.approx(
        coding_rate.coding_rate_reduction(z, y, 0.6)["reduction"].item(), rel=1e-10
    )
    # identical memberships for every sample: zero reduction
    same = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=D).expand(50, 4)
    assert abs(coding_rate.coding_rate_reduction_soft(z, same, 0.6)["reduction"].item()) < 1e-10


def test_pair_closed_form_matches_generic_code_and_decomposes():
    g = gen(9)
    z1 = torch.randn(40, 16, generator=g, dtype=D)
    z2 = z1 + 0.5 * torch.randn(40, 16, generator=g, dtype=D)
    eps = 0.5
    out = coding_rate.pair_coding_rate_reduction(z1, z2, eps)
    f = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    generic = coding_rate.coding_rate_reduction(f, torch.arange(40).repeat(2), eps)
    assert out["reduction"].item() == pytest.approx(generic["reduction"].item(), rel=1e-10)
    assert out["compression"].item() == pytest.approx(generic["compression"].item(), rel=1e-10)
    assert out["reduction"].item() == pytest.approx(
        (out["expansion"] - out["alignment"] - out["constant"]).item(), rel=1e-12
    )
    c = 16 / (2 * eps**2)
    assert out["constant"].item() == pytest.approx(0.5 * math.log(1 + 2 * c))
    # aligned and antipodal pairs have zero alignment term and the same reduction
    a = coding_rate.pair_coding_rate_reduction(z1, z1, eps)
    b = coding_rate.pair_coding_rate_reduction(z1, -3.0 * z1, eps)
    assert a["alignment"].item() == pytest.approx(0.0, abs=1e-12)
    assert b["reduction"].item() == pytest.approx(a["reduction"].item(), rel=1e-10)


def test_uniformity_term_is_maximal_for_isotropic_features():
    k, eps = 4, 0.5
    e = torch.eye(k, dtype=D)
    iso = coding_rate.pair_coding_rate_reduction(e, e, eps)["expansion"].item()
    assert iso == pytest.approx(k / 2 * math.log(1 + 1 / eps**2))
    z = torch.randn(30, k, generator=gen(10), dtype=D)
    assert coding_rate.pair_coding_rate_reduction(z, z, eps)["expansion"].item() <= iso + 1e-12


def test_coding_rates_are_differentiable():
    z = torch.randn(30, 5, generator=gen(11), dtype=D, requires_grad=True)
    pi = torch.softmax(torch.randn(30, 3, generator=gen(12), dtype=D), dim=1).requires_grad_(True)
    coding_rate.coding_rate_reduction_soft(z, pi)["reduction"].backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and pi.grad is not None
    z1 = torch.randn(10, 5, generator=gen(13), dtype=D, requires_grad=True)
    coding_rate.pair_coding_rate_reduction(z1, z1.detach() + 0.1)["reduction"].backward()
    assert torch.isfinite(z1.grad).all()


def test_gradient_ascent_on_pair_reduction_aligns_pairs():
    g = gen(14)
    z1 = torch.randn(20, 6, generator=g, dtype=D, requires_grad=True)
    z2 = torch.randn(20, 6, generator=g, dtype=D, requires_grad=True)
    opt = torch.optim.Adam([z1, z2], lr=0.05)
    start = coding_rate.pair_coding_rate_reduction(z1, z2)
    for _ in range(100):
        opt.zero_grad()
        (-coding_rate.pair_coding_rate_reduction(z1, z2)["reduction"]).backward()
        opt.step()
    end = coding_rate.pair_coding_rate_reduction(z1, z2)
    assert end["reduction"].item() > start["reduction"].item()
    assert end["alignment"].item() < 0.1 * start["alignment"].item()


def test_validation_errors():
    z = torch.randn(10, 3, dtype=D)
    with pytest.raises(ValueError, match="memberships"):
        coding_rate.coding_rate_reduction_soft(z, torch.full((9, 2), 0.5, dtype=D))
    with pytest.raises(ValueError, match="memberships"):
        coding_rate.coding_rate_reduction_soft(z, torch.full((10, 2), 0.7, dtype=D))
    with pytest.raises(ValueError, match="memberships"):
        coding_rate.coding_rate_reduction_soft(z, torch.tensor([[1.5, -0.5]] * 10, dtype=D))
    with pytest.raises(TypeError, match="memberships"):
        coding_rate.coding_rate_reduction_soft(z, np.full((10, 2), 0.5))
    with pytest.raises(ValueError, match="eps"):
        coding_rate.coding_rate_reduction_soft(z, torch.full((10, 2), 0.5, dtype=D), eps=0)
    with pytest.raises(ValueError, match="same shape"):
        coding_rate.pair_coding_rate_reduction(z, z[:5])
    with pytest.raises(ValueError, match="nonzero"):
        coding_rate.pair_coding_rate_reduction(z, torch.zeros_like(z))
    with pytest.raises(TypeError, match="z1"):
        coding_rate.pair_coding_rate_reduction(z.numpy(), z)
    with pytest.raises(ValueError, match="eps"):
        coding_rate.pair_coding_rate_reduction(z, z, eps=-1.0)


def slow_rate(z, eps):
    n, k = z.shape
    return 0.5 * np.linalg.slogdet(np.eye(k) + k / (n * eps**2) * z.T @ z)[1]


def test_coding_rate_closed_forms():
    z = torch.randn(30, 5, dtype=D, generator=torch.Generator().manual_seed(0))
    assert coding_rate.coding_rate(z, 0.5).item() == pytest.approx(slow_rate(z.numpy(), 0.5))
    wide = torch.randn(4, 9, dtype=D)  # k > n: Gram form
    assert coding_rate.coding_rate(wide, 0.3).item() == pytest.approx(slow_rate(wide.numpy(), 0.3))
    # an orthonormal set of k vectors scaled by sqrt(n/k): Z^T Z = (n/k) I -> R = k/2 log(1 + 1/eps^2)
    q = torch.linalg.qr(torch.randn(12, 4, dtype=D))[0] * math.sqrt(12 / 4)
    eps = 0.5
    assert coding_rate.coding_rate(q, eps).item() == pytest.approx(4 / 2 * math.log(1 + 1 / eps**2))
    # rotation invariance
    rot = torch.linalg.qr(torch.randn(5, 5, dtype=D))[0]
    assert coding_rate.coding_rate(z @ rot, 0.5).item() == pytest.approx(coding_rate.coding_rate(z, 0.5).item())


def test_coding_rate_reduction_matches_loop_and_is_nonnegative():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(40, 6, dtype=D, generator=g)
    for labels in (np.repeat(np.arange(20), 2), np.arange(40) % 3, np.r_[np.zeros(5, int), np.ones(35, int)]):
        out = coding_rate.coding_rate_reduction(z, labels, eps=0.5)
        comp = sum((labels == c).sum() / 40 * slow_rate(z.numpy()[labels == c], 0.5) for c in np.unique(labels))
        assert out["compression"].item() == pytest.approx(comp)
        assert out["expansion"].item() == pytest.approx(slow_rate(z.numpy(), 0.5))
        assert out["reduction"].item() >= 0
    z.requires_grad_(True)
    coding_rate.coding_rate_reduction(z, np.arange(40) % 4)["reduction"].backward()
    assert torch.isfinite(z.grad).all()


def test_coding_rate_validation():
    z = torch.randn(10, 3)
    with pytest.raises(ValueError, match="eps"):
        coding_rate.coding_rate(z, eps=0)
    with pytest.raises(TypeError, match="z must be a torch.Tensor"):
        coding_rate.coding_rate(z.numpy())
    with pytest.raises(ValueError, match="labels must have length 10"):
        coding_rate.coding_rate_reduction(z, np.zeros(9, int))
