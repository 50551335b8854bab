r"""Learning dynamics of linear and random-feature self-supervised models.

The setting of Esser, Mukherjee & Ghoshdastidar (2023), *Representation Learning Dynamics of
Self-Supervised Models* (arXiv:2309.02011), as reconstructed in the book's chapter
``grassmann-dynamics``: an encoder :math:`z = W^\top\psi(x)` that is linear in its trained weights
:math:`W \in \mathbb R^{p\times k}` (``psi`` the identity, or a frozen random ReLU layer), and SSL
losses that are quadratic forms :math:`L(W) = -\mathrm{tr}(W^\top A W)` built from anchors,
positives and negatives.

Conventions: rows are samples (``x`` has shape ``(n, d)``, a representation ``z`` has shape
``(n, k)``); in sample space the ``N`` stacked points have features ``phi`` ``(N, p)``, kernel
:math:`K = \Phi\Phi^\top` ``(N, N)`` and coupling ``S`` ``(N, N)`` with :math:`A = \Phi^\top S \Phi`.
Everything is float64 torch; functions are pure (no state, no global randomness).

Contents

* quadratic forms of the losses: :func:`loss_matrix`, :func:`coupling_matrix`, :func:`ssl_loss`,
  :func:`quadratic_loss`;
* weight-space dynamics: :func:`unconstrained_flow`, :func:`gradient_descent` (Euclidean,
  Riemannian or projected), :func:`two_layer_gradient_descent`, :func:`mode_strength`,
  :func:`blowup_time`;
* the Grassmannian gradient flow of the quadratic form (Oja's subspace flow), in closed form:
  :func:`grassmann_flow_velocity`, :func:`grassmann_flow`, :func:`grassmann_flow_angles`;
* random features and kernels: :func:`relu_features`, :func:`arccos_kernel`;
* sample-space (kernel) dynamics: :func:`kernel_ode_rhs`, :func:`integrate_kernel_ode`,
  :func:`kernel_flow_gram`, :func:`fixed_kernel_flow`, :func:`kernel_optimum`;
* the supervised baseline: :func:`supervised_readout_flow`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import _checks, config, geometry

__all__ = [
    "LOSSES",
    "METHODS",
    "Trajectory",
    "loss_matrix",
    "coupling_matrix",
    "ssl_loss",
    "quadratic_loss",
    "unconstrained_flow",
    "grassmann_flow_velocity",
    "grassmann_flow",
    "grassmann_flow_angles",
    "gradient_descent",
    "two_layer_gradient_descent",
    "mode_strength",
    "blowup_time",
    "relu_features",
    "arccos_kernel",
    "readout_subspace",
    "kernel_ode_rhs",
    "integrate_kernel_ode",
    "kernel_flow_gram",
    "fixed_kernel_flow",
    "kernel_optimum",
    "supervised_readout_flow",
]

LOSSES = ("contrastive", "alignment", "invariance")
#: Most entries of a dense matrix built here (2**27 float64 entries = 1 GiB).
_MAX_DENSE = 2.0**27
#: Default bound on the Runge-Kutta steps of :func:`integrate_kernel_ode` (minutes of CPU time).
MAX_ODE_STEPS = 2_000_000
METHODS = ("euclidean", "riemannian", "projected")
MatrixOrMap = torch.Tensor | Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Trajectory:
    """Recorded iterates of a discrete or continuous-time dynamics.

    Attributes
    ----------
    t
        Times of the records (``step * lr`` for discrete runs), shape ``(m,)``, float64.
    w
        The recorded matrices, shape ``(m, *shape)`` (frames ``(p, k)`` or representations ``(N, k)``).
    steps
        Step index of each record, shape ``(m,)`` (int64).
    stopped
        Whether the run stopped early because the norm exceeded ``max_norm``.
    """

    t: torch.Tensor
    w: torch.Tensor
    steps: torch.Tensor
    stopped: bool = False

    @property
    def final(self) -> torch.Tensor:
        """The last recorded matrix."""
        return self.w[-1]


class _Recorder:
    """The records of a discrete run: step 0, every ``every`` steps, the last step, and the step
    at which the run stops early (after which it ends).

    ``diverged`` is the message of the ``ValueError`` raised when a recorded state is not finite
    (formatted with the step ``m`` and the time ``t``); ``None`` records non-finite states as they
    are (a run that stops once the state blows up). A non-finite state stays non-finite under
    these updates, so checking the records suffices.
    """

    def __init__(self, state: torch.Tensor, steps: int, every: int, diverged: str | None) -> None:
        self.last, self.every, self.diverged = steps, every, diverged
        self.states, self.steps, self.times = [state.clone()], [0], [0.0]
        self.stopped = False

    def offer(self, m: int, state: torch.Tensor, t: float | None = None, stop: bool = False) -> bool:
        """Record ``state`` at step ``m`` (time ``t``) if it is due; return whether the run stops here."""
        self.stopped = stop
        if m % self.every == 0 or m == self.last or stop:
            if self.diverged is not None and not _checks.all_finite(state):
                raise ValueError(self.diverged.format(m=m, t=t))
            self.states.append(state.clone())
            self.steps.append(m)
            self.times.append(t)
        return stop

    def trajectory(self, lr: float | None = None) -> Trajectory:
        """The records; their times are ``step * lr``, or the times offered when ``lr`` is ``None``."""
        s = torch.tensor(self.steps, dtype=torch.long)
        t = s.to(torch.float64) * lr if lr is not None else torch.tensor(self.times, dtype=torch.float64)
        return Trajectory(t=t, w=torch.stack(self.states), steps=s, stopped=self.stopped)


# --- quadratic forms ---------------------------------------------------------------------------


def _sym(m: torch.Tensor) -> torch.Tensor:
    return 0.5 * (m + m.T)


def _views(x, x_pos, x_neg, loss, names=("x", "x_pos", "x_neg")):
    a, b, c = names
    loss = _checks.choice(loss, "loss", LOSSES)
    _checks.tensor(x, a, ndim=2)
    _checks.tensor(x_pos, b, ndim=2)
    _checks.same_shape(x, x_pos, a, b)
    _checks.compatible(**{a: x, b: x_pos})
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{a} needs at least one row and one column, got shape {tuple(x.shape)}")
    if loss == "contrastive":
        if x_neg is None:
            raise ValueError(f"{c} is required for the contrastive loss")
        _checks.tensor(x_neg, c, ndim=2)
        _checks.same_shape(x, x_neg, a, c)
        _checks.compatible(**{a: x, c: x_neg})
    return loss


def loss_matrix(
    x: torch.Tensor, x_pos: torch.Tensor, x_neg: torch.Tensor | None = None, loss: str = "contrastive"
) -> torch.Tensor:
    r"""The symmetric matrix :math:`A` with :math:`\text{loss}(W) = -\mathrm{tr}(W^\top A W)` for the
    linear encoder :math:`z = W^\top x`.

    * ``"contrastive"``: :math:`-\frac1n\sum_i z_i^\top(z_i^+ - z_i^-)`, so
      :math:`A = \mathrm{sym}\,\frac1n\sum_i x_i(x_i^+ - x_i^-)^\top`;
    * ``"alignment"`` (non-contrastive): :math:`-\frac1n\sum_i z_i^\top z_i^+`, so
      :math:`A = \mathrm{sym}\,\frac1n\sum_i x_i x_i^{+\top}`;
    * ``"invariance"`` (non-contrastive): :math:`\frac1n\sum_i\|z_i - z_i^+\|^2`, so
      :math:`A = -\frac1n\sum_i (x_i - x_i^+)(x_i - x_i^+)^\top`.

    (:math:`\mathrm{sym}\,M = (M + M^\top)/2`; losses as reconstructed for Esser, Mukherjee &
    Ghoshdastidar 2023.)

    Parameters
    ----------
    x, x_pos, x_neg
        Anchors, positives and negatives, shape ``(n, d)`` each (``x_neg`` only for ``"contrastive"``).
    loss
        One of :data:`LOSSES`.

    Returns
    -------
    torch.Tensor
        Shape ``(d, d)``, symmetric.
    """
    loss = _views(x, x_pos, x_neg, loss)
    n = x.shape[0]
    if loss == "contrastive":
        return _sym(x.T @ (x_pos - x_neg)) / n
    if loss == "alignment":
        return _sym(x.T @ x_pos) / n
    diff = x - x_pos
    return -(diff.T @ diff) / n


def ssl_loss(
    z: torch.Tensor, z_pos: torch.Tensor, z_neg: torch.Tensor | None = None, loss: str = "contrastive"
) -> torch.Tensor:
    r"""The per-sample form of the losses of :func:`loss_matrix`, averaged over the ``n`` anchors.

    Parameters
    ----------
    z, z_pos, z_neg
        Representations of anchors, positives and negatives, shape ``(n, k)`` each.
    loss
        One of :data:`LOSSES`.

    Returns
    -------
    torch.Tensor
        Scalar; equals :math:`-\mathrm{tr}(W^\top A W)` when ``z = x @ W`` etc.
    """
    loss = _views(z, z_pos, z_neg, loss, names=("z", "z_pos", "z_neg"))
    if loss == "contrastive":
        return -(z * (z_pos - z_neg)).sum(1).mean()
    if loss == "alignment":
        return -(z * z_pos).sum(1).mean()
    return (z - z_pos).pow(2).sum(1).mean()


def coupling_matrix(
    n: int, loss: str = "contrastive", dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> torch.Tensor:
    r"""The sample-space coupling :math:`S` with :math:`A = \Phi^\top S \Phi` (and
    :math:`\text{loss} = -\mathrm{tr}(Z^\top S Z)`, :math:`Z = \Phi W`).

    The stacked points are ``[anchors; positives; negatives]`` (``N = 3n``) for ``"contrastive"``
    and ``[anchors; positives]`` (``N = 2n``) for the two non-contrastive losses. With blocks of
    size ``n``:

    * contrastive: :math:`S = \frac1{2n}\begin{pmatrix}0&I&-I\\I&0&0\\-I&0&0\end{pmatrix}`;
    * alignment: :math:`S = \frac1{2n}\begin{pmatrix}0&I\\I&0\end{pmatrix}`;
    * invariance: :math:`S = -\frac1n\begin{pmatrix}I&-I\\-I&I\end{pmatrix}`.

    Parameters
    ----------
    n
        Number of anchors (>= 1).
    loss
        One of :data:`LOSSES`.
    dtype, device
        Of the returned dense matrix (``N x N``; meant for ``N`` up to a few thousand).
    """
    n = _checks.integer(n, "n", minimum=1)
    loss = _checks.choice(loss, "loss", LOSSES)
    dtype = _checks.float_dtype(dtype)
    big = (3 if loss == "contrastive" else 2) * n
    _checks.work(float(big) ** 2, _MAX_DENSE, f"coupling_matrix(n={n}) is a dense {big} x {big} matrix (entries)")
    eye = torch.eye(n, dtype=dtype, device=device)
    zero = torch.zeros(n, n, dtype=dtype, device=device)
    if loss == "contrastive":
        return torch.cat(
            [torch.cat([zero, eye, -eye], 1), torch.cat([eye, zero, zero], 1), torch.cat([-eye, zero, zero], 1)], 0
        ) / (2 * n)
    if loss == "alignment":
        return torch.cat([torch.cat([zero, eye], 1), torch.cat([eye, zero], 1)], 0) / (2 * n)
    return -torch.cat([torch.cat([eye, -eye], 1), torch.cat([-eye, eye], 1)], 0) / n


def quadratic_loss(w: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    r""":math:`L(W) = -\mathrm{tr}(W^\top A W)` for ``w`` ``(p, k)`` and symmetric ``a`` ``(p, p)``."""
    _checks.tensor(w, "w", ndim=2)
    _checks.symmetric(a, "a")
    _checks.compatible(a=a, w=w)
    if w.shape[0] != a.shape[0]:
        raise ValueError(f"w must have {a.shape[0]} rows to match a, got shape {tuple(w.shape)}")
    return _checks.finite_output(-(w * (a @ w)).sum(), "quadratic_loss", w=w, a=a)


# --- weight-space dynamics ---------------------------------------------------------------------


def unconstrained_flow(a: torch.Tensor, w0: torch.Tensor, t) -> torch.Tensor:
    r"""Exact solution :math:`W(t) = e^{2At}W_0` of the unconstrained gradient flow
    :math:`\dot W = 2AW` of :math:`L(W) = -\mathrm{tr}(W^\top AW)` (computed by eigendecomposition).

    Parameters
    ----------
    a
        Symmetric, shape ``(p, p)``.
    w0
        Shape ``(p, k)``.
    t
        Non-negative time or 1-D sequence of ``m`` times.

    Returns
    -------
    torch.Tensor
        ``(p, k)`` or ``(m, p, k)``.
    """
    _checks.symmetric(a)
    _checks.tensor(w0, "w0", ndim=2)
    _checks.compatible(a=a, w0=w0)
    if w0.shape[0] != a.shape[0]:
        raise ValueError(f"w0 must have {a.shape[0]} rows to match a, got shape {tuple(w0.shape)}")
    times, scalar = _checks.times(t)
    vals, vecs = torch.linalg.eigh(a)
    b = vecs.T @ w0
    times = times.to(device=a.device, dtype=a.dtype)
    out = torch.einsum("pq,mq,qk->mpk", vecs, torch.exp(2.0 * times[:, None] * vals[None, :]), b)
    _checks.finite_output(
        out,
        "unconstrained_flow (e^{2At} W0 overflows: the weights grow like e^{2 lambda_max t}; use a smaller t)",
        a=a,
        w0=w0,
    )
    return out[0] if scalar else out


def _matvec(a: MatrixOrMap, p: int | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    if isinstance(a, torch.Tensor):
        _checks.symmetric(a)
        if p is not None and a.shape[0] != p:
            raise ValueError(f"a must have shape ({p}, {p}) to match the weights, got {tuple(a.shape)}")
        return lambda w: a @ w
    if callable(a):
        return a
    raise TypeError(f"a must be a symmetric torch.Tensor or a callable w -> A @ w, got {type(a).__name__}")


def gradient_descent(
    a: MatrixOrMap,
    w0: torch.Tensor,
    lr: float,
    steps: int,
    method: str = "euclidean",
    every: int = 1,
    max_norm: float | None = None,
) -> Trajectory:
    r"""Discrete gradient descent on :math:`L(W) = -\mathrm{tr}(W^\top AW)` (Euclidean gradient
    :math:`-2AW`).

    * ``"euclidean"`` (unconstrained): :math:`W \leftarrow W + 2\eta AW`, i.e. exactly
      :math:`W_m = (I + 2\eta A)^m W_0`;
    * ``"riemannian"`` (Grassmannian RGD with QR retraction, via
      :func:`sslbook.geometry.grassmann_step`): :math:`W \leftarrow \mathrm{qf}(W + 2\eta(I - WW^\top)AW)`;
      an :math:`O(\eta)` discretisation of the flow of :func:`grassmann_flow`;
    * ``"projected"``: :math:`W \leftarrow \mathrm{qf}(W + 2\eta AW)`, which is exactly subspace
      iteration: :math:`\mathrm{span}\,W_m = \mathrm{span}\,(I + 2\eta A)^m W_0`.

    Parameters
    ----------
    a
        Symmetric ``(p, p)`` tensor, or a callable ``w -> A @ w`` (e.g. ``A = phi.T @ S @ phi`` applied
        without forming it).
    w0
        Initial weights ``(p, k)`` (orthonormal for ``"riemannian"`` and ``"projected"``).
    lr
        Step size :math:`\eta > 0`; record ``m`` has time ``steps[m] * lr``.
    steps
        Number of steps (>= 0).
    method
        One of :data:`METHODS`.
    every
        Record every ``every`` steps (step 0 and the last step are always recorded).
    max_norm
        Euclidean runs only: stop once :math:`\|W\|_F` exceeds it (the loss is unbounded below).

    Returns
    -------
    Trajectory
    """
    method = _checks.choice(method, "method", METHODS)
    _checks.tensor(w0, "w0", ndim=2)
    if w0.shape[0] < 1 or w0.shape[1] < 1:
        raise ValueError(f"w0 needs at least one row and one column, got shape {tuple(w0.shape)}")
    apply_a = _matvec(a, w0.shape[0])
    if isinstance(a, torch.Tensor):
        _checks.compatible(a=a, w0=w0)
    eta = _checks.positive(lr, "lr")
    steps = _checks.integer(steps, "steps", minimum=0)
    every = _checks.integer(every, "every", minimum=1)
    cap = None if max_norm is None else _checks.positive(max_norm, "max_norm")
    if method != "euclidean":
        if w0.shape[1] > w0.shape[0] or not geometry.is_orthonormal(w0, 1e-8):
            raise ValueError("w0 must be an orthonormal frame (W0^T W0 = I) for Riemannian or projected descent")
        if cap is not None:
            raise ValueError("max_norm only applies to method='euclidean' (constrained weights have norm sqrt(k))")
    w = w0.clone()
    rec = _Recorder(
        w,
        steps,
        every,
        "gradient descent diverged (non-finite weights by step {m}): lower lr or the "
        "scale of a or w0, or pass max_norm to stop once the norm exceeds it",
    )
    for m in config.progress(range(1, steps + 1), f"gradient descent ({method})"):
        aw = apply_a(w)
        if method == "euclidean":
            w = w + 2.0 * eta * aw
        elif method == "riemannian":
            w = geometry.grassmann_step(w, -2.0 * aw, eta)
        else:
            w = geometry.orthonormalize(w + 2.0 * eta * aw)
        if rec.offer(m, w, stop=cap is not None and float(w.norm()) > cap):
            break
    return rec.trajectory(lr=eta)


def two_layer_gradient_descent(
    a: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    lr: float,
    steps: int,
    every: int = 1,
    max_norm: float | None = None,
) -> Trajectory:
    r"""Gradient descent on the two-layer linear model :math:`W = W_1W_2`, loss
    :math:`-\mathrm{tr}(W_2^\top W_1^\top A W_1 W_2)` (the SSL analogue of Saxe et al. 2014).

    Updates (simultaneous): :math:`W_1 \leftarrow W_1 + 2\eta AW_1W_2W_2^\top`,
    :math:`W_2 \leftarrow W_2 + 2\eta W_1^\top AW_1W_2`.

    Parameters
    ----------
    a
        Symmetric, shape ``(p, p)``.
    w1, w2
        Shapes ``(p, q)`` and ``(q, k)``.
    lr, steps, every
        As in :func:`gradient_descent`.
    max_norm
        Stop once :math:`\|W_1W_2\|_F` exceeds it (the mode strengths blow up in finite time).

    Returns
    -------
    Trajectory
        Records of the product :math:`W_1W_2` ``(p, k)``.
    """
    _checks.symmetric(a)
    _checks.tensor(w1, "w1", ndim=2)
    _checks.tensor(w2, "w2", ndim=2)
    _checks.compatible(a=a, w1=w1, w2=w2)
    if w1.shape[0] != a.shape[0]:
        raise ValueError(f"w1 must have {a.shape[0]} rows to match a, got shape {tuple(w1.shape)}")
    if w2.shape[0] != w1.shape[1]:
        raise ValueError(f"w2 must have {w1.shape[1]} rows (the columns of w1), got shape {tuple(w2.shape)}")
    eta = _checks.positive(lr, "lr")
    steps = _checks.integer(steps, "steps", minimum=0)
    every = _checks.integer(every, "every", minimum=1)
    cap = None if max_norm is None else _checks.positive(max_norm, "max_norm")
    u, v = w1.clone(), w2.clone()
    rec = _Recorder(
        u @ v,
        steps,
        every,
        None
        if cap is not None
        else (
            "two-layer gradient descent diverged (non-finite weights by step {m}): the modes blow up in finite time; "
            "lower lr, steps or the scale of a, w1, w2, or pass max_norm"
        ),
    )
    for m in config.progress(range(1, steps + 1), "two-layer gradient descent"):
        au = a @ u
        u, v = u + 2.0 * eta * au @ (v @ v.T), v + 2.0 * eta * (u.T @ au) @ v
        w = u @ v
        if rec.offer(m, w, stop=cap is not None and (not bool(torch.isfinite(w).all()) or float(w.norm()) > cap)):
            break
    return rec.trajectory(lr=eta)


def blowup_time(eigenvalue: float, s0: float) -> float:
    r"""Blow-up time :math:`t^* = 1/(4\lambda s_0)` of the mode ODE :math:`\dot s = 4\lambda s^2`.

    Parameters
    ----------
    eigenvalue
        Eigenvalue :math:`\lambda` of :math:`A` for this mode.
    s0
        Initial strength (>= 0).

    Returns
    -------
    float
        :math:`t^*`, or ``inf`` when :math:`\lambda s_0 \le 0` (the mode then decays or stays put).
    """
    lam = _checks.real(eigenvalue, "eigenvalue")
    s0 = _checks.positive(s0, "s0", allow_zero=True)
    return math.inf if lam * s0 <= 0 else 1.0 / (4.0 * lam * s0)


def mode_strength(eigenvalue: float, s0: float, t) -> torch.Tensor:
    r"""Solution :math:`s(t) = s_0/(1 - 4\lambda s_0 t)` of :math:`\dot s = 4\lambda s^2`, the strength of
    one mode of the balanced two-layer linear SSL model (``inf`` at and after the blow-up time).

    Parameters
    ----------
    eigenvalue
        Eigenvalue :math:`\lambda` of :math:`A` for this mode.
    s0
        Initial strength (>= 0).
    t
        Non-negative time or 1-D sequence of times.
    """
    lam = _checks.real(eigenvalue, "eigenvalue")
    s0 = _checks.positive(s0, "s0", allow_zero=True)
    times, scalar = _checks.times(t)
    den = 1.0 - 4.0 * lam * s0 * times
    out = torch.where(den > 0, s0 / den.clamp_min(1e-300), torch.full_like(times, math.inf))
    return out[0] if scalar else out


# --- Grassmannian gradient flow of the quadratic form ----------------------------------------
# Esser, Mukherjee & Ghoshdastidar (2023) study SSL losses -tr(W^T A W) under W^T W = I; their
# exact dynamics are the flow below (Oja's subspace flow; Yan, Helmke & Moore 1994).


def _frame_for(a: torch.Tensor, w: torch.Tensor, name: str = "w0") -> torch.Tensor:
    _checks.tensor(w, name, ndim=2)
    if w.device != a.device:
        raise ValueError(f"a and {name} must be on the same device, got {a.device} and {w.device}")
    if w.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column, got shape {tuple(w.shape)}")
    if w.shape[0] != a.shape[0]:
        raise ValueError(f"{name} must have {a.shape[0]} rows to match a, got shape {tuple(w.shape)}")
    if w.shape[1] > w.shape[0]:
        raise ValueError(f"{name} must have at most as many columns as rows, got shape {tuple(w.shape)}")
    return w


def grassmann_flow_velocity(a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    r"""The Grassmannian gradient-flow vector field :math:`\dot W = 2(I - WW^\top)AW` of the loss
    :math:`L(W) = -\mathrm{tr}(W^\top A W)` at the frame ``w``.

    It is minus the Riemannian gradient of :math:`L` (embedded metric, horizontal lift; Edelman,
    Arias & Smith 1998), i.e. Oja's subspace flow; Esser, Mukherjee & Ghoshdastidar (2023) derive
    the SSL learning dynamics from it.

    Parameters
    ----------
    a
        Symmetric matrix, shape ``(p, p)``.
    w
        Orthonormal frame, shape ``(p, k)``.

    Returns
    -------
    torch.Tensor
        Shape ``(p, k)``; horizontal (:math:`W^\top \dot W = 0`).
    """
    _checks.symmetric(a)
    _frame_for(a, w, "w")
    _checks.compatible(a=a, w=w)
    return 2.0 * geometry.grassmann_gradient(w, a @ w)


def _tangent_coordinates(a: torch.Tensor, w0: torch.Tensor):
    """Eigen-decomposition of ``a`` (descending) and :math:`C = B_2 B_1^{-1}` with
    :math:`B = U^\\top W_0` split after row ``k``."""
    p, k = w0.shape
    vals, vecs = geometry.top_eigenspace(a, p)
    b = vecs.T @ w0
    b1, b2 = b[:k], b[k:]
    sv = torch.linalg.svdvals(b1)
    if float(sv[-1]) <= 1e-12 * max(1.0, float(sv[0])):
        raise ValueError(
            "w0 is orthogonal to a direction of the top-k eigenspace of a (U_k^T W0 is singular); "
            "the flow then converges to a saddle and the closed form in tangent coordinates does not apply"
        )
    c = torch.linalg.solve(b1.T, b2.T).T  # B2 B1^{-1}, shape (p-k, k)
    return vals, vecs, c


def _tangent_at(vals: torch.Tensor, c: torch.Tensor, t: float) -> torch.Tensor:
    k = c.shape[1]
    # T_ij(t) = C_ij exp(-2 (lambda_j - lambda_{k+i}) t): every exponent is <= 0 for t >= 0.
    expo = 2.0 * (vals[k:, None] - vals[None, :k]) * t
    return c * torch.exp(expo)


def grassmann_flow(a: torch.Tensor, w0: torch.Tensor, t) -> torch.Tensor:
    r"""Closed form of the Grassmannian gradient flow :math:`\dot W = 2(I - WW^\top)AW`:
    :math:`\mathrm{span}\,W(t) = \mathrm{span}\,e^{2At}W_0`.

    Evaluated stably in float64 in *tangent coordinates*: with :math:`A = U\Lambda U^\top`
    (eigenvalues descending) and :math:`U^\top W_0 = \begin{pmatrix}B_1\\B_2\end{pmatrix}`,
    :math:`\mathrm{span}\,e^{2At}W_0 = \mathrm{span}\,U\begin{pmatrix}I\\T(t)\end{pmatrix}` with
    :math:`T(t) = e^{2\Lambda_2 t} B_2 B_1^{-1} e^{-2\Lambda_1 t}`, whose entries only decay. Forming
    :math:`e^{2At}W_0` and orthonormalising it instead loses accuracy like
    :math:`e^{2(\lambda_1-\lambda_k)t}\epsilon_{\rm mach}`. (Esser, Mukherjee & Ghoshdastidar 2023;
    Yan, Helmke & Moore 1994.)

    Parameters
    ----------
    a
        Symmetric matrix, shape ``(p, p)``.
    w0
        Initial frame (its span is what matters), shape ``(p, k)``; ``U_k^T W0`` must be invertible.
    t
        A non-negative time, or a 1-D sequence/tensor of ``m`` times.

    Returns
    -------
    torch.Tensor
        An orthonormal basis of :math:`\mathrm{span}\,W(t)`: shape ``(p, k)`` for a scalar ``t``,
        ``(m, p, k)`` otherwise. Only the span is determined (compare with principal angles or
        projectors); the basis is not the horizontal Stiefel curve.

    Raises
    ------
    ValueError
        If ``U_k^T W0`` is singular (non-generic start), or on malformed input.
    """
    _checks.symmetric(a)
    _frame_for(a, w0)
    times, scalar = _checks.times(t)
    a64, w64 = a.detach().to(torch.float64), w0.detach().to(torch.float64)
    vals, vecs, c = _tangent_coordinates(a64, w64)
    k = w64.shape[1]
    eye = torch.eye(k, dtype=torch.float64, device=a64.device)
    frames = torch.stack(
        [vecs @ geometry.orthonormalize(torch.cat([eye, _tangent_at(vals, c, float(s))], 0)) for s in times]
    )
    frames = frames.to(dtype=w0.dtype if w0.dtype.is_floating_point else torch.float64)
    return frames[0] if scalar else frames


def grassmann_flow_angles(a: torch.Tensor, w0: torch.Tensor, t) -> torch.Tensor:
    r"""Principal angles between the flow's subspace :math:`\mathrm{span}\,W(t)` and the top-``k``
    eigenspace of ``a``, from the closed form :math:`\tan\theta_i(t) = \sigma_i(T(t))`.

    With :math:`T(t)` as in :func:`grassmann_flow`, :math:`\tan\theta_{\max}(t) \le
    \tan\theta_{\max}(0)\,e^{-2(\lambda_k-\lambda_{k+1})t}`. Exact to relative machine precision even
    for angles near zero (no cosine is ever formed).

    Parameters
    ----------
    a
        Symmetric matrix, shape ``(p, p)``.
    w0
        Initial frame, shape ``(p, k)``, with ``U_k^T W0`` invertible.
    t
        A non-negative time or a 1-D sequence/tensor of ``m`` times.

    Returns
    -------
    torch.Tensor
        Angles in radians, ascending, float64: shape ``(k,)`` or ``(m, k)``.
    """
    _checks.symmetric(a)
    _frame_for(a, w0)
    times, scalar = _checks.times(t)
    vals, _, c = _tangent_coordinates(a.detach().to(torch.float64), w0.detach().to(torch.float64))
    k = c.shape[1]
    # T(t) for all times at once, shape (m, p-k, k); exponents are <= 0 for t >= 0.
    expo = 2.0 * (vals[k:, None] - vals[None, :k])
    tangents = c * torch.exp(expo * times.to(c.device)[:, None, None])
    out = torch.zeros(times.numel(), k, dtype=torch.float64, device=c.device)
    if tangents.shape[1] > 0:
        sv = torch.linalg.svdvals(tangents)  # (m, min(p-k, k)), descending
        out[:, k - sv.shape[1] :] = torch.atan(sv.flip(1))
    return out[0] if scalar else out


# --- random features and kernels ---------------------------------------------------------------


def relu_features(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Random ReLU features :math:`\psi(x) = \sqrt{2/h}\,\mathrm{relu}(Vx)` of a frozen first layer.

    With :math:`V_{ij} \sim \mathcal N(0, 1)` i.i.d., :math:`\psi(x)^\top\psi(y)` converges to
    :func:`arccos_kernel` as the width :math:`h \to \infty`, at rate :math:`O(h^{-1/2})`.

    Parameters
    ----------
    x
        Inputs, shape ``(N, d)``.
    v
        First-layer weights, shape ``(h, d)``.

    Returns
    -------
    torch.Tensor
        Features, shape ``(N, h)``.
    """
    _checks.tensor(x, "x", ndim=2)
    _checks.tensor(v, "v", ndim=2)
    _checks.compatible(x=x, v=v)
    if v.shape[1] != x.shape[1]:
        raise ValueError(f"v must have {x.shape[1]} columns to match x, got shape {tuple(v.shape)}")
    if v.shape[0] < 1:
        raise ValueError(f"v must have at least one row (hidden unit), got shape {tuple(v.shape)}")
    return _checks.finite_output(math.sqrt(2.0 / v.shape[0]) * torch.relu(x @ v.T), "relu_features", x=x, v=v)


def arccos_kernel(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    r"""The infinite-width ReLU (first-order arc-cosine) kernel of :func:`relu_features`:
    :math:`K(x, y) = \frac{\|x\|\|y\|}{\pi}\big(\sin\theta + (\pi - \theta)\cos\theta\big)`, with
    :math:`\theta` the angle between :math:`x` and :math:`y` (Cho & Saul 2009).

    Parameters
    ----------
    x
        Shape ``(N, d)``.
    y
        Shape ``(M, d)`` (default ``x``).

    Returns
    -------
    torch.Tensor
        Shape ``(N, M)``.
    """
    _checks.tensor(x, "x", ndim=2)
    if y is None:
        y = x
    _checks.tensor(y, "y", ndim=2)
    _checks.compatible(x=x, y=y)
    if y.shape[1] != x.shape[1]:
        raise ValueError(f"x and y must have the same number of columns, got {x.shape[1]} and {y.shape[1]}")
    nx, ny = x.norm(dim=1), y.norm(dim=1)
    outer = nx[:, None] * ny[None, :]
    # cosines from rows rescaled to unit length first: exact at any scale (norms of 1e-30 rows underflow)
    cos = (_checks.unit_rows(x) @ _checks.unit_rows(y).T).clamp(-1.0, 1.0)
    theta = torch.arccos(cos)
    return _checks.finite_output(
        outer / math.pi * (torch.sin(theta) + (math.pi - theta) * cos), "arccos_kernel", x=x, y=y
    )


def readout_subspace(phi: torch.Tensor, w0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""An orthonormal basis :math:`B` of :math:`\mathrm{span}[\Phi^\top, W_0]`, in which readout
    dynamics driven by :math:`A = \Phi^\top S\Phi` can be run exactly at any width.

    Every update of :func:`gradient_descent` (all three methods) adds to :math:`W` multiples of
    :math:`AW = \Phi^\top(S\Phi W)` and of :math:`W` itself, so the iterates never leave
    :math:`\mathrm{span}\,B` (dimension at most ``N + k``). Writing :math:`W = BC`, the run on
    :math:`C` with features :math:`\Phi B` reproduces the run on :math:`W` (the QR retraction
    commutes with the isometry :math:`B`), at a cost independent of the width ``h``. When
    ``h <= N + k`` the basis is the identity.

    Parameters
    ----------
    phi
        Features of the ``N`` stacked points, shape ``(N, h)``.
    w0
        Initial readout, shape ``(h, k)``.

    Returns
    -------
    (basis, phi_reduced, c0)
        ``basis`` ``(h, r)`` with orthonormal columns, ``phi_reduced = phi @ basis`` ``(N, r)`` and
        ``c0 = basis.T @ w0`` ``(r, k)`` (so ``basis @ c0 == w0`` up to rounding).
    """
    _checks.tensor(phi, "phi", ndim=2)
    _checks.tensor(w0, "w0", ndim=2)
    _checks.compatible(phi=phi, w0=w0)
    if w0.shape[0] != phi.shape[1]:
        raise ValueError(f"w0 must have {phi.shape[1]} rows (one per feature), got shape {tuple(w0.shape)}")
    h = phi.shape[1]
    if h <= phi.shape[0] + w0.shape[1]:
        basis = torch.eye(h, dtype=phi.dtype, device=phi.device)
    else:
        basis, _ = torch.linalg.qr(torch.cat([phi.T, w0], dim=1))
    return basis, phi @ basis, basis.T @ w0


# --- sample-space (kernel) dynamics ------------------------------------------------------------


def _kernel_args(
    z0: torch.Tensor, kmat: torch.Tensor, s: torch.Tensor, batched: bool = False, z_name: str = "z0"
) -> None:
    """Check ``z0`` ``(N, k)``, ``kmat`` ``(N, N)`` and ``s`` ``(N, N)``; with ``batched``, ``z0``
    ``(B, N, k)`` and ``kmat`` ``(B, N, N)`` are allowed too (``s`` is shared)."""
    dims = (2, 3) if batched else 2
    _checks.tensor(z0, z_name, ndim=dims)
    _checks.tensor(kmat, "kmat", ndim=dims)
    _checks.symmetric(s, "s")
    _checks.compatible(s=s, kmat=kmat, **{z_name: z0})
    if kmat.shape[-2:] != s.shape:
        raise ValueError(
            f"kmat must have shape {tuple(s.shape)} (or a batch of those) to match s, got {tuple(kmat.shape)}"
        )
    if not torch.allclose(kmat, kmat.transpose(-1, -2), atol=1e-8 * float(kmat.abs().max())):
        raise ValueError("kmat must be symmetric")
    if z0.shape[-2] != s.shape[0]:
        raise ValueError(f"{z_name} must have {s.shape[0]} rows (one per point), got shape {tuple(z0.shape)}")
    if z0.shape[-1] < 1:
        raise ValueError(f"{z_name} must have at least one column, got shape {tuple(z0.shape)}")
    if kmat.ndim == 3 and z0.ndim == 2:
        raise ValueError(
            f"{z_name} must be a batch (B, N, k) when kmat is a batch of kernels, got shape {tuple(z0.shape)}"
        )
    if z0.ndim == 3 and kmat.ndim == 3 and z0.shape[0] != kmat.shape[0]:
        raise ValueError(f"{z_name} and kmat must have the same batch size, got {z0.shape[0]} and {kmat.shape[0]}")


def _rhs(z: torch.Tensor, kmat: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    sz = s @ z
    return 2.0 * (kmat @ sz - z @ (z.transpose(-1, -2) @ sz))


def kernel_ode_rhs(z: torch.Tensor, kmat: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    r"""Right-hand side :math:`\dot Z = 2(K - ZZ^\top)SZ` of the width-independent sample-space
    dynamics of the Grassmannian flow (representation :math:`Z = \Phi W`, ``(N, k)``).

    Parameters
    ----------
    z
        Representation of the ``N`` stacked points, shape ``(N, k)`` (or a batch ``(B, N, k)``).
    kmat
        Kernel :math:`K = \Phi\Phi^\top`, shape ``(N, N)`` (or a batch ``(B, N, N)``).
    s
        Coupling :math:`S` of :func:`coupling_matrix`, shape ``(N, N)``.
    """
    _kernel_args(z, kmat, s, batched=True, z_name="z")
    return _checks.finite_output(_rhs(z, kmat, s), "kernel_ode_rhs", z=z, kmat=kmat, s=s)


def integrate_kernel_ode(
    z0: torch.Tensor,
    kmat: torch.Tensor,
    s: torch.Tensor,
    t_end: float,
    dt: float = 1e-3,
    every: int = 1,
    max_steps: int = MAX_ODE_STEPS,
) -> Trajectory:
    r"""Integrate :math:`\dot Z = 2(K - ZZ^\top)SZ` with the classical 4th-order Runge-Kutta scheme.

    Parameters
    ----------
    z0
        Initial representation ``(N, k)``; it should come from an orthonormal readout
        (:math:`Z_0 = \Phi W_0`, :math:`W_0^\top W_0 = I`), e.g. :math:`Z_0 = KR(R^\top KR)^{-1/2}`.
        A batch ``(B, N, k)`` integrates ``B`` systems at once.
    kmat, s
        Kernel ``(N, N)`` (or a batch ``(B, N, N)``, one kernel per system) and coupling ``(N, N)``.
    t_end
        Final time (>= 0); the number of steps is ``ceil(t_end / dt)`` and the last step is shortened
        so the run ends exactly at ``t_end``.
    dt
        Step size (> 0).
    every
        Record every ``every`` steps (step 0 and the last are always recorded).
    max_steps
        Refuse (``ValueError``) a run of more than ``max_steps`` steps rather than run for hours:
        an enormous ``t_end`` or a tiny ``dt`` is almost always a mistake. Raise it on purpose.

    Returns
    -------
    Trajectory
        Records of :math:`Z` (``w`` has shape ``(m, N, k)``, or ``(m, B, N, k)`` for a batch).
    """
    _kernel_args(z0, kmat, s, batched=True)
    t_end = _checks.positive(t_end, "t_end", allow_zero=True)
    h = _checks.positive(dt, "dt")
    every = _checks.integer(every, "every", minimum=1)
    max_steps = _checks.integer(max_steps, "max_steps", minimum=1)
    ratio = t_end / h  # may be inf for a subnormal dt
    _checks.work(
        ratio,
        max_steps,
        f"integrate_kernel_ode: t_end / dt = {t_end!r} / {h!r} Runge-Kutta steps "
        f"(raise dt, lower t_end, or raise max_steps on purpose)",
    )
    n_steps = max(0, math.ceil(ratio - 1e-9))

    def f(z):
        return _rhs(z, kmat, s)

    z, t = z0.clone(), 0.0
    rec = _Recorder(
        z,
        n_steps,
        every,
        "integrate_kernel_ode diverged (non-finite Z by t = {t:.4g}): lower dt or the scale of z0, kmat and s",
    )
    for m in config.progress(range(1, n_steps + 1), "kernel ODE (RK4)"):
        step = min(h, t_end - t)
        k1 = f(z)
        k2 = f(z + 0.5 * step * k1)
        k3 = f(z + 0.5 * step * k2)
        k4 = f(z + step * k3)
        z = z + step / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        t = t + step
        rec.offer(m, z, t=t)
    return rec.trajectory()


def kernel_flow_gram(z0: torch.Tensor, kmat: torch.Tensor, s: torch.Tensor, t) -> torch.Tensor:
    r"""Closed form of the Gram matrix :math:`G(t) = Z(t)Z(t)^\top` of the sample-space dynamics
    :math:`\dot Z = 2(K - ZZ^\top)SZ`:

    .. math::
        G(t) = e^{2KSt}Z_0\big[I_k + Z_0^\top \textstyle\int_0^{4t}e^{uSK}du\; S Z_0\big]^{-1}Z_0^\top e^{2SKt}.

    It depends on the network only through the kernel :math:`K` and :math:`Z_0`, at every width.
    Valid when :math:`Z_0 = \Phi W_0` with :math:`W_0^\top W_0 = I`.

    Evaluating the formula as written cancels numbers of size :math:`e^{4t\lambda_{\max}}` and loses
    all accuracy after a few time units. We evaluate it stably instead: the Gram matrix
    :math:`\begin{pmatrix}K & Z_0\\ Z_0^\top & I_k\end{pmatrix}` of the rows of :math:`\Phi` and the
    columns of :math:`W_0` (it only involves :math:`K` and :math:`Z_0`) has a square root
    :math:`F = [\tilde\Phi^\top, \tilde W_0]` of size ``N + k``, an isometric copy of
    :math:`\mathrm{span}[\Phi^\top, W_0]`. The closed-form Grassmannian flow
    (:func:`grassmann_flow`, tangent coordinates) of :math:`\tilde A = \tilde\Phi^\top S
    \tilde\Phi` from :math:`\tilde W_0` then gives :math:`G = \tilde\Phi \tilde P(t) \tilde\Phi^\top`.

    Parameters
    ----------
    z0
        Initial representation ``(N, k)``.
    kmat, s
        Kernel and coupling ``(N, N)``.
    t
        Non-negative time or 1-D sequence of ``m`` times.

    Returns
    -------
    torch.Tensor
        ``(N, N)`` or ``(m, N, N)``.

    Raises
    ------
    ValueError
        If :math:`\begin{pmatrix}K & Z_0\\ Z_0^\top & I\end{pmatrix}` is not positive semi-definite
        (then no orthonormal :math:`W_0` with :math:`\Phi W_0 = Z_0` exists), or if the start is
        non-generic (see :func:`grassmann_flow`).
    """
    _kernel_args(z0, kmat, s)
    times, scalar = _checks.times(t)
    n, k = z0.shape
    eye_k = torch.eye(k, dtype=z0.dtype, device=z0.device)
    big = torch.cat([torch.cat([kmat, z0], 1), torch.cat([z0.T, eye_k], 1)], 0)
    big = 0.5 * (big + big.T)
    vals, vecs = torch.linalg.eigh(big)
    if float(vals[0]) < -1e-8 * max(1.0, float(vals[-1])):
        raise ValueError(
            "z0 is not the representation Phi W0 of an orthonormal W0 for the kernel kmat "
            "([[K, Z0], [Z0^T, I]] is not positive semi-definite)"
        )
    root = _psd_root(vals, vecs)  # F with F^T F = big, shape (N + k, N + k)
    phi_t, w0_t = root[:, :n].T, root[:, n:]  # rows of Phi and columns of W0, isometrically
    a_t = phi_t.T @ s @ phi_t
    try:
        frames = grassmann_flow(0.5 * (a_t + a_t.T), w0_t, times)  # (m, N + k, k)
    except ValueError as err:  # say it in terms of this function's arguments
        raise ValueError(f"z0 and kmat give a non-generic start of the flow ({err})") from None
    zt = phi_t @ frames
    g = zt @ zt.transpose(-1, -2)
    return g[0] if scalar else g


def fixed_kernel_flow(z0: torch.Tensor, kmat: torch.Tensor, s: torch.Tensor, t) -> torch.Tensor:
    r"""Fixed-kernel ("NTK") dynamics :math:`\dot Z = 2KSZ`, i.e. :math:`Z(t) = e^{2KSt}Z_0`.

    This is the exact function-space form of the *unconstrained* flow :math:`\dot W = 2AW` of a model
    linear in :math:`W` (its tangent kernel :math:`K\otimes I_k` never changes), and the prediction
    of a linearisation around initialisation.

    Parameters
    ----------
    z0
        Initial representation ``(N, k)``.
    kmat, s
        Kernel and coupling ``(N, N)``.
    t
        Non-negative time or 1-D sequence of ``m`` times.

    Returns
    -------
    torch.Tensor
        ``(N, k)`` or ``(m, N, k)``.
    """
    _kernel_args(z0, kmat, s)
    times, scalar = _checks.times(t)
    ks = kmat @ s
    out = torch.stack([torch.linalg.matrix_exp(2.0 * tt * ks) @ z0 for tt in times.tolist()])
    _checks.finite_output(out, "fixed_kernel_flow (e^{2KSt} Z0 overflows; use a smaller t)", z0=z0, kmat=kmat, s=s)
    return out[0] if scalar else out


def _sqrt_psd(kmat: torch.Tensor) -> torch.Tensor:
    return _psd_root(*torch.linalg.eigh(kmat))


def _psd_root(vals: torch.Tensor, vecs: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a PSD matrix from its ``eigh`` (negative rounding errors clipped)."""
    return (vecs * vals.clamp_min(0.0).sqrt()) @ vecs.T


def kernel_optimum(kmat: torch.Tensor, s: torch.Tensor, k: int) -> tuple[float, torch.Tensor]:
    r"""Optimum of :math:`-\mathrm{tr}(Z^\top SZ)` over representations :math:`Z = \Phi W`,
    :math:`W^\top W = I_k`: the value :math:`-\sum_{i\le k}\lambda_i(K^{1/2}SK^{1/2})` (Ky Fan) and the
    optimal Gram matrix :math:`G^* = K^{1/2}Q_kQ_k^\top K^{1/2}`, :math:`Q_k` the top-``k``
    eigenvectors of :math:`K^{1/2}SK^{1/2}` (a kernel-PCA-type solution).

    Parameters
    ----------
    kmat
        Kernel ``(N, N)``, positive semi-definite.
    s
        Coupling ``(N, N)``, symmetric.
    k
        Representation dimension, ``1 <= k <= N`` (and at most the width).

    Returns
    -------
    (float, torch.Tensor)
        Optimal loss and :math:`G^*` ``(N, N)``.
    """
    _checks.symmetric(kmat, "kmat")
    _checks.symmetric(s, "s")
    _checks.compatible(kmat=kmat, s=s)
    if kmat.shape != s.shape:
        raise ValueError(f"kmat and s must have the same shape, got {tuple(kmat.shape)} and {tuple(s.shape)}")
    k = _checks.integer(k, "k", minimum=1, maximum=kmat.shape[0])
    root = _sqrt_psd(kmat)
    m = root @ s @ root
    vals, q = geometry.top_eigenspace(0.5 * (m + m.T), k)
    zq = root @ q
    return -float(vals.sum()), zq @ zq.T


def supervised_readout_flow(phi: torch.Tensor, y: torch.Tensor, a0: torch.Tensor, t: float) -> torch.Tensor:
    r"""Exact gradient flow of the supervised squared loss :math:`\tfrac12\|\Phi a - y\|^2` of a
    linear readout on fixed features, after time ``t``:
    :math:`a(t) = a_0 - \Phi^\top\big(\textstyle\int_0^t e^{-Ku}du\big)(\Phi a_0 - y)`, :math:`K = \Phi\Phi^\top`.

    With :math:`\Phi` the features of :func:`relu_features` and :math:`a_0 \sim \mathcal N(0, I_h)`
    (NTK parametrisation), :math:`\|a(t) - a_0\|/\|a_0\| = O(h^{-1/2})`: the lazy regime
    (Jacot, Gabriel & Hongler 2018).

    Parameters
    ----------
    phi
        Features ``(N, h)``.
    y
        Targets ``(N,)`` or ``(N, c)``.
    a0
        Initial readout ``(h,)`` or ``(h, c)`` (matching ``y``).
    t
        Time (>= 0).

    Returns
    -------
    torch.Tensor
        :math:`a(t)`, same shape as ``a0``.
    """
    _checks.tensor(phi, "phi", ndim=2)
    _checks.tensor(y, "y", ndim=(1, 2))
    _checks.tensor(a0, "a0", ndim=(1, 2))
    _checks.compatible(phi=phi, y=y, a0=a0)
    if y.shape[0] != phi.shape[0]:
        raise ValueError(f"y must have {phi.shape[0]} rows (one per point), got shape {tuple(y.shape)}")
    if a0.shape[0] != phi.shape[1]:
        raise ValueError(f"a0 must have {phi.shape[1]} rows (one per feature), got shape {tuple(a0.shape)}")
    if a0.ndim != y.ndim or (a0.ndim == 2 and a0.shape[1] != y.shape[1]):
        raise ValueError(f"a0 and y must have matching trailing shapes, got {tuple(a0.shape)} and {tuple(y.shape)}")
    tt = _checks.positive(t, "t", allow_zero=True)
    gram = _checks.finite_output(phi @ phi.T, "supervised_readout_flow's kernel phi phi^T", phi=phi)
    try:
        mu, vecs = torch.linalg.eigh(gram)
    except torch.linalg.LinAlgError:
        raise ValueError(
            "phi phi^T is too ill-conditioned for an eigendecomposition in this dtype: rescale phi or use float64"
        ) from None
    mu = mu.clamp_min(0.0)
    small = mu * tt < 1e-8
    g = torch.where(
        small, torch.full_like(mu, tt), -torch.expm1(-mu * tt) / torch.where(small, torch.ones_like(mu), mu)
    )
    resid = phi @ a0 - y
    coef = vecs @ (g[:, None] * (vecs.T @ resid.reshape(phi.shape[0], -1)))
    return a0 - (phi.T @ coef).reshape(a0.shape)
