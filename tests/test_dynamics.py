"""sslbook.dynamics against slow reference formulas and closed forms."""

import math

import numpy as np
import pytest
import torch

from sslbook import dynamics, geometry, subspaces

D = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny matrices: one torch thread is 20-50x faster than the default on a shared machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _views(n=50, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=D)
    xp = x + 0.3 * torch.randn(n, d, generator=g, dtype=D)
    xn = x[torch.randperm(n, generator=g)]
    return x, xp, xn, g


def _sym_matrix(p, seed, spectrum=None):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(p, p, generator=g, dtype=D))
    lam = torch.linspace(2.0, -1.0, p, dtype=D) if spectrum is None else torch.as_tensor(spectrum, dtype=D)
    a = q @ torch.diag(lam) @ q.T
    return 0.5 * (a + a.T), q, lam, g


def _features(n=10, d=4, h=60, seed=0, loss="contrastive"):
    """Stacked features of n anchors (+ positives, + negatives) and the coupling matrix."""
    x, xp, xn, g = _views(n, d, seed)
    v = torch.randn(h, d, generator=g, dtype=D)
    pts = torch.cat([x, xp, xn]) if loss == "contrastive" else torch.cat([x, xp])
    return dynamics.relu_features(pts, v), dynamics.coupling_matrix(n, loss), g


# --- quadratic forms -----------------------------------------------------------------------------


@pytest.mark.parametrize("loss", dynamics.LOSSES)
def test_loss_matrix_matches_per_sample_loss_and_its_gradient(loss):
    x, xp, xn, g = _views()
    a = dynamics.loss_matrix(x, xp, xn, loss=loss)
    assert torch.allclose(a, a.T)
    w = torch.randn(6, 3, generator=g, dtype=D, requires_grad=True)
    per_sample = dynamics.ssl_loss(x @ w, xp @ w, xn @ w, loss=loss)
    # slow reference: explicit sum over anchors
    ref = 0.0
    for i in range(x.shape[0]):
        z, zp, zn = x[i] @ w, xp[i] @ w, xn[i] @ w
        ref = ref + {"contrastive": -(z @ (zp - zn)), "alignment": -(z @ zp), "invariance": (z - zp).pow(2).sum()}[loss]
    ref = ref / x.shape[0]
    assert float(per_sample.detach()) == pytest.approx(float(ref.detach()), rel=1e-12)
    quad = dynamics.quadratic_loss(w.detach(), a)
    assert float(quad) == pytest.approx(float(per_sample.detach()), rel=1e-12)
    (grad,) = torch.autograd.grad(per_sample, w)
    assert torch.allclose(grad, -2 * a @ w.detach(), atol=1e-12)


@pytest.mark.parametrize("loss", dynamics.LOSSES)
def test_coupling_matrix_reproduces_the_loss_matrix(loss):
    x, xp, xn, _ = _views(n=7, d=5)
    pts = torch.cat([x, xp, xn]) if loss == "contrastive" else torch.cat([x, xp])
    s = dynamics.coupling_matrix(7, loss)
    assert s.shape == (pts.shape[0],) * 2 and torch.allclose(s, s.T)
    assert torch.allclose(pts.T @ s @ pts, dynamics.loss_matrix(x, xp, xn, loss=loss), atol=1e-12)


def test_invariance_matrix_is_negative_semidefinite_and_alignment_has_the_mean():
    x, xp, xn, _ = _views()
    assert torch.linalg.eigvalsh(dynamics.loss_matrix(x, xp, loss="invariance")).max() <= 1e-12
    mu = torch.ones(6, dtype=D)
    a_shift = dynamics.loss_matrix(x + mu, xp + mu, loss="alignment")
    a = dynamics.loss_matrix(x, xp, loss="alignment")
    cross = 0.5 * (torch.outer(x.mean(0), mu) + torch.outer(mu, xp.mean(0)))
    assert torch.allclose(a_shift - a, torch.outer(mu, mu) + cross + cross.T, atol=1e-12)


# --- weight-space dynamics ---------------------------------------------------------------------


def test_unconstrained_flow_solves_the_ode_and_collapses():
    a, q, lam, g = _sym_matrix(6, 1)
    w0 = torch.randn(6, 3, generator=g, dtype=D)
    t, h = 0.8, 1e-6
    w = dynamics.unconstrained_flow(a, w0, [t - h, t, t + h])
    assert torch.allclose((w[2] - w[0]) / (2 * h), 2 * a @ w[1], rtol=1e-6, atol=1e-6)
    assert torch.allclose(dynamics.unconstrained_flow(a, w0, 0.0), w0)
    assert torch.allclose(dynamics.unconstrained_flow(a, w0, 0.5), torch.linalg.matrix_exp(a) @ w0, atol=1e-12)
    # the collapse bound of the chapter's theorem
    b1 = float((q[:, 0] @ w0).norm())
    for tt in (2.0, 4.0):
        sv = torch.linalg.svdvals(dynamics.unconstrained_flow(a, w0, tt))
        r = math.exp(-2 * float(lam[0] - lam[1]) * tt) * float(torch.linalg.matrix_norm(w0, 2))
        assert float(sv[1] / sv[0]) <= r / (b1 - r) + 1e-12


def test_euclidean_descent_is_exactly_the_matrix_power():
    a, _, _, g = _sym_matrix(5, 2)
    w0 = torch.randn(5, 2, generator=g, dtype=D)
    run = dynamics.gradient_descent(a, w0, 0.05, 20, every=5)
    assert run.steps.tolist() == [0, 5, 10, 15, 20]
    assert torch.allclose(run.t, torch.tensor([0, 0.25, 0.5, 0.75, 1.0], dtype=D))
    step = torch.eye(5, dtype=D) + 0.1 * a
    assert torch.allclose(run.final, torch.linalg.matrix_power(step, 20) @ w0, atol=1e-12)
    stopped = dynamics.gradient_descent(a, w0, 0.05, 10_000, max_norm=1e3)
    assert stopped.stopped and float(stopped.final.norm()) > 1e3 and float(stopped.w[-2].norm()) <= 1e3
    # a callable A @ w gives the same run
    same = dynamics.gradient_descent(lambda w: a @ w, w0, 0.05, 20, every=5)
    assert torch.allclose(same.w, run.w)


def test_riemannian_descent_stays_orthonormal_lowers_the_loss_and_reaches_ky_fan():
    a, q, lam, g = _sym_matrix(7, 3)
    w0 = geometry.random_frame(7, 3, generator=g)
    run = dynamics.gradient_descent(a, w0, 0.05, 600, method="riemannian", every=50)
    losses = [float(dynamics.quadratic_loss(w, a)) for w in run.w]
    assert all(geometry.is_orthonormal(w, 1e-12) for w in run.w)
    assert all(l2 <= l1 + 1e-12 for l1, l2 in zip(losses, losses[1:]))
    assert losses[-1] == pytest.approx(-float(lam[:3].sum()), abs=1e-9)
    assert subspaces.principal_angles(run.final, q[:, :3]).max() < 1e-6


def test_projected_descent_is_exactly_subspace_iteration():
    a, _, _, g = _sym_matrix(6, 4)
    w0 = geometry.random_frame(6, 2, generator=g)
    run = dynamics.gradient_descent(a, w0, 0.1, 30, method="projected", every=10)
    for m, w in zip(run.steps.tolist(), run.w):
        exact = torch.linalg.matrix_power(torch.eye(6, dtype=D) + 0.2 * a, m) @ w0
        assert subspaces.subspace_distance(w, exact) < 1e-12


def test_two_layer_aligned_start_follows_the_mode_ode_and_blows_up_on_time():
    a, q, lam, _ = _sym_matrix(6, 5, spectrum=[2.0, 1.5, 1.0, 0.5, 0.0, -0.5])
    u0 = 0.4
    eta = 1e-4
    run = dynamics.two_layer_gradient_descent(
        a, q[:, :3] * u0, torch.eye(3, dtype=D) * u0, eta, 50_000, every=100, max_norm=1e6
    )
    t_star = dynamics.blowup_time(2.0, u0**2)
    assert run.stopped and float(run.t[-1]) == pytest.approx(t_star, rel=2e-3)
    # before blow-up the product is U_k diag(s(t)) with s from the closed form
    i = int(len(run.t) * 0.5)
    s_sim = torch.diagonal(q[:, :3].T @ run.w[i])
    s_ref = torch.stack([dynamics.mode_strength(float(l), u0**2, float(run.t[i])) for l in lam[:3]])
    assert torch.allclose(s_sim, s_ref, rtol=2e-3)
    sv = torch.linalg.svdvals(run.final)
    assert float(sv[1] / sv[0]) < 1e-4


def test_mode_strength_and_blowup_time():
    assert dynamics.blowup_time(2.0, 0.25) == pytest.approx(0.5)
    assert dynamics.blowup_time(-1.0, 0.25) == math.inf and dynamics.blowup_time(1.0, 0.0) == math.inf
    s = dynamics.mode_strength(2.0, 0.25, [0.0, 0.25, 0.5, 1.0])
    assert s[0] == pytest.approx(0.25) and s[1] == pytest.approx(0.5)
    assert math.isinf(float(s[2])) and math.isinf(float(s[3]))
    # solves ds/dt = 4 lambda s^2
    h = 1e-6
    sp, sm, s0 = (float(dynamics.mode_strength(1.5, 0.1, t)) for t in (0.3 + h, 0.3 - h, 0.3))
    assert (sp - sm) / (2 * h) == pytest.approx(4 * 1.5 * s0**2, rel=1e-6)
    assert float(dynamics.mode_strength(-1.0, 0.5, 2.0)) == pytest.approx(0.5 / 5.0)


# --- random features and kernels -----------------------------------------------------------------


def test_arccos_kernel_closed_values_and_random_feature_limit():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]], dtype=D)
    k = dynamics.arccos_kernel(x)
    assert k[0, 0] == pytest.approx(1.0) and k[1, 1] == pytest.approx(4.0)
    assert k[0, 1] == pytest.approx(2.0 / math.pi)  # orthogonal: |x||y| / pi
    assert k[0, 2] == pytest.approx(0.0, abs=1e-12)  # antipodal
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(5, 3, generator=g, dtype=D)
    k_inf = dynamics.arccos_kernel(xs)
    errs = []
    for h in (1_000, 100_000):  # mean over draws of the relative error, which shrinks like h^(-1/2)
        e = []
        for _ in range(4):
            phi = dynamics.relu_features(xs, torch.randn(h, 3, generator=g, dtype=D))
            assert phi.shape == (5, h) and bool((phi >= 0).all())
            e.append(float((phi @ phi.T - k_inf).norm() / k_inf.norm()))
        errs.append(np.mean(e))
    assert errs[1] < 0.02 and errs[1] < errs[0] / 3
    assert dynamics.arccos_kernel(xs, xs[:2]).shape == (5, 2)


@pytest.mark.parametrize("method", dynamics.METHODS)
def test_readout_subspace_runs_are_exact_copies_of_full_width_runs(method):
    phi, s, g = _features(h=80)
    w0 = geometry.random_frame(80, 3, generator=g)
    basis, phi_red, c0 = dynamics.readout_subspace(phi, w0)
    assert basis.shape[1] <= phi.shape[0] + 3 and geometry.is_orthonormal(basis, 1e-10)
    assert torch.allclose(basis @ c0, w0, atol=1e-12)
    full = dynamics.gradient_descent(lambda w: phi.T @ (s @ (phi @ w)), w0, 0.05, 40, method=method, every=10)
    red = dynamics.gradient_descent(lambda c: phi_red.T @ (s @ (phi_red @ c)), c0, 0.05, 40, method=method, every=10)
    assert torch.allclose(basis @ red.w, full.w, atol=1e-10)
    # narrow layers: the identity basis
    basis, phi_red, c0 = dynamics.readout_subspace(phi[:, :20], w0[:20])
    assert torch.equal(basis, torch.eye(20, dtype=D))


def test_kernel_ode_is_the_flow_seen_through_the_features():
    phi, s, g = _features()
    w = geometry.random_frame(60, 2, generator=g)
    a = phi.T @ s @ phi
    rhs = dynamics.kernel_ode_rhs(phi @ w, phi @ phi.T, s)
    assert torch.allclose(rhs, phi @ dynamics.grassmann_flow_velocity(0.5 * (a + a.T), w), atol=1e-12)


def test_kernel_closed_form_matches_rk4_and_the_weight_space_flow():
    phi, s, g = _features(h=50)
    k = phi @ phi.T
    a = phi.T @ s @ phi
    a = 0.5 * (a + a.T)
    w0 = geometry.random_frame(50, 3, generator=g)
    z0 = phi @ w0
    ode = dynamics.integrate_kernel_ode(z0, k, s, 4.0, dt=5e-3, every=200)
    assert torch.allclose(ode.t, torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0], dtype=D))
    closed = dynamics.kernel_flow_gram(z0, k, s, ode.t)
    direct = torch.stack([phi @ w @ w.T @ phi.T for w in dynamics.grassmann_flow(a, w0, ode.t)])
    g_ode = ode.w @ ode.w.transpose(1, 2)
    for gc, gd, go in zip(closed, direct, g_ode):
        assert float((gc - gd).norm() / gd.norm()) < 1e-10
        assert float((go - gd).norm() / gd.norm()) < 1e-7
    # the formula as written agrees while it is well conditioned (small t)
    t = 0.2
    e = torch.linalg.matrix_exp(2 * t * k @ s)
    n = k.shape[0]
    aug = torch.zeros(2 * n, 2 * n, dtype=D)
    aug[:n, :n], aug[:n, n:] = s @ k, torch.eye(n, dtype=D)
    integral = torch.linalg.matrix_exp(4 * t * aug)[:n, n:]
    mid = torch.eye(3, dtype=D) + z0.T @ integral @ s @ z0
    formula = e @ z0 @ torch.linalg.solve(mid, z0.T @ e.T)
    assert torch.allclose(dynamics.kernel_flow_gram(z0, k, s, t), formula, atol=1e-9)


def test_batched_kernel_ode_equals_separate_runs():
    phi1, s, g = _features(seed=1)
    phi2, _, _ = _features(seed=2)
    ks = torch.stack([phi1 @ phi1.T, phi2 @ phi2.T])
    z0 = torch.stack(
        [phi1 @ geometry.random_frame(60, 2, generator=g), phi2 @ geometry.random_frame(60, 2, generator=g)]
    )
    both = dynamics.integrate_kernel_ode(z0, ks, s, 1.0, dt=0.01, every=25)
    assert both.w.shape == (5, 2, 30, 2)
    for i in range(2):
        one = dynamics.integrate_kernel_ode(z0[i], ks[i], s, 1.0, dt=0.01, every=25)
        assert torch.allclose(both.w[:, i], one.w, atol=1e-12)


def test_fixed_kernel_flow_is_the_unconstrained_flow_in_function_space():
    phi, s, g = _features()
    a = phi.T @ s @ phi
    a = 0.5 * (a + a.T)
    w0 = 0.1 * torch.randn(60, 3, generator=g, dtype=D)
    z = dynamics.fixed_kernel_flow(phi @ w0, phi @ phi.T, s, [0.0, 1.5])
    assert torch.allclose(z[1], phi @ dynamics.unconstrained_flow(a, w0, 1.5), rtol=1e-9, atol=1e-12)
    assert torch.allclose(z[0], phi @ w0)


def test_kernel_optimum_is_ky_fan_in_sample_space():
    phi, s, _ = _features(h=40)
    a = phi.T @ s @ phi
    a = 0.5 * (a + a.T)
    lam, top = geometry.top_eigenspace(a, 3)
    value, g_star = dynamics.kernel_optimum(phi @ phi.T, s, 3)
    assert value == pytest.approx(-float(lam.sum()), rel=1e-10)
    z_star = phi @ top
    assert torch.allclose(g_star, z_star @ z_star.T, atol=1e-9)


def test_supervised_readout_flow_solves_its_ode():
    phi, _, g = _features(h=40)
    y = torch.randn(30, generator=g, dtype=D)
    a0 = torch.randn(40, generator=g, dtype=D)
    assert torch.allclose(dynamics.supervised_readout_flow(phi, y, a0, 0.0), a0)
    t, h = 0.7, 1e-6
    ap, am, a = (dynamics.supervised_readout_flow(phi, y, a0, tt) for tt in (t + h, t - h, t))
    assert torch.allclose((ap - am) / (2 * h), -phi.T @ (phi @ a - y), rtol=1e-5, atol=1e-6)
    # several outputs at once
    y2 = torch.stack([y, -y], 1)
    a2 = dynamics.supervised_readout_flow(phi, y2, torch.stack([a0, a0], 1), t)
    assert torch.allclose(a2[:, 0], a, atol=1e-12)
    # the lazy bound ||a_T - a_0|| <= sqrt(0.41 T) ||r_0||
    big_t = 50.0
    disp = float((dynamics.supervised_readout_flow(phi, y, a0, big_t) - a0).norm())
    assert disp <= math.sqrt(0.41 * big_t) * float((phi @ a0 - y).norm())


# --- validation ----------------------------------------------------------------------------------


def test_validation_errors():
    x, xp, xn, g = _views()
    a, _, _, _ = _sym_matrix(6, 0)
    with pytest.raises(ValueError, match="x_neg is required"):
        dynamics.loss_matrix(x, xp)
    with pytest.raises(ValueError, match="loss must be one of"):
        dynamics.loss_matrix(x, xp, xn, loss="barlow")
    with pytest.raises(ValueError, match="same shape"):
        dynamics.loss_matrix(x, xp[:, :3], xn)
    with pytest.raises(TypeError, match="z must be a torch.Tensor"):
        dynamics.ssl_loss(x.numpy(), xp, xn)
    with pytest.raises(ValueError, match="n must be >= 1"):
        dynamics.coupling_matrix(0)
    with pytest.raises(ValueError, match="w must have 6 rows"):
        dynamics.quadratic_loss(torch.zeros(5, 2, dtype=D), a)
    with pytest.raises(ValueError, match="a must be symmetric"):
        dynamics.unconstrained_flow(a + torch.triu(torch.ones(6, 6, dtype=D), 1), torch.zeros(6, 2, dtype=D), 1.0)
    with pytest.raises(ValueError, match="w0 must have 6 rows"):
        dynamics.unconstrained_flow(a, torch.zeros(5, 2, dtype=D), 1.0)
    w0 = geometry.random_frame(6, 2)
    with pytest.raises(ValueError, match="method must be one of"):
        dynamics.gradient_descent(a, w0, 0.1, 3, method="adam")
    with pytest.raises(ValueError, match="lr must be"):
        dynamics.gradient_descent(a, w0, 0.0, 3)
    with pytest.raises(ValueError, match="orthonormal frame"):
        dynamics.gradient_descent(a, 2 * w0, 0.1, 3, method="riemannian")
    with pytest.raises(ValueError, match="max_norm only applies"):
        dynamics.gradient_descent(a, w0, 0.1, 3, method="projected", max_norm=10.0)
    with pytest.raises(TypeError, match="callable"):
        dynamics.gradient_descent("A", w0, 0.1, 3)
    with pytest.raises(ValueError, match="a must have shape"):
        dynamics.gradient_descent(a, torch.zeros(5, 2, dtype=D), 0.1, 3)
    with pytest.raises(ValueError, match="w2 must have 3 rows"):
        dynamics.two_layer_gradient_descent(a, torch.zeros(6, 3, dtype=D), torch.zeros(2, 2, dtype=D), 0.1, 3)
    with pytest.raises(TypeError, match="eigenvalue must be a real number"):
        dynamics.blowup_time("1", 0.1)
    with pytest.raises(ValueError, match="s0 must be finite"):
        dynamics.mode_strength(1.0, -0.1, 1.0)
    with pytest.raises(ValueError, match="v must have 6 columns"):
        dynamics.relu_features(x, torch.zeros(10, 4, dtype=D))
    with pytest.raises(ValueError, match="same number of columns"):
        dynamics.arccos_kernel(x, x[:, :2])
    phi, s, _ = _features()
    k = phi @ phi.T
    z0 = phi @ geometry.random_frame(60, 2)
    with pytest.raises(ValueError, match="z must have 30 rows"):
        dynamics.kernel_ode_rhs(z0[:10], k, s)
    with pytest.raises(ValueError, match="kmat must have shape"):
        dynamics.integrate_kernel_ode(z0, k[:10, :10], s, 1.0)
    with pytest.raises(ValueError, match="kmat must be symmetric"):
        dynamics.fixed_kernel_flow(z0, k + torch.triu(torch.ones(30, 30, dtype=D), 1), s, 1.0)
    with pytest.raises(ValueError, match="same batch size"):
        dynamics.integrate_kernel_ode(torch.stack([z0, z0]), torch.stack([k, k, k]), s, 1.0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        dynamics.kernel_flow_gram(10 * z0, k, s, 1.0)
    with pytest.raises(ValueError, match="t must hold"):
        dynamics.kernel_flow_gram(z0, k, s, -1.0)
    with pytest.raises(ValueError, match="dt must be"):
        dynamics.integrate_kernel_ode(z0, k, s, 1.0, dt=0.0)
    with pytest.raises(ValueError, match="k must be <="):
        dynamics.kernel_optimum(k, s, 31)
    with pytest.raises(ValueError, match="a0 must have 60 rows"):
        dynamics.supervised_readout_flow(phi, torch.zeros(30, dtype=D), torch.zeros(5, dtype=D), 1.0)
    with pytest.raises(ValueError, match="matching trailing shapes"):
        dynamics.supervised_readout_flow(phi, torch.zeros(30, dtype=D), torch.zeros(60, 2, dtype=D), 1.0)
    with pytest.raises(ValueError, match="w0 must have 60 rows"):
        dynamics.readout_subspace(phi, torch.zeros(5, 2, dtype=D))
