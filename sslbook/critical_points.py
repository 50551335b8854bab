r"""Stationary points of smooth objectives: derivatives, Newton refinement, classification, and a
numerical certificate from the quantitative inverse function theorem.

Objectives are written in torch. A *point* is a float64 tensor of shape ``(m,)``; a *batch* of
points has shape ``(k, m)``. An objective ``f`` maps a point to a scalar tensor; a *batched*
objective also maps a batch ``(k, m)`` to the ``k`` values ``(k,)``, each depending only on its own
row (write it with ``w[..., j]`` and reductions over the last axis). The functions below accept a
batch whenever ``f`` is batched, and then do all points in one pass of autograd, which is what
keeps grid searches and certificates fast on a CPU.

The certificate (:func:`inverse_function_certificate`) implements the quantitative ("exact")
inverse function theorem in its contraction-mapping form: if :math:`A = DF(x_0)` is invertible and

.. math::

    \|F(x_0)\| \le \frac{r}{2\|A^{-1}\|}, \qquad
    \sup_{\|x - x_0\| \le r} \|DF(x) - A\| \le \frac{1}{2\|A^{-1}\|},

then :math:`F` has exactly one zero in the closed ball :math:`\bar B(x_0, r)`. Yang, Li, Jiang and
Li (AAAI-23) use such a step to move a local minimum of a simplified objective to the real one.
The supremum is estimated by sampling the ball (its sphere and its interior), so the certificate
is a careful numerical check, not interval arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import _checks

__all__ = [
    "gradient",
    "hessian",
    "jacobian",
    "classify_hessian",
    "StationaryPoint",
    "newton_stationary_point",
    "stationary_points",
    "ball_points",
    "InverseFunctionCertificate",
    "inverse_function_certificate",
]

Objective = Callable[[torch.Tensor], torch.Tensor]


def _callable(f: object, name: str) -> None:
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {type(f).__name__}")


def _points(x: object, name: str) -> torch.Tensor:
    _checks.tensor(x, name, ndim=(1, 2))
    if x.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one coordinate, got shape {tuple(x.shape)}")
    return x.detach().to(torch.float64)


def _values(f: Objective, x: torch.Tensor) -> torch.Tensor:
    """``f`` at a point (scalar) or a batch (shape ``(k,)``), checked."""
    v = f(x)
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"the objective must return a tensor, got {type(v).__name__}")
    if x.ndim == 1:
        if v.numel() != 1:
            raise ValueError(f"the objective must return a scalar at a point, got shape {tuple(v.shape)}")
        return v.reshape(())
    if v.shape != (x.shape[0],):
        raise ValueError(
            f"at a batch of shape {tuple(x.shape)} the objective must return shape ({x.shape[0]},) "
            f"(one value per row); got {tuple(v.shape)}. Evaluate points one at a time instead."
        )
    return v


def _finite_at(v: torch.Tensor, x: torch.Tensor, what: str) -> None:
    """``ValueError`` when an objective's value or derivative is NaN or infinite at ``x``."""
    if not bool(torch.isfinite(v.detach()).all()):
        where = "x" if x.ndim == 1 else "some row of x"
        raise ValueError(
            f"the {what} of f is not finite at {where}: derivatives of a NaN or infinite objective are meaningless"
        )


def _gradient(f: Objective, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """Gradient of ``f`` at checked float64 points, non-finite values allowed (the line search of
    :func:`_newton` tries points where ``f`` may be undefined and discards them)."""
    xx = x.clone().requires_grad_(True)
    with torch.enable_grad():
        v = _values(f, xx)
        if not v.requires_grad:  # f does not depend on x
            return torch.zeros_like(xx)
        (g,) = torch.autograd.grad(v.sum(), xx, create_graph=create_graph)
    return g if create_graph else g.detach()


def gradient(f: Objective, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    r"""Gradient :math:`\nabla f(x)` by autograd.

    Parameters
    ----------
    f
        Objective (batched if ``x`` is a batch).
    x
        A point ``(m,)`` or a batch ``(k, m)``.
    create_graph
        Keep the graph so that the result can be differentiated again.

    Returns
    -------
    torch.Tensor
        Shape of ``x``, float64.
    """
    _callable(f, "f")
    create_graph = _checks.boolean(create_graph, "create_graph")
    xx = _points(x, "x").clone().requires_grad_(True)
    with torch.enable_grad():
        v = _values(f, xx)
        _finite_at(v, xx, "value")
        if not v.requires_grad:  # f does not depend on x
            return torch.zeros_like(xx)
        (g,) = torch.autograd.grad(v.sum(), xx, create_graph=create_graph)
    _finite_at(g, xx, "gradient")
    return g if create_graph else g.detach()


def hessian(f: Objective, x: torch.Tensor) -> torch.Tensor:
    r"""Hessian :math:`\nabla^2 f(x)` by autograd, symmetrised.

    For a batch, ``f`` must be batched; the ``k`` Hessians then cost one forward pass and
    ``m + 1`` backward passes in total (row ``j`` of every Hessian is the gradient of
    :math:`\sum_i \partial_j f(x_i)`).

    Parameters
    ----------
    f
        Objective (batched if ``x`` is a batch).
    x
        A point ``(m,)`` or a batch ``(k, m)``.

    Returns
    -------
    torch.Tensor
        Shape ``(m, m)`` or ``(k, m, m)``, float64.
    """
    _callable(f, "f")
    xx = _points(x, "x").clone().requires_grad_(True)
    m = xx.shape[-1]
    with torch.enable_grad():
        v = _values(f, xx)
        _finite_at(v, xx, "value")
        if not v.requires_grad:  # f does not depend on x
            return torch.zeros(xx.shape + (m,), dtype=torch.float64)
        (g,) = torch.autograd.grad(v.sum(), xx, create_graph=True)
        _finite_at(g, xx, "gradient")
        rows = []
        for j in range(m):
            gj = g[..., j].sum()
            if gj.requires_grad:
                (r,) = torch.autograd.grad(gj, xx, retain_graph=True, allow_unused=True)
                rows.append(torch.zeros_like(xx) if r is None else r)
            else:  # the gradient does not depend on x (a linear objective)
                rows.append(torch.zeros_like(xx))
    h = torch.stack(rows, dim=-2).detach()
    _finite_at(h, xx, "Hessian")
    return 0.5 * (h + h.transpose(-1, -2))


def jacobian(F: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    r"""Jacobian :math:`DF(x)` of a vector field by autograd (row ``i`` is :math:`\nabla F_i`).

    Parameters
    ----------
    F
        Maps a point ``(m,)`` to a vector ``(m,)``.
    x
        A point ``(m,)``, or a batch ``(k, m)`` (evaluated point by point).

    Returns
    -------
    torch.Tensor
        Shape ``(m, m)`` or ``(k, m, m)``.
    """
    _callable(F, "F")
    xx = _points(x, "x")
    if xx.ndim == 2:
        return torch.stack([jacobian(F, p) for p in xx])
    out = F(xx)
    if not isinstance(out, torch.Tensor) or out.shape != xx.shape:
        raise ValueError(f"F must map a tensor of shape {tuple(xx.shape)} to one of the same shape")
    _finite_at(out, xx, "value")
    jac = torch.autograd.functional.jacobian(F, xx).detach()
    _finite_at(jac, xx, "Jacobian")
    return jac


def classify_hessian(h: torch.Tensor, tol: float = 1e-10) -> str:
    r"""Classify a stationary point from its (symmetric) Hessian ``(m, m)``.

    Returns ``"minimum"`` (all eigenvalues > ``tol``), ``"maximum"`` (all < ``-tol``),
    ``"saddle"`` (eigenvalues of both signs beyond ``tol``) or ``"degenerate"`` (otherwise).
    """
    _checks.tensor(h, "h", ndim=2)
    if h.shape[0] != h.shape[1]:
        raise ValueError(f"h must be square, got shape {tuple(h.shape)}")
    t = _checks.positive(tol, "tol", allow_zero=True)
    ev = torch.linalg.eigvalsh(0.5 * (h + h.T).to(torch.float64))
    if bool((ev > t).all()):
        return "minimum"
    if bool((ev < -t).all()):
        return "maximum"
    if bool((ev > t).any()) and bool((ev < -t).any()):
        return "saddle"
    return "degenerate"


@dataclass(frozen=True)
class StationaryPoint:
    r"""A point where the gradient (numerically) vanishes, with its second-order information.

    Attributes
    ----------
    x
        The point, shape ``(m,)``.
    value
        :math:`f(x)`.
    grad_norm
        :math:`\|\nabla f(x)\|`.
    hessian
        :math:`\nabla^2 f(x)`, shape ``(m, m)``.
    eigenvalues
        Eigenvalues of the Hessian, ascending, shape ``(m,)``.
    iterations
        Newton iterations used.
    converged
        Whether ``grad_norm <= tol`` was reached.
    kind
        ``"minimum"``, ``"maximum"``, ``"saddle"`` or ``"degenerate"`` (:func:`classify_hessian`).
    """

    x: torch.Tensor
    value: float
    grad_norm: float
    hessian: torch.Tensor
    eigenvalues: torch.Tensor
    iterations: int
    converged: bool
    kind: str


def _newton(
    f: Objective, x: torch.Tensor, tol: float, max_iter: int, cap: float | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Damped Newton on the gradient for a batch ``(k, m)`` (``f`` batched); returns points and iterations."""
    x = x.clone()
    k = x.shape[0]
    g = gradient(f, x)  # the starts must be finite points of f
    gn = g.norm(dim=1)
    its = torch.zeros(k, dtype=torch.int64)
    active = gn > tol
    for _ in range(max_iter):
        if not bool(active.any()):
            break
        idx = active.nonzero().squeeze(1)
        xa, ga, gna = x[idx], g[idx], gn[idx]
        h = hessian(f, xa)
        step = -torch.linalg.lstsq(h, ga.unsqueeze(-1)).solution.squeeze(-1)
        bad = ~torch.isfinite(step).all(dim=1)
        step[bad] = -ga[bad]
        if cap is not None:
            ln = step.norm(dim=1, keepdim=True)
            step = torch.where(ln > cap, step * (cap / ln.clamp_min(1e-300)), step)
        # Backtracking, all at once: try the step lengths 1, 1/2, ..., 2^-(L-1) for every point in
        # one batched gradient evaluation, and keep the longest one that lowers the gradient norm.
        n_ls = 30
        ts = 0.5 ** torch.arange(n_ls, dtype=torch.float64)
        cand = xa[:, None, :] + ts[None, :, None] * step[:, None, :]  # (ka, L, m)
        gc = _gradient(f, cand.reshape(-1, x.shape[1])).reshape(cand.shape)
        ok = torch.isfinite(gc).all(dim=2) & (gc.norm(dim=2) < gna[:, None])  # (ka, L)
        accepted = ok.any(dim=1)
        first = torch.where(accepted, ok.to(torch.int64).argmax(dim=1), torch.zeros_like(gna, dtype=torch.int64))
        rows = torch.arange(len(idx))
        x_new = torch.where(accepted[:, None], cand[rows, first], xa)
        g_new = torch.where(accepted[:, None], gc[rows, first], ga)
        x[idx], g[idx] = x_new, g_new
        gn[idx] = g_new.norm(dim=1)
        its[idx] += 1
        # stop points that converged or whose line search failed (no decrease possible)
        still = (gn[idx] > tol) & accepted
        active[idx] = still
    return x, its


def _record(f: Objective, x: torch.Tensor, it: int, tol: float) -> StationaryPoint:
    h = hessian(f, x)
    ev = torch.linalg.eigvalsh(h)
    gn = float(gradient(f, x).norm())
    scale = max(1.0, float(ev.abs().max()))
    return StationaryPoint(
        x=x.detach().clone(),
        value=float(_values(f, x).detach()),
        grad_norm=gn,
        hessian=h,
        eigenvalues=ev,
        iterations=int(it),
        converged=gn <= tol,
        kind=classify_hessian(h, tol=1e-9 * scale),
    )


def newton_stationary_point(
    f: Objective,
    x0: torch.Tensor,
    tol: float = 1e-12,
    max_iter: int = 100,
    max_step: float | None = None,
    batched: bool = False,
) -> StationaryPoint:
    r"""Refine ``x0`` to a nearby stationary point of ``f`` by Newton's method on :math:`\nabla f`.

    Each step solves :math:`\nabla^2 f(x)\,\delta = -\nabla f(x)` (least squares if the Hessian is
    singular) and halves the step until :math:`\|\nabla f\|` decreases (a damped Newton method on
    the merit :math:`\|\nabla f\|`). It converges to the stationary point of whatever type lies
    near ``x0`` (minimum, maximum or saddle), quadratically once close.

    Parameters
    ----------
    f
        Objective, maps a float64 point ``(m,)`` to a scalar tensor.
    x0
        Starting point, shape ``(m,)``.
    tol
        Stop when :math:`\|\nabla f(x)\| \le` ``tol``.
    max_iter
        Maximum number of Newton steps.
    max_step
        Optional cap on the length of one step.
    batched
        Declare that ``f`` is batched (maps ``(k, m)`` to ``(k,)``): the trial steps of the line
        search are then evaluated in one call instead of one call per trial point.

    Returns
    -------
    StationaryPoint
        Check ``converged`` before trusting it.
    """
    _callable(f, "f")
    _checks.tensor(x0, "x0", ndim=1)
    x = _points(x0, "x0")
    tol = _checks.positive(tol, "tol")
    max_iter = _checks.integer(max_iter, "max_iter", minimum=0)
    cap = None if max_step is None else _checks.positive(max_step, "max_step")

    if not isinstance(batched, bool):
        raise TypeError(f"batched must be a bool, got {type(batched).__name__}")

    def rowwise(w: torch.Tensor) -> torch.Tensor:  # evaluate a non-batched f row by row
        return torch.stack([_values(f, r) for r in w]) if w.ndim == 2 else f(w)

    xs, its = _newton(f if batched else rowwise, x.unsqueeze(0), tol, max_iter, cap)
    return _record(f, xs[0], int(its[0]), tol)


def stationary_points(
    f: Objective,
    starts: torch.Tensor,
    tol: float = 1e-10,
    merge_tol: float = 1e-6,
    max_iter: int = 100,
    max_step: float | None = None,
) -> list[StationaryPoint]:
    r"""Distinct stationary points of a batched objective ``f`` reached by damped Newton from ``starts``.

    All starts are iterated together (one autograd pass per Newton step for the whole batch).

    Parameters
    ----------
    f
        Batched objective: maps ``(k, m)`` to ``(k,)`` (and a point ``(m,)`` to a scalar).
    starts
        Starting points, shape ``(k, m)`` (e.g. a grid over the region of interest).
    tol
        Gradient-norm tolerance; runs that do not reach it are discarded.
    merge_tol
        Points closer than this are reported once.
    max_iter
        Maximum Newton steps.
    max_step
        Optional cap on the length of one Newton step.

    Returns
    -------
    list of StationaryPoint
        Sorted by objective value (lowest first).
    """
    _callable(f, "f")
    _checks.tensor(starts, "starts", ndim=2)
    x = _points(starts, "starts")
    tol = _checks.positive(tol, "tol")
    merge = _checks.positive(merge_tol, "merge_tol")
    max_iter = _checks.integer(max_iter, "max_iter", minimum=0)
    cap = None if max_step is None else _checks.positive(max_step, "max_step")
    xs, its = _newton(f, x, tol, max_iter, cap)
    gn = gradient(f, xs).norm(dim=1)
    found: list[StationaryPoint] = []
    for i in torch.argsort(gn).tolist():
        if float(gn[i]) > tol:
            continue
        if all(float((xs[i] - q.x).norm()) > merge for q in found):
            found.append(_record(f, xs[i], int(its[i]), tol))
    return sorted(found, key=lambda p: p.value)


def ball_points(
    center: torch.Tensor, radius: float, n_points: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Points of the closed ball :math:`\bar B(c, r)`: the centre, the :math:`2m` points
    :math:`c \pm r e_i`, then ``n_points`` random points, half uniform in the ball and half
    uniform on its sphere.

    Parameters
    ----------
    center
        Shape ``(m,)``.
    radius
        :math:`r \ge 0`.
    n_points
        Number of random points (>= 0).
    generator
        Source of randomness.

    Returns
    -------
    torch.Tensor
        Shape ``(1 + 2m + n_points, m)``, float64.
    """
    _checks.tensor(center, "center", ndim=1)
    c = _points(center, "center")
    r = _checks.positive(radius, "radius", allow_zero=True)
    k = _checks.integer(n_points, "n_points", minimum=0)
    m = c.numel()
    eye = torch.eye(m, dtype=torch.float64)
    u = torch.randn(k, m, generator=generator, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-300)
    rad = torch.ones(k, 1, dtype=torch.float64)
    inner = k // 2
    rad[:inner, 0] = torch.rand(inner, generator=generator, dtype=torch.float64) ** (1.0 / m)
    pts = torch.cat([torch.zeros(1, m, dtype=torch.float64), eye, -eye, rad * u])
    return c + r * pts


@dataclass(frozen=True)
class InverseFunctionCertificate:
    r"""Outcome of :func:`inverse_function_certificate` for a zero of ``F`` near ``center``.

    Attributes
    ----------
    center
        :math:`x_0`, shape ``(m,)``.
    radius
        :math:`r`: the closed ball :math:`\bar B(x_0, r)` in which a unique zero is certified.
    residual
        :math:`\|F(x_0)\|`.
    inverse_norm
        :math:`\|A^{-1}\|` (spectral norm), :math:`A = DF(x_0)`.
    tolerance
        :math:`1 / (2\|A^{-1}\|)`, the largest admissible variation of :math:`DF` on the ball.
    deviation
        Sampled :math:`\sup_{x \in \bar B(x_0, r)} \|DF(x) - A\|`.
    n_points
        Number of points of the ball at which :math:`DF` was evaluated.
    holds
        ``residual <= radius * tolerance`` and ``deviation <= tolerance``.
    """

    center: torch.Tensor
    radius: float
    residual: float
    inverse_norm: float
    tolerance: float
    deviation: float
    n_points: int
    holds: bool

    @property
    def ratio(self) -> float:
        """``deviation / tolerance``: the certificate needs it to be at most 1."""
        return self.deviation / self.tolerance


def inverse_function_certificate(
    F: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    radius: float | None = None,
    n_points: int = 256,
    generator: torch.Generator | None = None,
    jacobian_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> InverseFunctionCertificate:
    r"""Certify a unique zero of ``F`` near ``x0`` with the quantitative inverse function theorem.

    With :math:`A = DF(x_0)`, the map :math:`\Phi(x) = x - A^{-1} F(x)` is a
    :math:`\tfrac12`-contraction of :math:`\bar B(x_0, r)` into itself when
    :math:`\sup_{\bar B(x_0,r)}\|DF - A\| \le 1/(2\|A^{-1}\|)` and
    :math:`\|F(x_0)\| \le r / (2\|A^{-1}\|)`; its unique fixed point is the unique zero of ``F`` in
    the ball (Banach's fixed-point theorem). The default radius is the smallest admissible one,
    :math:`r = 2\|A^{-1}\|\,\|F(x_0)\|`: it locates the zero most sharply and makes the
    condition on :math:`DF` easiest to meet.

    Parameters
    ----------
    F
        Vector field, maps a float64 point ``(m,)`` to ``(m,)``. For a stationary point of an
        objective ``f`` use ``F = lambda w: gradient(f, w)`` and ``jacobian_fn = lambda p: hessian(f, p)``.
    x0
        Centre, shape ``(m,)`` (e.g. the stationary point of a simplified objective).
    radius
        Radius of the ball (default: the smallest admissible one, see above).
    n_points
        Random points of the ball (half on its sphere) at which :math:`DF` is evaluated, besides
        the centre and :math:`x_0 \pm r e_i`.
    generator
        Source of randomness for the points.
    jacobian_fn
        Maps a batch of points ``(k, m)`` to their Jacobians ``(k, m, m)`` (e.g. a batched
        :func:`hessian`); default: :func:`jacobian` of ``F`` point by point.

    Returns
    -------
    InverseFunctionCertificate
    """
    _callable(F, "F")
    _checks.tensor(x0, "x0", ndim=1)
    c = _points(x0, "x0")
    n_points = _checks.integer(n_points, "n_points", minimum=0)
    if jacobian_fn is not None:
        _callable(jacobian_fn, "jacobian_fn")
    jac = (lambda pts: jacobian(F, pts)) if jacobian_fn is None else jacobian_fn
    a = jac(c.unsqueeze(0))[0].detach().to(torch.float64)
    if a.shape != (c.numel(), c.numel()):
        raise ValueError(f"the Jacobian at x0 must have shape ({c.numel()}, {c.numel()}), got {tuple(a.shape)}")
    _finite_at(a, c, "Jacobian")
    sv = torch.linalg.svdvals(a)
    if float(sv[-1]) <= torch.finfo(torch.float64).eps * max(float(sv[0]), 1e-300):
        raise ValueError("DF(x0) is singular: the inverse function theorem does not apply")
    inv_norm = 1.0 / float(sv[-1])
    fx = F(c)
    if not isinstance(fx, torch.Tensor) or fx.shape != c.shape:
        raise ValueError(f"F must map a tensor of shape {tuple(c.shape)} to one of the same shape")
    _finite_at(fx, c, "value")
    residual = float(fx.detach().norm())
    tolerance = 1.0 / (2.0 * inv_norm)
    r = 2.0 * inv_norm * residual if radius is None else _checks.positive(radius, "radius", allow_zero=True)
    pts = ball_points(c, r, n_points, generator=generator)
    jx = jac(pts).detach().to(torch.float64)
    _finite_at(jx, pts, "Jacobian (sampled on the ball)")
    dev = float(torch.linalg.matrix_norm(jx - a, ord=2).max())
    holds = residual <= r * tolerance * (1 + 1e-12) and dev <= tolerance
    return InverseFunctionCertificate(
        center=c,
        radius=r,
        residual=residual,
        inverse_norm=inv_norm,
        tolerance=tolerance,
        deviation=dev,
        n_points=pts.shape[0],
        holds=bool(holds),
    )
