"""Tests of sslbook.vae: ELBO pieces against slow reference formulas, closed forms, training, validation."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from sslbook import losses, vae

D64 = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- single terms


def test_reparameterize_statistics_and_generator():
    mu = torch.full((20000, 3), 2.0, dtype=D64)
    logvar = torch.log(torch.tensor([0.25, 1.0, 4.0], dtype=D64)).expand(20000, 3)
    z = vae.reparameterize(mu, logvar, _gen(1))
    np.testing.assert_allclose(z.mean(0).numpy(), 2.0, atol=0.05)
    np.testing.assert_allclose(z.var(0).numpy(), [0.25, 1.0, 4.0], rtol=0.05)
    torch.testing.assert_close(z, vae.reparameterize(mu, logvar, _gen(1)))
    assert vae.reparameterize(mu[:2], logvar[:2]).shape == (2, 3)


def test_bernoulli_log_likelihood_matches_slow_formula():
    x = torch.rand(4, 2, 5, dtype=D64)
    out = torch.randn(4, 2, 5, dtype=D64)
    got = vae.reconstruction_log_likelihood(x, out, "bernoulli")
    ref = torch.zeros(4, 2, dtype=D64)
    for i in range(4):
        for j in range(2):
            for d in range(5):
                p = 1.0 / (1.0 + math.exp(-float(out[i, j, d])))
                xv = float(x[i, j, d])
                ref[i, j] += xv * math.log(p) + (1 - xv) * math.log(1 - p)
    torch.testing.assert_close(got, ref)


def test_gaussian_log_likelihood_matches_normal():
    x = torch.randn(6, 7, dtype=D64)
    out = torch.randn(6, 7, dtype=D64)
    got = vae.reconstruction_log_likelihood(x, out, "gaussian", sigma_x2=0.3)
    ref = Normal(out, math.sqrt(0.3)).log_prob(x).sum(-1)
    torch.testing.assert_close(got, ref)


def test_entropy_kl_and_standard_prior_match_torch_distributions():
    mu = torch.randn(5, 3, 4, dtype=D64)
    logvar = torch.randn(5, 3, 4, dtype=D64)
    q = Normal(mu, (0.5 * logvar).exp())
    torch.testing.assert_close(vae.gaussian_entropy(logvar), q.entropy().sum(-1))
    p0 = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(vae.gaussian_kl_standard(mu, logvar), kl_divergence(q, p0).sum(-1))
    z = torch.randn(5, 3, 4, dtype=D64)
    torch.testing.assert_close(vae.standard_log_prior(z), p0.log_prob(z).sum((1, 2)))
    # KL = -(entropy + E_q log N(z; 0, I)), with E_q log N = -1/2 (mu^2 + v) - 1/2 log 2 pi per dim
    e_log_p = (-0.5 * (mu.pow(2) + logvar.exp()) - 0.5 * math.log(2 * math.pi)).sum(-1)
    torch.testing.assert_close(vae.gaussian_kl_standard(mu, logvar), -(vae.gaussian_entropy(logvar) + e_log_p))


# ---------------------------------------------------------------- the SSL prior


def _ssl_prior_slow(z, sigma2, s2):
    """log of the J-view Gaussian with covariance sigma2 I_J + s2 11^T, independently per dimension."""
    n, j, l = z.shape
    cov = sigma2 * torch.eye(j, dtype=D64) + s2 * torch.ones(j, j, dtype=D64)
    mvn = MultivariateNormal(torch.zeros(j, dtype=D64), covariance_matrix=cov)
    out = torch.zeros(n, dtype=D64)
    for i in range(n):
        for d in range(l):
            out[i] += mvn.log_prob(z[i, :, d])
    return out


@pytest.mark.parametrize("j", [1, 2, 4, 7])
def test_ssl_prior_equals_direct_gaussian(j):
    z = torch.randn(6, j, 3, dtype=D64)
    got = vae.ssl_log_prior(z, sigma2=0.15, s2=1.3)
    torch.testing.assert_close(got, _ssl_prior_slow(z, 0.15, 1.3), atol=1e-9, rtol=0)


def test_ssl_prior_terms_attraction_is_explicit_sum():
    z = torch.randn(5, 3, 4, dtype=D64)
    t = vae.ssl_log_prior_terms(z, sigma2=0.2, s2=1.0)
    ref = torch.zeros(5, dtype=D64)
    for i in range(5):
        zbar = sum(z[i, k] for k in range(3)) / 3
        for k in range(3):
            ref[i] -= float(((z[i, k] - zbar) ** 2).sum()) / (2 * 0.2)
    torch.testing.assert_close(t["attraction"], ref)
    torch.testing.assert_close(t["log_prior"], t["attraction"] + t["center"] + t["normalizer"])
    assert set(t) == {"attraction", "center", "normalizer", "log_prior"}


def test_ssl_prior_monte_carlo_over_content():
    torch.manual_seed(0)
    z = torch.randn(1, 3, 2, dtype=D64)
    sigma2, s2 = 0.3, 1.0
    y = torch.randn(400_000, 1, 2, dtype=D64) * math.sqrt(s2)
    logs = Normal(y, math.sqrt(sigma2)).log_prob(z).sum((1, 2))
    mc = torch.logsumexp(logs, 0) - math.log(len(logs))
    assert abs(float(mc - vae.ssl_log_prior(z, sigma2, s2)[0])) < 0.02


def test_flat_prior_is_limit_of_gaussian_prior():
    z = torch.randn(4, 3, 5, dtype=D64)
    l = z.shape[2]
    big = 1e8
    limit = vae.ssl_log_prior(z, 0.15, big) + 0.5 * l * math.log(2 * math.pi * big)
    torch.testing.assert_close(vae.ssl_log_prior(z, 0.15, None), limit, atol=1e-5, rtol=0)
    t = vae.ssl_log_prior_terms(z, 0.15, None)
    assert float(t["center"].abs().max()) == 0.0


def test_vae_prior_is_ssl_prior_with_one_view():
    # J = 1 and s2 + sigma2 = 1: p(z) = N(0, I), the VAE's prior
    z = torch.randn(7, 1, 4, dtype=D64)
    torch.testing.assert_close(vae.ssl_log_prior(z, 0.15, 0.85), vae.standard_log_prior(z))


@pytest.mark.parametrize("s2", [1.0, None])
def test_expected_ssl_prior_matches_monte_carlo(s2):
    torch.manual_seed(1)
    mu = torch.randn(3, 4, 2, dtype=D64)
    logvar = torch.randn(3, 4, 2, dtype=D64) * 0.5 - 1.0
    exact = vae.expected_ssl_log_prior(mu, logvar, 0.15, s2)
    draws = 100_000
    z = mu + (0.5 * logvar).exp() * torch.randn(draws, 3, 4, 2, dtype=D64)
    mc = vae.ssl_log_prior(z.reshape(-1, 4, 2), 0.15, s2).reshape(draws, 3).mean(0)
    sd = vae.ssl_log_prior(z.reshape(-1, 4, 2), 0.15, s2).reshape(draws, 3).std(0) / math.sqrt(draws)
    assert bool((exact - mc).abs().le(5 * sd + 1e-9).all())


def test_expected_ssl_prior_at_zero_variance_is_prior_at_mean():
    mu = torch.randn(3, 2, 4, dtype=D64)
    logvar = torch.full_like(mu, -60.0)
    torch.testing.assert_close(vae.expected_ssl_log_prior(mu, logvar, 0.2, 2.0), vae.ssl_log_prior(mu, 0.2, 2.0))


# ---------------------------------------------------------------- discriminative links


def test_mixture_posterior_matches_slow_formula_and_excludes():
    z = torch.randn(4, 3, dtype=D64)
    means = torch.randn(5, 3, dtype=D64)
    got = vae.mixture_log_posterior(z, means, 0.4)
    for i in range(4):
        logits = [-float(((z[i] - means[k]) ** 2).sum()) / 0.8 for k in range(5)]
        ref = np.array(logits) - np.log(np.exp(logits).sum())
        np.testing.assert_allclose(got[i].numpy(), ref, atol=1e-12)
    mask = torch.zeros(4, 5, dtype=torch.bool)
    mask[:, 0] = True
    got = vae.mixture_log_posterior(z, means, 0.4, exclude=mask)
    assert bool(torch.isinf(got[:, 0]).all())
    torch.testing.assert_close(got[:, 1:].exp().sum(1), torch.ones(4, dtype=D64))


def test_nt_xent_is_mixture_posterior_with_sigma2_tau():
    torch.manual_seed(2)
    n, tau = 8, 0.3
    z1, z2 = torch.randn(n, 5, dtype=D64), torch.randn(n, 5, dtype=D64)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    lp = vae.mixture_log_posterior(z, z, tau, exclude=torch.eye(2 * n, dtype=torch.bool))
    pos = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    nll = -lp[torch.arange(2 * n), pos].mean()
    torch.testing.assert_close(nll, losses.nt_xent(z1, z2, temperature=tau))


def test_symmetric_info_nce_is_two_mixture_posteriors():
    torch.manual_seed(3)
    n, tau = 6, 0.5
    z1, z2 = torch.randn(n, 4, dtype=D64), torch.randn(n, 4, dtype=D64)
    u1, u2 = torch.nn.functional.normalize(z1, dim=1), torch.nn.functional.normalize(z2, dim=1)
    a = -vae.mixture_log_posterior(u1, u2, tau).diagonal().mean()
    b = -vae.mixture_log_posterior(u2, u1, tau).diagonal().mean()
    torch.testing.assert_close(0.5 * (a + b), losses.info_nce(z1, z2, temperature=tau, symmetric=True))


def test_mutual_information_closed_form_and_monotone():
    for sigma2, s2 in ((0.3, 1.0), (0.05, 2.0)):
        cov = torch.tensor([[s2 + sigma2, s2], [s2, s2 + sigma2]], dtype=D64)
        ref = 0.5 * math.log((s2 + sigma2) ** 2 / float(torch.linalg.det(cov)))
        assert vae.two_view_mutual_information(sigma2, s2) == pytest.approx(ref, rel=1e-12)
    assert vae.two_view_mutual_information(0.1, 1.0, dims=5) == pytest.approx(5 * vae.two_view_mutual_information(0.1))
    values = [vae.two_view_mutual_information(s) for s in (1.0, 0.3, 0.1, 0.01, 1e-4)]
    assert all(b > a for a, b in zip(values, values[1:]))
    assert values[0] == pytest.approx(0.144, abs=1e-3) and values[-1] == pytest.approx(4.259, abs=1e-3)


def test_within_group_share_collapse_and_model_value():
    g = _gen(4)
    n, j, k, sigma2, s2 = 4000, 4, 3, 0.2, 1.0
    y = torch.randn(n, 1, k, generator=g, dtype=D64) * math.sqrt(s2)
    z = y + torch.randn(n, j, k, generator=g, dtype=D64) * math.sqrt(sigma2)
    expected = (j - 1) / j * sigma2 / (sigma2 + s2)
    assert vae.within_group_variance_share(z) == pytest.approx(expected, abs=0.01)
    assert vae.within_group_variance_share(y.expand(n, j, k)) == pytest.approx(0.0, abs=1e-12)
    share = vae.within_group_variance_share(np.random.default_rng(0).normal(size=(500, 2, 3)))
    assert 0.4 < share < 0.6  # no grouping: about (J-1)/J = 1/2


# ---------------------------------------------------------------- models


def _views(n=16, j=2, d=12, seed=0):
    return torch.rand(n, j, d, generator=_gen(seed))


def test_encoder_decoder_shapes():
    enc = vae.GaussianEncoder(12, [8], 3)
    mu, logvar = enc(_views())
    assert mu.shape == (16, 2, 3) and logvar.shape == (16, 2, 3)
    dec = vae.Decoder(3, [8], 12)
    assert dec(mu).shape == (16, 2, 12)
    assert enc(torch.rand(5, 12))[0].shape == (5, 3)


def test_terms_are_consistent():
    torch.manual_seed(0)
    for cls in (vae.VAE, vae.SimVAE):
        m = cls(12, [8, 8], 3, beta=1.0)
        t = m.terms(_views(), generator=_gen(1))
        torch.testing.assert_close(t["elbo"], t["reconstruction"] + t["entropy"] + t["log_prior"])
        torch.testing.assert_close(t["loss"], -t["elbo"])
        m.beta = 0.3
        t = m.terms(_views(), generator=_gen(1))
        torch.testing.assert_close(t["loss"], -(t["reconstruction"] + 0.3 * (t["entropy"] + t["log_prior"])))
    assert "attraction" in vae.SimVAE(12, [8], 3).terms(_views(), generator=_gen(1))


def test_terms_match_manual_computation():
    torch.manual_seed(0)
    m = vae.SimVAE(12, [8], 3, sigma2=0.2, s2=1.0, beta=1.0)
    v = _views()
    t = m.terms(v, generator=_gen(2))
    mu, logvar = m.encoder(v)
    z = vae.reparameterize(mu, logvar, _gen(2))
    rec = vae.reconstruction_log_likelihood(v, m.decoder(z)).sum(1).mean()
    torch.testing.assert_close(t["reconstruction"], rec)
    torch.testing.assert_close(t["entropy"], vae.gaussian_entropy(logvar).sum(1).mean())
    torch.testing.assert_close(t["log_prior"], vae.ssl_log_prior(z, 0.2, 1.0).mean())


def test_simvae_differs_from_vae_only_in_the_prior():
    torch.manual_seed(0)
    a = vae.VAE(12, [8], 3, beta=0.5)
    b = vae.SimVAE(12, [8], 3, beta=0.5, sigma2=0.25, s2=0.75)
    b.load_state_dict(a.state_dict())
    v = _views(j=1)
    ta, tb = a.terms(v, generator=_gen(3)), b.terms(v, generator=_gen(3))
    for key in ("reconstruction", "entropy", "log_prior", "loss"):
        torch.testing.assert_close(ta[key], tb[key])
    v2 = _views(j=2)
    ta, tb = a.terms(v2, generator=_gen(3)), b.terms(v2, generator=_gen(3))
    torch.testing.assert_close(ta["reconstruction"], tb["reconstruction"])
    torch.testing.assert_close(ta["entropy"], tb["entropy"])
    assert not torch.allclose(ta["log_prior"], tb["log_prior"])


@pytest.mark.parametrize("cls", [vae.VAE, vae.SimVAE])
def test_gradient_steps_lower_the_loss(cls):
    torch.manual_seed(0)
    m = cls(12, [16], 3, beta=0.5)
    v = _views(n=32)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)

    def loss():
        return m.terms(v, generator=_gen(9))["loss"]

    start = float(loss().detach())
    for _ in range(30):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert float(loss().detach()) < start - 0.5


def test_attraction_gradient_pulls_views_together():
    z = torch.randn(4, 3, 2, dtype=D64, requires_grad=True)
    (-vae.ssl_log_prior_terms(z, 0.1)["attraction"].sum()).backward()
    zbar = z.detach().mean(1, keepdim=True)
    torch.testing.assert_close(z.grad, (z.detach() - zbar) / 0.1)


def test_encode_decode_reconstruct():
    m = vae.VAE(12, [8], 3)
    x = torch.rand(5, 12)
    r = m.reconstruct(x).detach()
    assert r.shape == (5, 12) and float(r.min()) >= 0 and float(r.max()) <= 1
    torch.testing.assert_close(m.encode(x), m.encoder(x)[0])
    assert m.latent == 3
    g = vae.VAE(12, [8], 3, likelihood="gaussian", sigma_x2=0.5)
    assert torch.isfinite(g.terms(_views())["loss"])


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call, err",
    [
        (lambda: vae.reparameterize(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError),
        (lambda: vae.reparameterize(np.zeros((2, 3)), torch.zeros(2, 3)), TypeError),
        (lambda: vae.reconstruction_log_likelihood(torch.full((2, 3), 1.5), torch.zeros(2, 3)), ValueError),
        (lambda: vae.reconstruction_log_likelihood(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError),
        (lambda: vae.reconstruction_log_likelihood(torch.zeros(2, 3), torch.zeros(2, 3), "poisson"), ValueError),
        (lambda: vae.reconstruction_log_likelihood(torch.zeros(2, 3), torch.zeros(2, 3), "gaussian", 0.0), ValueError),
        (lambda: vae.gaussian_entropy(torch.tensor(1.0)), ValueError),
        (lambda: vae.gaussian_entropy(torch.tensor([float("nan")])), ValueError),
        (lambda: vae.standard_log_prior(torch.zeros(2, 3)), ValueError),
        (lambda: vae.ssl_log_prior(torch.zeros(2, 3)), ValueError),
        (lambda: vae.ssl_log_prior(torch.zeros(2, 2, 3), sigma2=0.0), ValueError),
        (lambda: vae.ssl_log_prior(torch.zeros(2, 2, 3), s2=-1.0), ValueError),
        (lambda: vae.ssl_log_prior(torch.zeros(2, 2, 3), sigma2="a"), TypeError),
        (lambda: vae.expected_ssl_log_prior(torch.zeros(2, 2, 3), torch.zeros(2, 2, 2)), ValueError),
        (lambda: vae.mixture_log_posterior(torch.zeros(2, 3), torch.zeros(4, 2), 1.0), ValueError),
        (lambda: vae.mixture_log_posterior(torch.zeros(2, 3), torch.zeros(4, 3), 0.0), ValueError),
        (
            lambda: vae.mixture_log_posterior(torch.zeros(2, 3), torch.zeros(4, 3), 1.0, exclude=torch.zeros(2, 4)),
            TypeError,
        ),
        (
            lambda: vae.mixture_log_posterior(
                torch.zeros(2, 3), torch.zeros(4, 3), 1.0, exclude=torch.zeros(2, 3, dtype=torch.bool)
            ),
            ValueError,
        ),
        (
            lambda: vae.mixture_log_posterior(
                torch.zeros(2, 3), torch.zeros(4, 3), 1.0, exclude=torch.ones(2, 4, dtype=torch.bool)
            ),
            ValueError,
        ),
        (lambda: vae.two_view_mutual_information(0.0), ValueError),
        (lambda: vae.two_view_mutual_information(0.1, dims=0), ValueError),
        (lambda: vae.within_group_variance_share(np.zeros((5, 1, 2))), ValueError),
        (lambda: vae.within_group_variance_share(np.zeros((5, 2))), ValueError),
        (lambda: vae.within_group_variance_share("z"), TypeError),
        (lambda: vae.GaussianEncoder(12, [], 3), ValueError),
        (lambda: vae.GaussianEncoder(12, 8, 3), TypeError),
        (lambda: vae.GaussianEncoder(12, [8], 0), ValueError),
        (lambda: vae.GaussianEncoder(12, [8], 3, logvar_range=(1.0, -1.0)), ValueError),
        (lambda: vae.GaussianEncoder(12, [8], 3)(torch.zeros(2, 11)), ValueError),
        (lambda: vae.Decoder(3, [8], 12)(torch.zeros(2, 4)), ValueError),
        (lambda: vae.Decoder(3, [], 12), ValueError),
        (lambda: vae.VAE(12, [8], 3, likelihood="poisson"), ValueError),
        (lambda: vae.VAE(12, [8], 3, beta=0.0), ValueError),
        (lambda: vae.SimVAE(12, [8], 3, sigma2=-1.0), ValueError),
        (lambda: vae.SimVAE(12, [8], 3, s2=0.0), ValueError),
        (lambda: vae.VAE(12, [8], 3).terms(torch.zeros(4, 12)), ValueError),
        (lambda: vae.VAE(12, [8], 3).terms(torch.zeros(4, 2, 10)), ValueError),
    ],
)
def test_validation(call, err):
    with pytest.raises(err):
        call()
