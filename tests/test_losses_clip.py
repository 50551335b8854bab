"""CLIP's cross-modal InfoNCE and the squared-error SimSiam: slow references, gradients, validation."""

import math

import pytest
import torch
import torch.nn.functional as F

from sslbook import data, losses

D = torch.float64


def views(n=6, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g, dtype=D), torch.randn(n, k, generator=g, dtype=D)


def ref_clip(z1, z2, tau, similarity):
    n = z1.shape[0]

    def sim(u, v):
        dot = float(u @ v)
        return dot if similarity == "dot" else dot / math.sqrt(float(u @ u) * float(v @ v))

    s = [[sim(z1[i], z2[j]) / tau for j in range(n)] for i in range(n)]
    rows = sum(-s[i][i] + math.log(sum(math.exp(s[i][j]) for j in range(n))) for i in range(n)) / n
    cols = sum(-s[j][j] + math.log(sum(math.exp(s[i][j]) for i in range(n))) for j in range(n)) / n
    return rows, cols


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("tau", [0.07, 0.5, 2.0])
def test_clip_matches_reference(similarity, tau):
    z1, z2 = views()
    rows, cols = ref_clip(z1, z2, tau, similarity)
    t = losses.clip_terms(z1, z2, temperature=tau, similarity=similarity)
    assert t["loss"].item() == pytest.approx(0.5 * (rows + cols), rel=1e-10)
    positive = (
        -sum(
            (float(z1[i] @ z2[i]) if similarity == "dot" else float(F.cosine_similarity(z1[i], z2[i], dim=0))) / tau
            for i in range(z1.shape[0])
        )
        / z1.shape[0]
    )
    assert t["positive"].item() == pytest.approx(positive, rel=1e-10)
    assert (t["positive"] + t["log_partition"]).item() == pytest.approx(t["loss"].item(), rel=1e-12)
    assert losses.clip(z1, z2, tau, similarity).item() == pytest.approx(0.5 * (rows + cols), rel=1e-10)
    # CLIP is the symmetric InfoNCE applied across modalities
    sym = losses.info_nce(z1, z2, temperature=tau, similarity=similarity, symmetric=True)
    assert losses.clip(z1, z2, tau, similarity).item() == pytest.approx(sym.item(), rel=1e-10)


def test_clip_defaults_and_closed_form():
    # identical, orthogonal unit embeddings: logits 1/tau on the diagonal, 0 elsewhere
    n, tau = 4, 0.5
    z = torch.eye(n, dtype=D)
    expected = -1 / tau + math.log(math.exp(1 / tau) + (n - 1))
    assert losses.clip(z, z, temperature=tau).item() == pytest.approx(expected)
    z1, z2 = views()
    assert losses.clip(z1, z2).item() == pytest.approx(losses.clip(z1, z2, 0.07, "cosine").item())


def test_clip_gradient_steps_lower_it():
    z1, z2 = views(8, 3, seed=1)
    w1 = torch.randn(3, 3, dtype=D, requires_grad=True)
    w2 = torch.randn(3, 3, dtype=D, requires_grad=True)
    opt = torch.optim.SGD([w1, w2], lr=0.05)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = losses.clip(z1 @ w1, z2 @ w2, temperature=1.0, similarity="dot")
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    assert losses.clip(z1 @ w1, z2 @ w2, 1.0, "dot").item() < first


def test_clip_trains_on_the_two_modality_mixture():
    g = torch.Generator().manual_seed(0)
    tm = data.two_modality_mixture(k=3, d1=6, d2=5, private1=2, private2=2, radius=3.0, generator=g)
    w1 = (0.1 * torch.randn(2, 6, generator=g)).requires_grad_()
    w2 = (0.1 * torch.randn(2, 5, generator=g)).requires_grad_()
    opt = torch.optim.Adam([w1, w2], lr=0.03)
    for _ in range(200):
        s = tm.sample(128, generator=g)
        opt.zero_grad()
        losses.clip(s.x @ w1.T, s.y @ w2.T, temperature=1.0, similarity="dot").backward()
        opt.step()
    split = tm.variance_split(w1.detach(), 1)
    assert split["shared"] > 0.9 and split["private"] < 0.05


def test_clip_validation():
    z1, z2 = views()
    with pytest.raises(ValueError, match="same shape"):
        losses.clip(z1, z2[:, :2])
    with pytest.raises(ValueError, match="at least 2"):
        losses.clip(z1[:1], z2[:1])
    with pytest.raises(ValueError, match="temperature"):
        losses.clip(z1, z2, temperature=0.0)
    with pytest.raises(ValueError, match="similarity"):
        losses.clip(z1, z2, similarity="euclid")
    with pytest.raises(TypeError, match="z1"):
        losses.clip([[1.0]], z2)
    with pytest.raises(ValueError, match="NaN"):
        losses.clip_terms(z1 * float("nan"), z2)


def test_simsiam_l2_matches_reference():
    p1, p2 = views(5, 3, seed=2)
    z1, z2 = views(5, 3, seed=3)
    d12 = sum(0.5 * float(((p1[i] - z2[i]) ** 2).sum()) for i in range(5)) / 5
    d21 = sum(0.5 * float(((p2[i] - z1[i]) ** 2).sum()) for i in range(5)) / 5
    assert losses.simsiam_l2(p1, p2, z1, z2).item() == pytest.approx(0.5 * (d12 + d21))
    assert losses.simsiam_l2(z2, z1, z1, z2).item() == pytest.approx(0.0)


def test_simsiam_l2_stops_gradient_and_descends():
    p1, p2 = views(6, 2, seed=4)
    z1, z2 = (v.clone().requires_grad_() for v in views(6, 2, seed=5))
    p1.requires_grad_()
    losses.simsiam_l2(p1, p2, z1, z2).backward()
    assert z1.grad is None and z2.grad is None
    assert torch.allclose(p1.grad, 0.5 * (p1 - z2).detach() / 6)
    # gradient steps on the predictor outputs lower the loss
    p = p1.detach().clone().requires_grad_()
    before = losses.simsiam_l2(p, p2, z1, z2).item()
    for _ in range(20):
        loss = losses.simsiam_l2(p, p2, z1, z2)
        (g,) = torch.autograd.grad(loss, p)
        p = (p - 1.0 * g).detach().requires_grad_()
    assert losses.simsiam_l2(p, p2, z1, z2).item() < before


def test_simsiam_l2_population_gradients():
    g = torch.Generator().manual_seed(0)
    cov = data.spiked_covariance(5, 1, 4.0, generator=g)
    means = data.separated_means(3, 5, cov, 2.0, generator=g)
    prs = data.SameComponentPairs(means, cov)
    mom = prs.second_moments()
    c, m = mom["total"], mom["cross"]
    a = torch.randn(2, 5, generator=g, dtype=D).requires_grad_()
    p = (torch.eye(2, dtype=D) + 0.2 * torch.randn(2, 2, generator=g, dtype=D)).requires_grad_()
    b = prs.sample(200000, generator=g, dtype=D)
    z1, z2 = b.x1 @ a.T, b.x2 @ a.T
    losses.simsiam_l2(z1 @ p.T, z2 @ p.T, z1, z2).backward()
    with torch.no_grad():
        g_p = p @ a @ c @ a.T - a @ m @ a.T
        g_a = p.T @ (p @ a @ c - a @ m)
    assert float((a.grad - g_a).norm() / g_a.norm()) < 0.05
    assert float((p.grad - g_p).norm() / g_p.norm()) < 0.05


def test_simsiam_l2_validation():
    p1, p2 = views()
    with pytest.raises(ValueError, match="same shape"):
        losses.simsiam_l2(p1, p2, p1[:, :2], p2[:, :2])
    with pytest.raises(ValueError, match="same shape"):
        losses.simsiam_l2(p1, p2[:3], p1, p2)
    with pytest.raises(TypeError, match="p1"):
        losses.simsiam_l2(None, p2, p1, p2)
