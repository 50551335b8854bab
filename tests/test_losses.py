"""Each loss against a slow, obviously correct reference formula; gradient steps lower it; bad input raises."""

import math

import pytest
import torch

from sslbook import losses

D = torch.float64


def views(n=7, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g, dtype=D), torch.randn(n, k, generator=g, dtype=D)


def cos(u, v):
    return float(u @ v) / math.sqrt(float(u @ u) * float(v @ v))


def ref_info_nce(z1, z2, tau, similarity, symmetric):
    n = z1.shape[0]
    sim = (lambda u, v: cos(u, v)) if similarity == "cosine" else (lambda u, v: float(u @ v))

    def one_way(a, b):
        tot = 0.0
        for i in range(n):
            logits = [sim(a[i], b[j]) / tau for j in range(n)]
            tot += -logits[i] + math.log(sum(math.exp(s) for s in logits))
        return tot / n

    return 0.5 * (one_way(z1, z2) + one_way(z2, z1)) if symmetric else one_way(z1, z2)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("tau", [0.1, 0.5, 2.0])
def test_info_nce_matches_reference(similarity, symmetric, tau):
    z1, z2 = views()
    got = losses.info_nce(z1, z2, temperature=tau, similarity=similarity, symmetric=symmetric)
    assert got.item() == pytest.approx(ref_info_nce(z1, z2, tau, similarity, symmetric), rel=1e-10)
    t = losses.info_nce_terms(z1, z2, temperature=tau, similarity=similarity, symmetric=symmetric)
    assert (t["positive"] + t["log_partition"]).item() == pytest.approx(got.item())


def test_nt_xent_matches_reference():
    z1, z2 = views(5, 3)
    tau = 0.3
    z = torch.cat([z1, z2])
    n = z1.shape[0]
    tot = 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        denom = sum(math.exp(cos(z[i], z[j]) / tau) for j in range(2 * n) if j != i)
        tot += -math.log(math.exp(cos(z[i], z[pos]) / tau) / denom)
    assert losses.nt_xent(z1, z2, tau).item() == pytest.approx(tot / (2 * n), rel=1e-10)


def test_spectral_contrastive_matches_reference():
    z1, z2 = views(6, 3)
    n = 6
    att = -2 * sum(float(z1[i] @ z2[i]) for i in range(n)) / n
    rep = sum(float(z1[i] @ z2[j]) ** 2 for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    t = losses.spectral_contrastive_terms(z1, z2)
    assert t["attraction"].item() == pytest.approx(att)
    assert t["repulsion"].item() == pytest.approx(rep)
    assert losses.spectral_contrastive(z1, z2).item() == pytest.approx(att + rep)


def test_negative_cosine_and_simsiam():
    p1, p2 = views(5, 3, seed=1)
    z1, z2 = views(5, 3, seed=2)
    ref = -sum(cos(p1[i], z2[i]) for i in range(5)) / 5
    assert losses.negative_cosine(p1, z2).item() == pytest.approx(ref)
    ref2 = 0.5 * ref - 0.5 * sum(cos(p2[i], z1[i]) for i in range(5)) / 5
    assert losses.simsiam(p1, p2, z1, z2).item() == pytest.approx(ref2)


def test_simsiam_stops_gradient_to_targets():
    p = torch.randn(4, 3, requires_grad=True)
    z = torch.randn(4, 3, requires_grad=True)
    losses.negative_cosine(p, z).backward()
    assert z.grad is None and p.grad is not None
    z2 = torch.randn(4, 3, requires_grad=True)
    losses.negative_cosine(p, z2, stop_gradient=False).backward()
    assert z2.grad is not None


def standardise(col):
    n = len(col)
    m = sum(col) / n
    sd = math.sqrt(sum((c - m) ** 2 for c in col) / n)
    return [(c - m) / (sd + 1e-5) for c in col]


def test_barlow_twins_matches_reference():
    z1, z2 = views(8, 3)
    n, k = z1.shape
    a = [standardise([float(z1[i, j]) for i in range(n)]) for j in range(k)]
    b = [standardise([float(z2[i, j]) for i in range(n)]) for j in range(k)]
    c = [[sum(a[p][i] * b[q][i] for i in range(n)) / n for q in range(k)] for p in range(k)]
    inv = sum((1 - c[p][p]) ** 2 for p in range(k))
    red = sum(c[p][q] ** 2 for p in range(k) for q in range(k) if p != q)
    t = losses.barlow_twins_terms(z1, z2, lam=0.1)
    assert t["invariance"].item() == pytest.approx(inv)
    assert t["redundancy"].item() == pytest.approx(red)
    assert losses.barlow_twins(z1, z2, lam=0.1).item() == pytest.approx(inv + 0.1 * red)


def test_vicreg_matches_reference():
    z1, z2 = views(9, 3)
    n, k = z1.shape
    inv = sum(float((z1[i, j] - z2[i, j]) ** 2) for i in range(n) for j in range(k)) / (n * k)

    def var_cov(z):
        cols = [[float(z[i, j]) for i in range(n)] for j in range(k)]
        means = [sum(c) / n for c in cols]
        cov = [
            [sum((cols[p][i] - means[p]) * (cols[q][i] - means[q]) for i in range(n)) / (n - 1) for q in range(k)]
            for p in range(k)
        ]
        var = sum(max(0.0, 1.0 - math.sqrt(cov[j][j] + 1e-4)) for j in range(k)) / k
        off = sum(cov[p][q] ** 2 for p in range(k) for q in range(k) if p != q) / k
        return var, off

    v1, c1 = var_cov(z1)
    v2, c2 = var_cov(z2)
    t = losses.vicreg_terms(z1, z2)
    assert t["invariance"].item() == pytest.approx(inv)
    assert t["variance"].item() == pytest.approx(v1 + v2)
    assert t["covariance"].item() == pytest.approx(c1 + c2)
    assert t["loss"].item() == pytest.approx(25 * inv + 25 * (v1 + v2) + (c1 + c2))


@pytest.mark.parametrize("name", ["info_nce", "nt_xent", "spectral_contrastive", "barlow_twins", "vicreg"])
def test_gradient_steps_lower_the_loss(name):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, generator=g)
    w = torch.nn.Parameter(0.3 * torch.randn(6, 4, generator=g))
    fn = getattr(losses, name)
    noise = [0.1 * torch.randn(64, 6, generator=g) for _ in range(2)]

    def loss():
        return fn((x + noise[0]) @ w, (x + noise[1]) @ w)

    opt = torch.optim.SGD([w], lr=0.01)
    before = loss().item()
    for _ in range(20):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < before


@pytest.mark.parametrize(
    "fn",
    [
        losses.info_nce,
        losses.nt_xent,
        losses.spectral_contrastive,
        losses.barlow_twins,
        losses.vicreg,
        losses.info_nce_terms,
        losses.vicreg_terms,
    ],
)
def test_validation(fn):
    z = torch.randn(5, 3)
    with pytest.raises(TypeError, match="z1"):
        fn(z.numpy(), z)
    with pytest.raises(ValueError, match="same shape"):
        fn(z, torch.randn(4, 3))
    with pytest.raises(ValueError, match="z2"):
        fn(z, torch.randn(5))
    bad = z.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="z1 contains NaN"):
        fn(bad, z)
    with pytest.raises(ValueError, match="at least 2"):
        fn(z[:1], z[:1])
    with pytest.raises(TypeError, match="floating"):
        fn(torch.ones(5, 3, dtype=torch.long), torch.ones(5, 3, dtype=torch.long))


def test_hyperparameter_validation():
    z1, z2 = views()
    with pytest.raises(ValueError, match="temperature"):
        losses.info_nce(z1, z2, temperature=0.0)
    with pytest.raises(ValueError, match="temperature"):
        losses.nt_xent(z1, z2, temperature=-1.0)
    with pytest.raises(ValueError, match="similarity"):
        losses.info_nce(z1, z2, similarity="l2")
    with pytest.raises(TypeError, match="symmetric"):
        losses.info_nce(z1, z2, symmetric="yes")
    with pytest.raises(ValueError, match="lam"):
        losses.barlow_twins(z1, z2, lam=-0.1)
    with pytest.raises(ValueError, match="gamma"):
        losses.vicreg(z1, z2, gamma=0)
    with pytest.raises(ValueError, match="variance_weight"):
        losses.vicreg(z1, z2, variance_weight=-1)
    with pytest.raises(ValueError, match="p1 and z1"):
        losses.simsiam(z1, z2, z1[:, :2], z2[:, :2])


TWO_VIEW = [
    losses.info_nce,
    losses.nt_xent,
    losses.spectral_contrastive,
    losses.barlow_twins,
    losses.vicreg,
    losses.clip,
    losses.info_nce_terms,
    losses.barlow_twins_terms,
    losses.vicreg_terms,
    losses.clip_terms,
    losses.spectral_contrastive_terms,
]


@pytest.mark.parametrize("fn", TWO_VIEW)
@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_view_is_named(fn, which, value):
    """Finiteness is checked on the loss, yet the error still names the view that holds the bad entry."""
    z = [torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)]
    z[which][2, 1] = value
    with pytest.raises(ValueError, match=f"z{which + 1} contains NaN or infinite"):
        fn(*z)


@pytest.mark.parametrize("fn", [losses.simsiam, losses.simsiam_l2])
@pytest.mark.parametrize("which", range(4))
def test_non_finite_simsiam_input_is_named(fn, which):
    args = [torch.randn(5, 3) for _ in range(4)]
    args[which][0, 0] = float("nan")
    with pytest.raises(ValueError, match=f"{['p1', 'p2', 'z1', 'z2'][which]} contains NaN"):
        fn(*args)


def test_negative_cosine_names_its_own_arguments():
    p, z = torch.randn(4, 3), torch.randn(4, 3)
    with pytest.raises(ValueError, match="p and z must have the same shape"):
        losses.negative_cosine(p, z[:, :2])
    z[1, 1] = float("inf")
    with pytest.raises(ValueError, match="z contains NaN"):
        losses.negative_cosine(p, z)


def test_overflow_with_finite_inputs_is_an_error():
    z1 = torch.full((4, 2), 3e38)  # finite float32 entries whose products overflow
    with pytest.raises(ValueError, match="overflowed"):
        losses.info_nce(z1, z1.clone(), similarity="dot")


def test_checks_on_large_finite_tensors_do_not_false_alarm():
    """The sum-based fast path overflows for huge finite entries; the slow path must then clear them."""
    from sslbook import _checks

    x = torch.full((10, 10), 3e38)
    assert _checks.tensor(x, "x") is x
    x[3, 3] = float("nan")
    with pytest.raises(ValueError, match="x contains NaN"):
        _checks.tensor(x, "x")


def test_array_check_fast_path_and_fallback():
    import numpy as np

    from sslbook import _checks

    big = np.full((4, 4), 1e308)  # finite, but the sum overflows: the full check must clear it
    assert _checks.array(big, "big") is not None
    for bad in (np.nan, np.inf, -np.inf):
        a = np.ones((3, 3))
        a[1, 2] = bad
        with pytest.raises(ValueError, match="a contains NaN"):
            _checks.array(a, "a")
