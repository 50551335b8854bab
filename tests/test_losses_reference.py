"""Every loss against the paper's formula and against the reference implementation's formula (issue 20).

The reference formulas are written here from the papers and from what the public reference code
computes (SimCLR/solo-learn/lightly for NT-Xent, the SimSiam and CLIP pseudo-code, the official
Barlow Twins and VICReg code, lightly's losses), in plain float64 loops or one-liners; no library
code is copied. Where :mod:`sslbook.losses` follows a different convention than a reference
implementation, the test pins down the difference stated in the loss's docstring.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sslbook import losses

D = torch.float64


def views(n=16, k=6, seed=0, scale=1.0, noise=0.3):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, k, generator=g, dtype=D)
    return scale * z1, scale * (z1 + noise * torch.randn(n, k, generator=g, dtype=D))


def cos(a, b):
    return float(a @ b) / (float(a.norm()) * float(b.norm()))


# --- InfoNCE / NT-Xent / CLIP ------------------------------------------------------------------


def paper_info_nce(z1, z2, tau):
    """van den Oord et al. (2018), symmetrised: mean over anchors of -log softmax of the positive."""
    n = z1.shape[0]
    one = (
        sum(
            -cos(z1[i], z2[i]) / tau + math.log(sum(math.exp(cos(z1[i], z2[j]) / tau) for j in range(n)))
            for i in range(n)
        )
        / n
    )
    two = (
        sum(
            -cos(z2[i], z1[i]) / tau + math.log(sum(math.exp(cos(z2[i], z1[j]) / tau) for j in range(n)))
            for i in range(n)
        )
        / n
    )
    return 0.5 * (one + two)


def simclr_nt_xent(z1, z2, tau):
    """SimCLR's NT-Xent as the reference implementations compute it: 2n anchors, the diagonal masked,
    the positive of row i at row (i + n) mod 2n, cross-entropy averaged over the 2n rows."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / tau
    logits.fill_diagonal_(-float("inf"))
    target = (torch.arange(2 * n) + n) % (2 * n)
    return float(F.cross_entropy(logits, target))


def paper_nt_xent(z1, z2, tau):
    """Chen et al. (2020), eq. (1): l(i, j) = -log exp(s_ij/t) / sum_{k != i} exp(s_ik/t), averaged over 2n."""
    z = torch.cat([z1, z2])
    n2 = z.shape[0]
    total = 0.0
    for i in range(n2):
        j = (i + n2 // 2) % n2
        den = sum(math.exp(cos(z[i], z[m]) / tau) for m in range(n2) if m != i)
        total += -math.log(math.exp(cos(z[i], z[j]) / tau) / den)
    return total / n2


def clip_pseudocode(z1, z2, tau):
    """Radford et al. (2021), Figure 3: logits = normalised I_e @ T_e^T / t; mean of both cross-entropies."""
    logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / tau
    labels = torch.arange(z1.shape[0])
    return 0.5 * float(F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
def test_info_nce_nt_xent_clip_against_paper_and_reference_code(tau):
    z1, z2 = views()
    assert float(losses.info_nce(z1, z2, tau)) == pytest.approx(paper_info_nce(z1, z2, tau), rel=1e-12)
    assert float(losses.nt_xent(z1, z2, tau)) == pytest.approx(simclr_nt_xent(z1, z2, tau), rel=1e-12)
    assert float(losses.nt_xent(z1, z2, tau)) == pytest.approx(paper_nt_xent(z1, z2, tau), rel=1e-12)
    assert float(losses.clip(z1, z2, tau)) == pytest.approx(clip_pseudocode(z1, z2, tau), rel=1e-12)
    assert float(losses.clip(z1, z2, tau)) == pytest.approx(paper_info_nce(z1, z2, tau), rel=1e-12)


# --- SimSiam, negative cosine, spectral contrastive ----------------------------------------------


def simsiam_pseudocode(p1, p2, z1, z2):
    """Chen & He (2021), Algorithm 1: D(p, z) = -(normalize(p) * normalize(z)).sum(1).mean()."""

    def d(p, z):
        return -(F.normalize(p, dim=1) * F.normalize(z.detach(), dim=1)).sum(1).mean()

    return float(0.5 * d(p1, z2) + 0.5 * d(p2, z1))


def test_simsiam_and_negative_cosine_against_reference():
    p1, p2 = views(seed=1)
    z1, z2 = views(seed=2)
    assert float(losses.simsiam(p1, p2, z1, z2)) == pytest.approx(simsiam_pseudocode(p1, p2, z1, z2), rel=1e-12)
    ref = -sum(cos(p1[i], z1[i]) for i in range(p1.shape[0])) / p1.shape[0]
    assert float(losses.negative_cosine(p1, z1)) == pytest.approx(ref, rel=1e-12)
    l2 = 0.5 * (0.5 * ((p1 - z2) ** 2).sum(1).mean() + 0.5 * ((p2 - z1) ** 2).sum(1).mean())
    assert float(losses.simsiam_l2(p1, p2, z1, z2)) == pytest.approx(float(l2), rel=1e-12)


def test_spectral_contrastive_against_paper():
    """HaoChen et al. (2021), eq. (5) on a batch: -2 E[z1_i . z2_i] + E_{i != j}[(z1_i . z2_j)^2]."""
    z1, z2 = views()
    n = z1.shape[0]
    pos = sum(float(z1[i] @ z2[i]) for i in range(n)) / n
    neg = sum(float(z1[i] @ z2[j]) ** 2 for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    assert float(losses.spectral_contrastive(z1, z2)) == pytest.approx(-2 * pos + neg, rel=1e-12)


# --- Barlow Twins ------------------------------------------------------------------------------


def barlow(z1, z2, lam, standardise):
    n = z1.shape[0]
    c = standardise(z1).T @ standardise(z2) / n
    d = torch.diagonal(c)
    return float(((1 - d) ** 2).sum() + lam * ((c**2).sum() - (d**2).sum()))


def paper_std(z):  # Zbontar et al. (2021), eq. (2): the correlation, no epsilon
    return (z - z.mean(0)) / z.std(0, unbiased=False)


def official_std(z):  # BatchNorm1d(affine=False) of the official code and solo-learn
    return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)


def lightly_std(z):  # lightly: unbiased std, no epsilon
    return (z - z.mean(0)) / z.std(0)


def sslbook_std(z):  # the convention of sslbook.losses.barlow_twins (documented there)
    return (z - z.mean(0)) / (z.std(0, unbiased=False) + 1e-5)


def test_barlow_twins_convention_and_its_distance_to_the_references():
    z1, z2 = views(256, 8, seed=0)
    for lam in (5e-3, 0.05):
        assert float(losses.barlow_twins(z1, z2, lam)) == pytest.approx(barlow(z1, z2, lam, sslbook_std), rel=1e-12)
    ours = float(losses.barlow_twins(z1, z2, 5e-3))
    # unit scale: the paper and the official code within 0.1 %, lightly (diagonal (n-1)/n) further off
    assert abs(ours / barlow(z1, z2, 5e-3, paper_std) - 1) < 1e-3
    assert abs(ours / barlow(z1, z2, 5e-3, official_std) - 1) < 1e-3
    assert abs(ours / barlow(z1, z2, 5e-3, lightly_std) - 1) < 0.3
    # the epsilon matters once the feature scale approaches it (the docstring quotes 8 % at 0.01)
    s1, s2 = 0.01 * z1, 0.01 * z2
    gap = float(losses.barlow_twins(s1, s2, 5e-3)) / barlow(s1, s2, 5e-3, paper_std) - 1
    assert 0.02 < gap < 0.2
    # identical views: the paper's loss is 0, lightly's is not (its diagonal is (n-1)/n)
    n = z1.shape[0]
    assert torch.diagonal(paper_std(z1).T @ paper_std(z1) / n) == pytest.approx(torch.ones(8, dtype=D), rel=1e-12)
    assert torch.diagonal(lightly_std(z1).T @ lightly_std(z1) / n) == pytest.approx(
        torch.full((8,), (n - 1) / n, dtype=D), rel=1e-12
    )
    assert float(losses.barlow_twins_terms(z1, z1)["invariance"]) < 1e-8  # ours: 1 up to the epsilon


# --- VICReg ------------------------------------------------------------------------------------


def vicreg_paper(z1, z2, sim, var, cov, gamma=1.0, eps=1e-4):
    """Bardes et al. (2022), eqs. (1)-(6): lambda s + mu [v(Z) + v(Z')] + nu [c(Z) + c(Z')]."""
    n, k = z1.shape

    def v(z):
        return sum(max(0.0, gamma - math.sqrt(float(z[:, j].var()) + eps)) for j in range(k)) / k

    def c(z):
        zc = z - z.mean(0)
        m = zc.T @ zc / (n - 1)
        return sum(float(m[i, j]) ** 2 for i in range(k) for j in range(k) if i != j) / k

    s = float(((z1 - z2) ** 2).sum()) / (n * k)  # F.mse_loss: mean over the n k entries
    return sim * s + var * (v(z1) + v(z2)) + cov * (c(z1) + c(z2))


def vicreg_official(z1, z2, sim_coeff, std_coeff, cov_coeff):
    """The official VICReg code (and lightly): the variance term is averaged over the two views."""
    n, k = z1.shape
    repr_loss = F.mse_loss(z1, z2)
    x, y = z1 - z1.mean(0), z2 - z2.mean(0)
    std_x, std_y = torch.sqrt(x.var(0) + 1e-4), torch.sqrt(y.var(0) + 1e-4)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
    cx, cy = x.T @ x / (n - 1), y.T @ y / (n - 1)
    off = ~torch.eye(k, dtype=torch.bool)
    cov_loss = cx[off].pow(2).sum() / k + cy[off].pow(2).sum() / k
    return float(sim_coeff * repr_loss + std_coeff * std_loss + cov_coeff * cov_loss)


def test_vicreg_follows_the_paper_and_equals_the_official_code_with_twice_the_variance_weight():
    z1, z2 = views(64, 5, seed=4, scale=0.5)
    ours = float(losses.vicreg(z1, z2))
    assert ours == pytest.approx(vicreg_paper(z1, z2, 25.0, 25.0, 1.0), rel=1e-12)
    # the chapters' variance_weight = 25 is std_coeff = 50 in the official code and lightly
    assert ours == pytest.approx(vicreg_official(z1, z2, 25.0, 50.0, 1.0), rel=1e-12)
    assert float(losses.vicreg(z1, z2, variance_weight=12.5)) == pytest.approx(
        vicreg_official(z1, z2, 25.0, 25.0, 1.0), rel=1e-12
    )
    assert ours != pytest.approx(vicreg_official(z1, z2, 25.0, 25.0, 1.0), rel=1e-3)  # the conventions differ
