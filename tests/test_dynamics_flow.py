"""The closed-form Grassmannian flow of dynamics.py against its defining ODE and closed forms."""

import numpy as np
import pytest
import torch
from test_dynamics import _one_thread  # noqa: F401  (the same autouse one-thread fixture)

from sslbook import dynamics, geometry, subspaces

D = torch.float64


def _problem(p=8, k=3, seed=0, spectrum=None):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(p, p, generator=g, dtype=D))
    if spectrum is None:
        spectrum = torch.linspace(3.0, -1.0, p, dtype=D)
    a = q @ torch.diag(torch.as_tensor(spectrum, dtype=D)) @ q.T
    a = 0.5 * (a + a.T)
    w0 = geometry.random_frame(p, k, generator=g)
    return a, q, w0


def _projector(w):
    q = geometry.orthonormalize(w)
    return q @ q.T


def _rk4_flow(a, w0, t_end, dt=5e-3):
    """Integrate dW/dt = 2(I - WW^T)AW with RK4 (slow, obviously correct reference)."""
    f = lambda w: dynamics.grassmann_flow_velocity(a, w)
    w = w0.clone()
    for _ in range(int(round(t_end / dt))):
        k1 = f(w)
        k2 = f(w + 0.5 * dt * k1)
        k3 = f(w + 0.5 * dt * k2)
        k4 = f(w + dt * k3)
        w = w + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return w


def test_velocity_is_horizontal_and_is_minus_the_riemannian_gradient():
    a, _, w = _problem()
    v = dynamics.grassmann_flow_velocity(a, w)
    assert torch.allclose(w.T @ v, torch.zeros(3, 3, dtype=D), atol=1e-12)
    assert torch.allclose(v, -geometry.grassmann_gradient(w, -2 * a @ w), atol=1e-12)
    # the loss -tr(W^T A W) decreases along the flow: d/dt L = -2 tr(W^T A v) = -||v||^2 / ... <= 0
    assert float(torch.trace(w.T @ a @ v)) >= 0


def test_closed_form_solves_the_flow_ode():
    a, _, w0 = _problem(p=6, k=2, seed=1)
    for t in (0.3, 1.0):
        w_rk4 = _rk4_flow(a, w0, t)
        assert geometry.is_orthonormal(w_rk4, 1e-8)  # the flow preserves the constraint
        w_cf = dynamics.grassmann_flow(a, w0, t)
        assert torch.allclose(_projector(w_rk4), w_cf @ w_cf.T, atol=1e-9)


def test_closed_form_projector_solves_the_riccati_equation():
    a, _, w0 = _problem(p=7, k=3, seed=2)
    t, h = 0.7, 1e-5
    p_plus, p_minus, p0 = (lambda w: [x @ x.T for x in w])(dynamics.grassmann_flow(a, w0, [t + h, t - h, t]))
    dp = (p_plus - p_minus) / (2 * h)
    eye = torch.eye(7, dtype=D)
    rhs = 2 * (eye - p0) @ a @ p0 + 2 * p0 @ a @ (eye - p0)
    assert torch.allclose(dp, rhs, atol=1e-6)


def test_closed_form_equals_span_of_exp_2At_w0_and_starts_at_w0():
    a, _, w0 = _problem(seed=3)
    w = dynamics.grassmann_flow(a, w0, [0.0, 0.5, 1.5])
    assert w.shape == (3, 8, 3)
    assert all(geometry.is_orthonormal(x, 1e-12) for x in w)
    assert subspaces.subspace_distance(w[0], w0) < 1e-12
    for t, x in zip((0.5, 1.5), w[1:]):
        m = torch.linalg.matrix_exp(2 * a * t) @ w0
        assert subspaces.subspace_distance(x, m) < 1e-10
    assert dynamics.grassmann_flow(a, w0, 0.5).shape == (8, 3)
    assert torch.allclose(dynamics.grassmann_flow(a, w0, torch.tensor(0.5, dtype=D)), w[1])


def test_closed_form_stays_accurate_at_long_times():
    """The tangent form keeps a clean exponential decay of the angles where exp(2At) W0 + QR would not."""
    a, q, w0 = _problem(seed=4)
    ang = dynamics.grassmann_flow_angles(a, w0, [6.0, 8.0])
    gap = (3.0 - (-1.0)) / 7  # consecutive eigenvalues of linspace(3, -1, 8)
    rate = np.log(np.tan(ang[0].max().item()) / np.tan(ang[1].max().item())) / 2.0
    assert rate == pytest.approx(2 * gap, rel=1e-3)
    w = dynamics.grassmann_flow(a, w0, 40.0)  # true largest angle ~ 1e-20: only rounding is left
    assert subspaces.principal_angles(w, q[:, :3]).max() < 1e-13


def test_angles_match_principal_angles_of_the_closed_form_and_obey_the_bound():
    a, q, w0 = _problem(p=10, k=3, seed=5)
    ts = np.linspace(0, 3, 13)
    ang = dynamics.grassmann_flow_angles(a, w0, ts).numpy()
    frames = dynamics.grassmann_flow(a, w0, ts)
    for th, w in zip(ang, frames):
        assert np.allclose(th, subspaces.principal_angles(w, q[:, :3]), atol=1e-10)
    assert np.all(np.diff(ang, axis=1) >= 0)  # ascending
    lam = torch.linspace(3.0, -1.0, 10, dtype=D)
    g = float(lam[2] - lam[3])
    tan_max = np.tan(ang.max(1))
    assert np.all(tan_max <= tan_max[0] * np.exp(-2 * g * ts) * (1 + 1e-10) + 1e-14)
    assert dynamics.grassmann_flow_angles(a, w0, 1.0).shape == (3,)


def test_angles_when_k_exceeds_the_complement():
    a, q, w0 = _problem(p=4, k=3, seed=6)
    ang = dynamics.grassmann_flow_angles(a, w0, [0.0, 1.0])
    assert ang.shape == (2, 3)
    assert torch.all(ang[:, :2] == 0)  # only min(p - k, k) = 1 angle can be nonzero
    assert ang[1, 2] < ang[0, 2]


def test_flow_converges_to_the_ky_fan_optimum():
    a, q, w0 = _problem(seed=7)
    w = dynamics.grassmann_flow(a, w0, 30.0)
    lam = torch.linspace(3.0, -1.0, 8, dtype=D)
    assert float(torch.trace(w.T @ a @ w)) == pytest.approx(float(lam[:3].sum()), abs=1e-10)


def test_grassmann_step_is_a_first_order_discretisation():
    a, q, w0 = _problem(p=6, k=2, seed=8)
    errs = []
    for eta in (0.02, 0.01):
        w = w0.clone()
        for _ in range(int(round(1.0 / eta))):
            w = geometry.grassmann_step(w, -2 * a @ w, eta)
        errs.append(subspaces.subspace_distance(w, dynamics.grassmann_flow(a, w0, 1.0)))
    assert errs[1] / errs[0] == pytest.approx(0.5, abs=0.05)


def test_validation_errors():
    a, _, w0 = _problem()
    with pytest.raises(ValueError, match="a must be square"):
        dynamics.grassmann_flow(a[:, :5], w0, 1.0)
    with pytest.raises(ValueError, match="a must be symmetric"):
        dynamics.grassmann_flow(a + torch.triu(torch.ones(8, 8, dtype=D), 1), w0, 1.0)
    with pytest.raises(ValueError, match="w0 must have 8 rows"):
        dynamics.grassmann_flow(a, w0[:5], 1.0)
    with pytest.raises(ValueError, match="at most as many columns"):
        dynamics.grassmann_flow_angles(a[:2, :2], torch.eye(2, 3, dtype=D), 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        dynamics.grassmann_flow(a, w0, -1.0)
    with pytest.raises(ValueError, match="t must be"):
        dynamics.grassmann_flow(a, w0, [1.0, -2.0])
    with pytest.raises(ValueError, match="at least one"):
        dynamics.grassmann_flow(a, w0, [])
    with pytest.raises(TypeError, match="t must be"):
        dynamics.grassmann_flow(a, w0, "soon")
    with pytest.raises(TypeError, match="a must be a torch.Tensor"):
        dynamics.grassmann_flow(a.numpy(), w0, 1.0)
    with pytest.raises(ValueError, match="w must have 8 rows"):
        dynamics.grassmann_flow_velocity(a, w0[:4])
    # a start orthogonal to the top eigenvector is non-generic: the tangent form does not exist
    _, q, _ = _problem()
    with pytest.raises(ValueError, match="singular"):
        dynamics.grassmann_flow(a, q[:, 1:4], 1.0)
