r"""Stiefel and Grassmann helpers: orthonormal frames, projections, retractions, eigenspaces.

A *frame* is a matrix ``w`` of shape ``(d, k)`` with orthonormal columns (a point of the Stiefel
manifold :math:`\mathrm{St}(d, k)`); its column span is a point of the Grassmannian
:math:`\mathrm{Gr}(d, k)`. Functions take and return torch tensors (use float64 for geometry
experiments: principal angles near zero need it).
"""

from __future__ import annotations

import torch

from . import _checks

__all__ = [
    "random_frame",
    "orthonormalize",
    "projector",
    "tangent_project_stiefel",
    "grassmann_gradient",
    "qr_retraction",
    "grassmann_step",
    "top_eigenspace",
    "is_orthonormal",
    "grassmann_flow_velocity",
    "grassmann_flow",
    "grassmann_flow_angles",
]


def random_frame(
    d: int, k: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """A uniformly random frame of shape ``(d, k)`` (QR of a Gaussian matrix), ``1 <= k <= d``."""
    d = _checks.integer(d, "d", minimum=1)
    k = _checks.integer(k, "k", minimum=1, maximum=d)
    dtype = _checks.float_dtype(dtype)
    return orthonormalize(torch.randn(d, k, generator=generator, dtype=dtype))


def orthonormalize(w: torch.Tensor) -> torch.Tensor:
    """The Q factor of ``w`` (shape ``(d, k)``, ``k <= d``), with signs fixed so ``diag(R) > 0``.

    The sign convention makes the map continuous, so it is a proper retraction.
    """
    _checks.tensor(w, "w", ndim=2)
    if w.shape[1] > w.shape[0]:
        raise ValueError(f"w must have at most as many columns as rows, got shape {tuple(w.shape)}")
    if w.shape[1] < 1:
        raise ValueError(f"w must have at least one column, got shape {tuple(w.shape)}")
    q, r = torch.linalg.qr(w)
    signs = torch.sign(torch.diagonal(r))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return q * signs


def is_orthonormal(w: torch.Tensor, tol: float = 1e-8) -> bool:
    """Whether :math:`\\|W^\\top W - I\\|_\\infty \\le` ``tol``."""
    _checks.tensor(w, "w", ndim=2)
    t = _checks.positive(tol, "tol", allow_zero=True)
    if w.shape[1] < 1:
        raise ValueError(f"w must have at least one column, got shape {tuple(w.shape)}")
    eye = torch.eye(w.shape[1], dtype=w.dtype, device=w.device)
    return bool((w.T @ w - eye).abs().max() <= t)


def projector(w: torch.Tensor) -> torch.Tensor:
    r"""Orthogonal projector :math:`W (W^\top W)^{-1} W^\top` onto the column span of ``w`` ``(d, k)``.

    ``w`` must have full column rank (otherwise :math:`W^\top W` is singular): ``ValueError``."""
    q = orthonormalize(w)
    r = torch.linalg.qr(w)[1].diagonal().abs()
    if not float(r.min()) > max(w.shape) * torch.finfo(w.dtype).eps * float(r.max()):
        raise ValueError("the columns of w are linearly dependent: W^T W is singular and the projector undefined")
    return q @ q.T


def tangent_project_stiefel(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    r"""Project a Euclidean gradient ``g`` onto the tangent space of the Stiefel manifold at ``w``:
    :math:`G - W\,\mathrm{sym}(W^\top G)` (Edelman, Arias & Smith 1998; embedded metric).

    Shapes: ``w`` and ``g`` are ``(d, k)``.
    """
    _checks.tensor(w, "w", ndim=2)
    _checks.tensor(g, "g", ndim=2)
    _checks.same_shape(w, g, "w", "g")
    _checks.compatible(w=w, g=g)
    wg = w.T @ g
    return g - w @ (0.5 * (wg + wg.T))


def grassmann_gradient(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    r"""Riemannian gradient on the Grassmannian at the frame ``w``: :math:`(I - W W^\top) G`.

    Shapes: ``w`` and ``g`` are ``(d, k)``; ``w`` must be orthonormal.
    """
    _checks.tensor(w, "w", ndim=2)
    _checks.tensor(g, "g", ndim=2)
    _checks.same_shape(w, g, "w", "g")
    _checks.compatible(w=w, g=g)
    return g - w @ (w.T @ g)


def qr_retraction(w: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
    """Retract the tangent step ``xi`` at the frame ``w``: ``orthonormalize(w + xi)``. Shapes ``(d, k)``."""
    _checks.tensor(w, "w", ndim=2)
    _checks.tensor(xi, "xi", ndim=2)
    _checks.same_shape(w, xi, "w", "xi")
    _checks.compatible(w=w, xi=xi)
    return orthonormalize(w + xi)


def grassmann_step(w: torch.Tensor, g: torch.Tensor, lr: float, ascent: bool = False) -> torch.Tensor:
    """One Riemannian gradient step on the Grassmannian with QR retraction.

    Parameters
    ----------
    w
        Orthonormal frame, shape ``(d, k)``.
    g
        Euclidean gradient of the objective at ``w``, shape ``(d, k)``.
    lr
        Step size (> 0).
    ascent
        Step uphill (maximise) instead of downhill.
    """
    eta = _checks.positive(lr, "lr")
    ascent = _checks.boolean(ascent, "ascent")
    xi = grassmann_gradient(w, g)
    return _checks.finite_output(qr_retraction(w, eta * xi if ascent else -eta * xi), "grassmann_step", w=w, g=g)


def top_eigenspace(a: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and an orthonormal basis ``(d, k)`` of the top-``k`` eigenspace of
    the symmetric matrix ``a`` ``(d, d)``."""
    _checks.symmetric(a)
    k = _checks.integer(k, "k", minimum=1, maximum=a.shape[0])
    vals, vecs = torch.linalg.eigh(a)
    idx = torch.argsort(vals, descending=True)[:k]
    return vals[idx], vecs[:, idx]


# --- Grassmannian gradient flow of a quadratic form (learning-dynamics chapter) -----------------
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
    return 2.0 * grassmann_gradient(w, a @ w)


def _tangent_coordinates(a: torch.Tensor, w0: torch.Tensor):
    """Eigen-decomposition of ``a`` (descending) and :math:`C = B_2 B_1^{-1}` with
    :math:`B = U^\\top W_0` split after row ``k``."""
    p, k = w0.shape
    vals, vecs = top_eigenspace(a, p)
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
    frames = torch.stack([vecs @ orthonormalize(torch.cat([eye, _tangent_at(vals, c, float(s))], 0)) for s in times])
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
