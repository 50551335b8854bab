"""Tests of sslbook.critical_points: derivatives, Newton refinement, stationary points and the
quantitative inverse-function-theorem certificate."""

import math

import pytest
import torch

from sslbook import critical_points as cp

f64 = torch.float64


def quadratic(q, b):
    def f(x):
        return 0.5 * ((x @ q) * x).sum(-1) + x @ b

    return f


def double_well(x):
    """x^4 - 2 x^2 + y^2: minima (+-1, 0), saddle (0, 0); batched."""
    return x[..., 0] ** 4 - 2 * x[..., 0] ** 2 + x[..., 1] ** 2


def test_gradient_and_hessian_of_a_quadratic():
    g = torch.Generator().manual_seed(0)
    m = torch.randn(4, 4, generator=g, dtype=f64)
    q = m @ m.T + torch.eye(4, dtype=f64)
    b = torch.randn(4, generator=g, dtype=f64)
    f = quadratic(q, b)
    x = torch.randn(4, generator=g, dtype=f64)
    assert torch.allclose(cp.gradient(f, x), q @ x + b)
    assert torch.allclose(cp.hessian(f, x), q)
    xs = torch.randn(5, 4, generator=g, dtype=f64)
    assert torch.allclose(cp.gradient(f, xs), xs @ q + b)
    hs = cp.hessian(f, xs)
    assert hs.shape == (5, 4, 4) and torch.allclose(hs, q.expand(5, 4, 4))


def test_batched_hessian_equals_pointwise_and_finite_differences():
    xs = torch.tensor([[0.3, -1.2], [1.5, 0.7], [-0.4, 2.0]], dtype=f64)
    f = lambda x: torch.sin(x[..., 0] * x[..., 1]) + x[..., 0] ** 3
    hb = cp.hessian(f, xs)
    for i in range(3):
        assert torch.allclose(hb[i], cp.hessian(f, xs[i]))
        eps = 1e-5
        fd = torch.stack(
            [
                (cp.gradient(f, xs[i] + eps * e) - cp.gradient(f, xs[i] - eps * e)) / (2 * eps)
                for e in torch.eye(2, dtype=f64)
            ]
        )
        assert torch.allclose(hb[i], fd, atol=1e-6)


def test_hessian_of_a_linear_function_is_zero():
    f = lambda x: x.sum(-1)
    assert torch.equal(cp.hessian(f, torch.ones(3, dtype=f64)), torch.zeros(3, 3, dtype=f64))


def test_gradient_keeps_graph_on_request():
    x = torch.tensor([1.0, 2.0], dtype=f64)
    g = cp.gradient(lambda w: (w**3).sum(), x, create_graph=True)
    assert g.requires_grad
    assert not cp.gradient(lambda w: (w**3).sum(), x).requires_grad


def test_jacobian_of_a_vector_field():
    a = torch.tensor([[2.0, 1.0], [0.0, 3.0]], dtype=f64)
    F = lambda x: a @ x + x**2
    x = torch.tensor([0.5, -1.0], dtype=f64)
    assert torch.allclose(cp.jacobian(F, x), a + torch.diag(2 * x))
    jb = cp.jacobian(F, torch.stack([x, 2 * x]))
    assert jb.shape == (2, 2, 2) and torch.allclose(jb[1], a + torch.diag(4 * x))


def test_classify_hessian():
    assert cp.classify_hessian(torch.diag(torch.tensor([1.0, 2.0]))) == "minimum"
    assert cp.classify_hessian(-torch.eye(2)) == "maximum"
    assert cp.classify_hessian(torch.diag(torch.tensor([1.0, -2.0]))) == "saddle"
    assert cp.classify_hessian(torch.diag(torch.tensor([1.0, 0.0]))) == "degenerate"
    assert cp.classify_hessian(torch.diag(torch.tensor([1.0, 1e-12])), tol=1e-10) == "degenerate"


def test_newton_converges_quadratically_to_the_nearby_point():
    p = cp.newton_stationary_point(double_well, torch.tensor([0.8, 0.3], dtype=f64))
    assert p.converged and p.grad_norm <= 1e-12 and p.iterations <= 10
    assert torch.allclose(p.x, torch.tensor([1.0, 0.0], dtype=f64), atol=1e-12)
    assert p.kind == "minimum" and math.isclose(p.value, -1.0, abs_tol=1e-12)
    assert torch.allclose(p.eigenvalues, torch.tensor([2.0, 8.0], dtype=f64))
    s = cp.newton_stationary_point(double_well, torch.tensor([0.1, -0.2], dtype=f64))
    assert s.kind == "saddle" and torch.allclose(s.x, torch.zeros(2, dtype=f64), atol=1e-12)


def test_newton_batched_flag_gives_the_same_point():
    a = cp.newton_stationary_point(double_well, torch.tensor([0.8, 0.3], dtype=f64))
    b = cp.newton_stationary_point(double_well, torch.tensor([0.8, 0.3], dtype=f64), batched=True)
    assert torch.allclose(a.x, b.x) and a.iterations == b.iterations
    with pytest.raises(ValueError, match="one value per row"):
        cp.newton_stationary_point(lambda x: (x**2).sum(), torch.ones(2, dtype=f64), batched=True)
    with pytest.raises(TypeError):
        cp.newton_stationary_point(double_well, torch.ones(2, dtype=f64), batched=1)


def test_newton_accepts_a_non_batched_objective():
    f = lambda x: float(0) + (x[0] - 2.0) ** 2 + torch.cosh(x[1])  # uses x[0], not x[..., 0]
    p = cp.newton_stationary_point(f, torch.tensor([0.0, 1.0], dtype=f64))
    assert p.converged and torch.allclose(p.x, torch.tensor([2.0, 0.0], dtype=f64), atol=1e-10)


def test_newton_reports_non_convergence():
    p = cp.newton_stationary_point(lambda x: torch.exp(x).sum(), torch.tensor([0.0], dtype=f64), max_iter=5)
    assert not p.converged


def test_stationary_points_finds_all_three_of_the_double_well():
    grid = torch.cartesian_prod(torch.linspace(-2, 2, 9, dtype=f64), torch.linspace(-1, 1, 5, dtype=f64))
    pts = cp.stationary_points(double_well, grid)
    assert len(pts) == 3
    assert [p.kind for p in pts] == ["minimum", "minimum", "saddle"]  # sorted by value
    xs = sorted(round(float(p.x[0]), 8) for p in pts)
    assert xs == [-1.0, 0.0, 1.0]


def test_stationary_points_rejects_a_non_batched_objective():
    f = lambda x: (x**2).sum()  # sums over the batch too
    with pytest.raises(ValueError, match="one value per row"):
        cp.stationary_points(f, torch.zeros(4, 2, dtype=f64))


def test_ball_points():
    c = torch.tensor([1.0, -2.0, 0.5], dtype=f64)
    pts = cp.ball_points(c, 0.3, 100, generator=torch.Generator().manual_seed(1))
    assert pts.shape == (1 + 6 + 100, 3)
    r = (pts - c).norm(dim=1)
    assert float(r.max()) <= 0.3 + 1e-12 and float(r[0]) == 0.0
    assert torch.allclose(r[1:7], torch.full((6,), 0.3, dtype=f64))
    assert torch.allclose(r[-50:], torch.full((50,), 0.3, dtype=f64))  # the sphere half
    assert float(r[7:57].max()) < 0.3


def test_certificate_holds_and_locates_the_zero():
    # F(x) = x + 0.1 sin(x) - c has a unique zero; start at the zero of the unperturbed map x - c.
    c = torch.tensor([0.3, -0.2], dtype=f64)
    F = lambda x: x + 0.1 * torch.sin(x) - c
    x0 = c.clone()
    cert = cp.inverse_function_certificate(F, x0, generator=torch.Generator().manual_seed(2))
    assert cert.holds and cert.ratio <= 1
    a = torch.eye(2, dtype=f64) + 0.1 * torch.diag(torch.cos(x0))
    assert math.isclose(cert.inverse_norm, float(torch.linalg.matrix_norm(torch.linalg.inv(a), 2)), rel_tol=1e-10)
    assert math.isclose(cert.residual, float(F(x0).norm()), rel_tol=1e-12)
    assert math.isclose(cert.radius, 2 * cert.inverse_norm * cert.residual, rel_tol=1e-12)
    assert math.isclose(cert.tolerance, 1 / (2 * cert.inverse_norm))
    root = x0.clone()
    for _ in range(50):  # the contraction of the proof converges to the zero
        root = root - torch.linalg.solve(a, F(root))
    assert float(F(root).norm()) < 1e-14
    assert float((root - x0).norm()) <= cert.radius


def test_certificate_for_a_gradient_with_a_batched_hessian():
    f = lambda x: 0.5 * (x**2).sum(-1) + 0.01 * torch.cos(3 * x).sum(-1)
    x0 = torch.zeros(3, dtype=f64)
    cert = cp.inverse_function_certificate(lambda x: cp.gradient(f, x), x0, jacobian_fn=lambda p: cp.hessian(f, p))
    assert cert.holds and cert.residual == 0.0 and cert.radius == 0.0


def test_certificate_fails_when_the_jacobian_varies_too_much():
    F = lambda x: x**2 - 0.5  # zero at sqrt(0.5), far from x0 = 0.2 relative to the curvature
    cert = cp.inverse_function_certificate(
        F, torch.tensor([0.2], dtype=f64), generator=torch.Generator().manual_seed(3)
    )
    assert not cert.holds and cert.ratio > 1


def test_certificate_with_too_small_a_radius_fails():
    c = torch.tensor([0.3], dtype=f64)
    F = lambda x: 1.1 * x - c
    cert = cp.inverse_function_certificate(F, torch.zeros(1, dtype=f64), radius=0.01)
    assert not cert.holds and cert.deviation < 1e-12


def test_certificate_validation():
    with pytest.raises(ValueError, match="singular"):
        cp.inverse_function_certificate(lambda x: x**2, torch.zeros(2, dtype=f64))
    with pytest.raises(TypeError):
        cp.inverse_function_certificate("F", torch.zeros(2, dtype=f64))
    with pytest.raises(ValueError):
        cp.inverse_function_certificate(lambda x: x[:1], torch.ones(2, dtype=f64))
    with pytest.raises(ValueError):
        cp.inverse_function_certificate(lambda x: x, torch.ones(2, dtype=f64), radius=-1.0)
    with pytest.raises(TypeError):
        cp.inverse_function_certificate(lambda x: x, torch.ones(2, dtype=f64), jacobian_fn=3)


def test_validation_errors():
    f = lambda x: (x**2).sum(-1)
    with pytest.raises(TypeError):
        cp.gradient(3, torch.zeros(2, dtype=f64))
    with pytest.raises(TypeError):
        cp.hessian(f, [0.0, 1.0])
    with pytest.raises(ValueError):
        cp.hessian(f, torch.zeros(2, 2, 2, dtype=f64))
    with pytest.raises(TypeError):
        cp.gradient(f, torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError):
        cp.gradient(f, torch.tensor([float("nan"), 0.0], dtype=f64))
    with pytest.raises(TypeError):
        cp.gradient(lambda x: 1.0, torch.zeros(2, dtype=f64))
    with pytest.raises(ValueError):
        cp.newton_stationary_point(f, torch.zeros(2, 2, dtype=f64))
    with pytest.raises(ValueError):
        cp.newton_stationary_point(f, torch.zeros(2, dtype=f64), tol=0.0)
    with pytest.raises(ValueError):
        cp.newton_stationary_point(f, torch.zeros(2, dtype=f64), max_iter=-1)
    with pytest.raises(ValueError):
        cp.stationary_points(f, torch.zeros(2, dtype=f64))
    with pytest.raises(ValueError):
        cp.classify_hessian(torch.zeros(2, 3))
    with pytest.raises(ValueError):
        cp.classify_hessian(torch.eye(2), tol=-1.0)
    with pytest.raises(ValueError):
        cp.ball_points(torch.zeros(2, dtype=f64), -1.0, 3)
    with pytest.raises(ValueError):
        cp.ball_points(torch.zeros(2, dtype=f64), 1.0, -3)
    with pytest.raises(ValueError):
        cp.jacobian(lambda x: x.sum(), torch.zeros(2, dtype=f64))
