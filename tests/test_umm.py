"""The UMM building blocks and the bi-level step (book's reconstruction of Qiang et al. 2024)."""

import copy
import math

import numpy as np
import pytest
import torch

from sslbook import coding_rate, losses, models, probing, umm
from sslbook.data import causal_data

D = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def slow_log_distribution(h, t):
    h = np.asarray(h, dtype=float)
    h = h / np.linalg.norm(h, axis=1, keepdims=True)
    n = h.shape[0]
    out = np.zeros((n, n - 1))
    for i in range(n):
        others = [j for j in range(n) if j != i]
        s = np.array([h[i] @ h[j] / t for j in others])
        out[i] = s - np.log(np.exp(s).sum())
    return out


def test_similarity_distribution_matches_loop():
    h = torch.randn(7, 4, generator=gen(1), dtype=D)
    got = umm.similarity_log_distribution(h, 0.3)
    assert got.shape == (7, 6)
    assert np.allclose(got.numpy(), slow_log_distribution(h, 0.3))
    assert torch.allclose(got.exp().sum(1), torch.ones(7, dtype=D))


def test_similarity_kl_matches_loop_and_is_zero_for_equal_geometry():
    h = torch.randn(9, 5, generator=gen(2), dtype=D)
    z = torch.randn(9, 3, generator=gen(3), dtype=D)
    p, q = slow_log_distribution(h, 0.2), slow_log_distribution(z, 0.2)
    want = (np.exp(p) * (p - q)).sum(1).mean()
    assert umm.similarity_kl(h, z, 0.2).item() == pytest.approx(want, rel=1e-10)
    assert umm.similarity_kl(h, z, 0.2).item() > 0
    rot = torch.linalg.qr(torch.randn(5, 5, generator=gen(4), dtype=D))[0]
    assert umm.similarity_kl(h, 2.5 * h @ rot, 0.2).item() == pytest.approx(0.0, abs=1e-12)


def test_early_prior_finds_separated_clusters():
    g = gen(5)
    centers = 10 * torch.randn(4, 6, generator=g, dtype=D)
    y = torch.arange(200) % 4
    h = centers[y] + 0.3 * torch.randn(200, 6, generator=g, dtype=D)
    prior = umm.early_prior(h, n_clusters=4, generator=gen(6), iters=30)
    pi = prior.memberships(h)
    assert pi.shape == (200, 4) and torch.allclose(pi.sum(1), torch.ones(200, dtype=D))
    hard = pi.argmax(1)
    # each true cluster maps to one prior cluster (up to relabelling), with confident memberships
    assert all(len(torch.unique(hard[y == c])) == 1 for c in range(4))
    assert len(torch.unique(hard)) == 4
    assert prior.temperature > 0 and pi.max(1).values.median() > 0.9


def test_freeze_early():
    torch.manual_seed(0)
    net = models.MLP([4, 6, 6, 6, 2], batch_norm=True)
    late = umm.freeze_early(net, 2)
    assert all(not p.requires_grad for b in net.layers[:2] for p in b.parameters())
    assert all(p.requires_grad for p in late)
    assert len(late) == sum(1 for b in net.layers[2:] for _ in b.parameters())
    assert not net.layers[0].training and net.layers[2].training


def make_setup(seed=0, prior=True, second_order=True, gamma=1.0, lam=5.0):
    d = causal_data(60, k=3, d_signal=3, d_detail=4, d_style=4, generator=gen(seed))
    torch.manual_seed(seed)
    net = models.MLP([11, 16, 16, 8], batch_norm=True)
    p = None
    if prior:
        p = umm.early_prior(probing.layer_features(net, d.x)[0], n_clusters=5, generator=gen(seed + 1))
    fixer = umm.UMM(
        net,
        1,
        lambda a, b: losses.nt_xent(a, b, 0.5),
        prior=p,
        gamma=gamma,
        lam=lam,
        inner_lr=1e-2,
        lr=1e-2,
        second_order=second_order,
    )
    return d, net, fixer


def test_terms_match_direct_computation():
    d, net, fixer = make_setup()
    x1, x2 = d.view(d.x[:20], generator=gen(2)), d.view(d.x[:20], generator=gen(3))
    t = fixer.terms(x1, x2)
    assert set(t) == {"ssl", "similarity_kl", "reduction"}
    with torch.no_grad():
        h = net.layers[0](torch.cat([x1, x2]))
        z = net.layers[2](net.layers[1](h))
    assert t["ssl"].item() == pytest.approx(losses.nt_xent(z[:20], z[20:], 0.5).item(), rel=1e-5)
    assert t["similarity_kl"].item() == pytest.approx(umm.similarity_kl(h, z, 0.1).item(), rel=1e-5)
    want = coding_rate.coding_rate_reduction_soft(torch.nn.functional.normalize(z, dim=1), fixer.prior.memberships(h))
    assert t["reduction"].item() == pytest.approx(want["reduction"].item(), rel=1e-5)
    assert fixer.inner_loss(t).item() == pytest.approx((t["ssl"] + t["similarity_kl"]).item())
    assert fixer.outer_loss(t).item() == pytest.approx((t["ssl"] - 5.0 * t["reduction"]).item())
    # without a prior, the outer reduction uses the augmentation-pair partition
    _, _, pair_fixer = make_setup(prior=False)
    tp = pair_fixer.terms(x1, x2)
    assert tp["reduction"].item() == pytest.approx(
        coding_rate.pair_coding_rate_reduction(z[:20], z[20:])["reduction"].item(), rel=1e-4
    )


def test_lookahead_parameters_give_the_functional_forward():
    d, net, fixer = make_setup()
    x1, x2 = d.view(d.x[:20], generator=gen(4)), d.view(d.x[:20], generator=gen(5))
    params = dict(fixer._late.named_parameters())
    shifted = {k: v + 0.01 for k, v in params.items()}
    manual = copy.deepcopy(net)
    with torch.no_grad():
        for p in manual.layers[1:].parameters():
            p.add_(0.01)
    h = fixer.early(torch.cat([x1, x2]))
    assert torch.allclose(fixer.late(h, shifted), manual.layers[2](manual.layers[1](h)), atol=1e-5)


def deterministic_setup(second_order):
    """float64 network with batch norm in evaluation mode, so the loss is a smooth function."""
    d, net, fixer = make_setup(second_order=second_order)
    net.double()
    fixer.prior = umm.EarlyPrior(fixer.prior.centers.double(), fixer.prior.temperature)
    net.eval()
    x1, x2 = d.view(d.x[:20].double(), generator=gen(6)), d.view(d.x[:20].double(), generator=gen(7))
    return net, fixer, x1, x2


def test_second_order_hypergradient_matches_finite_differences():
    net, fixer, x1, x2 = deterministic_setup(second_order=True)
    grads, hyper, terms = fixer.gradients(x1, x2)
    params = fixer.late_parameters
    direction = [torch.randn(p.shape, generator=gen(8), dtype=D) for p in params]

    def outer_at(sign, h=1e-6):
        with torch.no_grad():
            for p, v in zip(params, direction):
                p.add_(sign * h * v)
        t_in = fixer.terms(x1, x2)
        g = torch.autograd.grad(fixer.inner_loss(t_in), params)
        look = {n: (p - fixer.inner_lr * gi).detach() for n, p, gi in zip(fixer._names, params, g)}
        value = fixer.outer_loss(fixer.terms(x1, x2, look)).item()
        with torch.no_grad():
            for p, v in zip(params, direction):
                p.sub_(sign * h * v)
        return value

    fd = (outer_at(+1) - outer_at(-1)) / 2e-6
    an = sum((g * v).sum() for g, v in zip(hyper, direction)).item()
    assert an == pytest.approx(fd, rel=1e-5)
    assert terms["outer"].item() == pytest.approx(outer_at(0), rel=1e-12)
    # the inner gradient is the plain gradient of the inner loss
    direct = torch.autograd.grad(fixer.inner_loss(fixer.terms(x1, x2)), params)
    assert all(torch.allclose(a, b) for a, b in zip(grads, direct))


def test_first_order_hypergradient_is_the_gradient_at_the_lookahead():
    net, fixer, x1, x2 = deterministic_setup(second_order=False)
    grads, hyper, _ = fixer.gradients(x1, x2)
    look = {
        n: (p - fixer.inner_lr * g).detach().requires_grad_(True)
        for n, p, g in zip(fixer._names, fixer.late_parameters, grads)
    }
    want = torch.autograd.grad(fixer.outer_loss(fixer.terms(x1, x2, look)), list(look.values()))
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(hyper, want))
    # with a small look-ahead step (UMM's 1e-3) the second-order correction is small
    _, fixer2, _, _ = deterministic_setup(second_order=True)
    fixer.inner_lr = fixer2.inner_lr = 1e-3
    _, hyper, _ = fixer.gradients(x1, x2)
    _, hyper2, _ = fixer2.gradients(x1, x2)
    num = sum(((a - b) ** 2).sum() for a, b in zip(hyper, hyper2)).sqrt()
    den = sum((b**2).sum() for b in hyper2).sqrt()
    assert (num / den).item() < 0.05


def test_step_updates_only_late_layers_and_returns_terms():
    d, net, fixer = make_setup()
    before = copy.deepcopy(net.state_dict())
    out = fixer.step(d.view(d.x[:30], generator=gen(9)), d.view(d.x[:30], generator=gen(10)))
    assert set(out) == {"ssl", "similarity_kl", "reduction", "inner", "outer", "loss"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())
    after = net.state_dict()
    for k in before:
        if k.startswith("layers.0."):
            assert torch.equal(before[k], after[k]), k  # frozen block, running statistics included
    assert not torch.equal(before["layers.1.0.weight"], after["layers.1.0.weight"])
    assert all(p.grad is None for p in fixer.late_parameters)


def test_fit_lowers_alignment_and_raises_reduction():
    d, net, fixer = make_setup(seed=3)
    hist = fixer.fit(
        d.x,
        d.view,
        steps=60,
        batch_size=30,
        generator=gen(11),
        every=10,
        monitor={"kl": lambda: umm.similarity_kl(fixer.early(d.x), fixer.late(fixer.early(d.x)))},
    )
    assert list(hist.steps("kl")) == [0, 10, 20, 30, 40, 50, 60]
    assert hist["kl"][-1] < hist["kl"][0]
    assert hist["outer"][-1] < hist["outer"][0]


def test_fit_is_a_loop_of_steps():
    """fit (the train.fit loop) gives exactly the parameters and terms of a hand loop of step()."""
    nets = []
    for mode in ("fit", "loop"):
        d, net, fixer = make_setup(seed=4)
        g = gen(12)
        if mode == "fit":
            hist = fixer.fit(d.x, d.view, steps=7, batch_size=30, generator=g, every=3)
            rows = {k: list(hist[k]) for k in hist.keys()}
        else:
            from sslbook import train

            batches = train.minibatches(d.x.shape[0], 30, generator=g)
            outs = []
            for _t in range(7):
                xb = d.x[next(batches)]
                outs.append(fixer.step(d.view(xb, generator=g), d.view(xb, generator=g)))
            ref = {k: [outs[t][k] for t in (0, 3, 6)] for k in outs[0]}
        nets.append(net)
        assert all(p.grad is None for p in fixer.late_parameters)
    assert rows == ref
    assert all(torch.equal(a, b) for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values()))


def test_validation_errors():
    torch.manual_seed(0)
    net = models.MLP([4, 6, 6, 2], batch_norm=True)
    ssl = lambda a, b: losses.nt_xent(a, b)
    with pytest.raises(TypeError, match="model"):
        umm.UMM(torch.nn.Linear(4, 2), 1, ssl)
    with pytest.raises(ValueError, match="n_early"):
        umm.UMM(net, 3, ssl)
    with pytest.raises(TypeError, match="ssl_loss"):
        umm.UMM(net, 1, "nt_xent")
    with pytest.raises(TypeError, match="prior"):
        umm.UMM(net, 1, ssl, prior=torch.zeros(3, 6))
    with pytest.raises(ValueError, match="gamma"):
        umm.UMM(net, 1, ssl, gamma=-1.0)
    with pytest.raises(ValueError, match="inner_lr"):
        umm.UMM(net, 1, ssl, inner_lr=0.0)
    with pytest.raises(TypeError, match="second_order"):
        umm.UMM(net, 1, ssl, second_order="yes")
    fixer = umm.UMM(net, 1, ssl)
    with pytest.raises(ValueError, match="same shape"):
        fixer.terms(torch.zeros(5, 4), torch.zeros(4, 4))
    with pytest.raises(TypeError, match="view"):
        fixer.fit(torch.zeros(10, 4), "flip", 1)
    with pytest.raises(ValueError, match="h"):
        umm.similarity_log_distribution(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="temperature"):
        umm.similarity_kl(torch.randn(3, 2), torch.randn(3, 2), temperature=0.0)
    with pytest.raises(ValueError, match="same number of rows"):
        umm.similarity_kl(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="n_clusters"):
        umm.early_prior(torch.randn(5, 2), n_clusters=6)
    with pytest.raises(ValueError, match="temperature"):
        umm.EarlyPrior(torch.zeros(2, 3), 0.0)
    with pytest.raises(ValueError, match="features"):
        umm.EarlyPrior(torch.zeros(2, 3), 1.0).memberships(torch.zeros(4, 2))
