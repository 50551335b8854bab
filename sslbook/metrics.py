"""Metrics for representations: probes, rank, alignment/uniformity, subspaces, coding rate.

Inputs follow one convention: a representation is a matrix ``z`` of shape ``(n, k)``, one row per
sample; a subspace is given by a basis matrix of shape ``(d, p)`` whose columns span it (they need
not be orthonormal). Functions accept torch tensors or NumPy arrays unless they are meant to be
differentiated (the coding-rate functions take and return tensors).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import _checks

__all__ = [
    "linear_probe_accuracy",
    "knn_accuracy",
    "clustering_ari",
    "effective_rank",
    "alignment",
    "uniformity",
    "principal_angles",
    "subspace_distance",
    "coding_rate",
    "coding_rate_reduction",
    "projection_length",
    "coding_rate_reduction_soft",
    "pair_coding_rate_reduction",
]


def _split(z_train, y_train, z_test, y_test):
    ztr = _checks.array(z_train, "z_train", ndim=2)
    zte = _checks.array(z_test, "z_test", ndim=2)
    ytr = _checks.labels(y_train, "y_train", n=ztr.shape[0])
    yte = _checks.labels(y_test, "y_test", n=zte.shape[0])
    if ztr.shape[0] < 2 or ztr.shape[1] < 1:
        raise ValueError(f"z_train needs at least two rows and one column, got shape {ztr.shape}")
    if zte.shape[0] < 1:
        raise ValueError(f"z_test needs at least one row, got shape {zte.shape}")
    if ztr.shape[1] != zte.shape[1]:
        raise ValueError(
            f"z_train and z_test must have the same number of features, got {ztr.shape[1]} and {zte.shape[1]}"
        )
    if ytr.min() == ytr.max():  # O(n), no sort
        raise ValueError("y_train must contain at least two classes")
    # One exact power-of-two rescaling of both sets: the probes' thresholds become relative, so
    # their accuracy does not change when the features are multiplied by 1e-30 or 1e30.
    ztr, zte = _checks.pow2_rescale(ztr, zte)
    return ztr, ytr, zte, yte


def linear_probe_accuracy(z_train, y_train, z_test, y_test, c: float = 1.0, max_iter: int = 2000) -> float:
    """Test accuracy of a multinomial logistic-regression probe on frozen features.

    Features are standardised with the training set's mean and standard deviation.

    Parameters
    ----------
    z_train, z_test
        Features, shapes ``(n_train, k)`` and ``(n_test, k)``.
    y_train, y_test
        Integer labels, shapes ``(n_train,)`` and ``(n_test,)``.
    c
        Inverse L2 regularisation strength (> 0), as in scikit-learn.
    max_iter
        Iterations of L-BFGS.

    Returns
    -------
    float
        Fraction of test samples classified correctly. Invariant to multiplying both feature sets
        by any power of two (and, up to rounding, by any positive number).
    """
    from sklearn.linear_model import LogisticRegression

    ztr, ytr, zte, yte = _split(z_train, y_train, z_test, y_test)
    c = _checks.positive(c, "c")
    max_iter = _checks.integer(max_iter, "max_iter", minimum=1)
    mu, sd = ztr.mean(0), ztr.std(0)
    sd[sd < 1e-12] = 1.0
    clf = LogisticRegression(C=c, max_iter=max_iter)
    clf.fit((ztr - mu) / sd, ytr)
    return float((clf.predict((zte - mu) / sd) == yte).mean())


def knn_accuracy(z_train, y_train, z_test, y_test, k: int = 5, metric: str = "cosine") -> float:
    """Accuracy of a ``k``-nearest-neighbour majority vote on frozen features.

    Parameters
    ----------
    z_train, z_test
        Features, shapes ``(n_train, d)`` and ``(n_test, d)``.
    y_train, y_test
        Integer labels.
    k
        Number of neighbours, ``1 <= k <= n_train``.
    metric
        ``"cosine"`` or ``"euclidean"``.

    Labels may be any integers (negative, or as large as int64 allows): they are mapped to
    ``0 .. C - 1`` first. A tie between classes goes to the class of the nearer neighbours, so the
    accuracy does not depend on the labels' values.
    """
    ztr, ytr, zte, yte = _split(z_train, y_train, z_test, y_test)
    k = _checks.integer(k, "k", minimum=1, maximum=ztr.shape[0])
    _checks.choice(metric, "metric", ("cosine", "euclidean"))
    (itr, ite), n_classes = _checks.class_indices(ytr, yte)  # any integer labels, at most n classes
    a, b = torch.from_numpy(ztr), torch.from_numpy(zte)
    if metric == "cosine":  # larger score = nearer
        score = _checks.unit_rows(b) @ _checks.unit_rows(a).T
    else:  # -|b - a|^2 up to a per-row constant
        score = 2.0 * (b @ a.T) - (a * a).sum(1)
    votes = torch.from_numpy(itr)[score.topk(k, dim=1).indices]  # (n_test, k), nearest first
    # One vote per neighbour plus 2^-(rank+1): a tie between classes goes to the class of the nearer
    # neighbours, whatever the labels' values (the bonuses add up to less than one vote).
    weight = 1.0 + 0.5 ** torch.arange(1, k + 1, dtype=torch.float64)
    counts = (torch.nn.functional.one_hot(votes, n_classes) * weight[None, :, None]).sum(1)  # (n_test, n_classes)
    return float((counts.argmax(1).numpy() == ite).mean())


def clustering_ari(z, y, n_clusters: int | None = None, seed: int = 0, n_init: int = 10) -> float:
    """Adjusted Rand index between k-means clusters of ``z`` and the labels ``y``.

    Parameters
    ----------
    z
        Features, shape ``(n, k)``.
    y
        True labels, shape ``(n,)``.
    n_clusters
        Number of clusters (default: number of distinct labels).
    seed
        Seed of k-means' initialisation.
    n_init
        Number of k-means restarts.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    za = _checks.array(z, "z", ndim=2)
    ya = _checks.labels(y, "y", n=za.shape[0])
    if za.shape[0] < 1 or za.shape[1] < 1:
        raise ValueError(f"z needs at least one row and one column, got shape {za.shape}")
    (za,) = _checks.pow2_rescale(za)  # exact: k-means' tolerances become relative
    if n_clusters is None:
        n_clusters = len(np.unique(ya))
    n_clusters = _checks.integer(n_clusters, "n_clusters", minimum=1, maximum=za.shape[0])
    seed = _checks.integer(seed, "seed", minimum=0, maximum=2**32 - 1)
    km = KMeans(n_clusters=n_clusters, n_init=_checks.integer(n_init, "n_init", minimum=1), random_state=seed)
    return float(adjusted_rand_score(ya, km.fit_predict(za)))


def effective_rank(z, center: bool = False, eps: float = 1e-12) -> float:
    r"""Effective rank :math:`\exp(H(p))` with :math:`p_i = \sigma_i / \sum_j \sigma_j` the normalised
    singular values of ``z`` (Roy & Vetterli 2007; RankMe, Garrido et al. 2023).

    Between 1 (rank one, e.g. complete collapse) and ``min(n, k)`` (all directions used
    equally). Returns ``0.0`` for the zero matrix.

    Parameters
    ----------
    z
        Representation, shape ``(n, k)``.
    center
        Subtract the column means first (measures spread around the mean rather than around 0).
    eps
        Singular values below ``eps`` times the largest are ignored, ``0 <= eps < 1``.
    """
    a = _checks.array(z, "z", ndim=2)
    center = _checks.boolean(center, "center")
    e = _checks.positive(eps, "eps", allow_zero=True)
    if e >= 1:
        raise ValueError(f"eps must be < 1 (it is relative to the largest singular value), got {eps!r}")
    (a,) = _checks.pow2_rescale(a)  # exact; keeps the SVD away from overflow and underflow
    if center:
        a = a - a.mean(0)
    s = np.linalg.svd(a, compute_uv=False)
    if s.size == 0 or s[0] <= 0:
        return 0.0
    s = s[s > e * s[0]]
    p = s / s.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    r"""Alignment :math:`\mathbb{E}\|f(x) - f(x^+)\|^\alpha` of L2-normalised positive pairs
    (Wang & Isola 2020). Shapes ``(n, k)``, ``n >= 1``; returns a scalar tensor (lower is better).
    Scale-free: rows are normalised after dividing by their largest entry."""
    _checks.pair(z1, z2, "z1", "z2")
    _checks.finite(z1, "z1")
    _checks.finite(z2, "z2")
    a = _checks.positive(alpha, "alpha")
    f1 = _checks.unit_rows(z1)
    f2 = _checks.unit_rows(z2)
    return (f1 - f2).norm(dim=1).pow(a).mean()


def uniformity(z: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    r"""Uniformity :math:`\log \mathbb{E}_{i<j} e^{-t\|f_i - f_j\|^2}` of L2-normalised features
    (Wang & Isola 2020). Shape ``(n, k)``, ``n >= 2``; returns a scalar tensor (lower is more
    uniform)."""
    _checks.tensor(z, "z", ndim=2)
    if z.shape[0] < 2 or z.shape[1] < 1:
        raise ValueError(f"z needs at least two rows and one column, got shape {tuple(z.shape)}")
    tt = _checks.positive(t, "t")
    f = _checks.unit_rows(z)
    sq = torch.pdist(f).pow(2)
    return torch.logsumexp(-tt * sq, dim=0) - math.log(sq.numel())


_EPS = float(np.finfo(float).eps)


def _check_basis(m: np.ndarray, name: str) -> None:
    if m.shape[1] == 0 or m.shape[0] < m.shape[1]:
        raise ValueError(f"{name} must have shape (d, p) with 1 <= p <= d, got {m.shape}")
    if not np.abs(m).max() > 0:
        raise ValueError(f"{name} is zero: its columns span no subspace")


def _qr_basis(m: np.ndarray, name: str) -> np.ndarray:
    """Q factor of a checked ``(d, p)`` matrix; ``ValueError`` naming it when its columns are dependent."""
    q, r = np.linalg.qr(m)
    diag = [abs(v) for v in r.diagonal().tolist()]  # p numbers: Python beats three NumPy reductions here
    if min(diag) <= max(m.shape) * _EPS * max(diag):
        raise ValueError(f"the columns of {name} are linearly dependent; they do not span a {m.shape[1]}-dim subspace")
    return q


def principal_angles(a, b) -> np.ndarray:
    r"""Principal angles (radians, ascending) between the column spans of ``a`` and ``b``.

    Accurate at small angles: cosines come from the SVD of :math:`Q_a^\top Q_b` and sines from the
    SVD of :math:`Q_b - Q_a Q_a^\top Q_b`; each angle is taken from whichever of the two is
    better conditioned (Björck & Golub 1973; Knyazev & Argentati 2002).

    Parameters
    ----------
    a, b
        Bases of shapes ``(d, p)`` and ``(d, q)`` (full column rank, same ``d``).

    Returns
    -------
    numpy.ndarray
        ``min(p, q)`` angles in :math:`[0, \pi/2]`, ascending.
    """
    ma = _checks.array(a, "a", ndim=2)
    mb = _checks.array(b, "b", ndim=2)
    _check_basis(ma, "a")
    _check_basis(mb, "b")
    if ma.shape[0] != mb.shape[0]:
        raise ValueError(f"a and b must live in the same ambient dimension, got {ma.shape[0]} and {mb.shape[0]}")
    qa, qb = _qr_basis(_checks.pow2_rescale(ma)[0], "a"), _qr_basis(_checks.pow2_rescale(mb)[0], "b")
    if qa.shape[1] < qb.shape[1]:
        qa, qb = qb, qa
    m = qa.T @ qb
    cos = np.clip(np.linalg.svd(m, compute_uv=False), 0.0, 1.0)  # descending
    sin = np.clip(np.sort(np.linalg.svd(qb - qa @ m, compute_uv=False)), 0.0, 1.0)  # ascending
    ang_cos = np.arccos(cos)
    ang_sin = np.arcsin(sin)
    return np.where(cos**2 < 0.5, ang_cos, ang_sin)


def subspace_distance(a, b, kind: str = "sin_max") -> float:
    r"""Distance between the column spans of ``a`` ``(d, p)`` and ``b`` ``(d, q)``.

    ``kind``:

    * ``"sin_max"``: :math:`\sin\theta_{\max}`, the spectral norm of :math:`P_a - P_b` when
      ``p == q`` (0 = same subspace, 1 = some direction of one is orthogonal to the other);
    * ``"projection"``: :math:`\|\sin\theta\|_2 = \|P_a - P_b\|_F/\sqrt2` when ``p == q``;
    * ``"geodesic"``: :math:`\|\theta\|_2`, the Grassmann geodesic distance.
    """
    _checks.choice(kind, "kind", ("sin_max", "projection", "geodesic"))
    th = principal_angles(a, b)
    if kind == "sin_max":
        return float(np.sin(th.max()))
    if kind == "projection":
        return float(np.linalg.norm(np.sin(th)))
    return float(np.linalg.norm(th))


def coding_rate(z: torch.Tensor, eps: float = 0.5) -> torch.Tensor:
    r"""Coding rate :math:`R(Z, \epsilon) = \tfrac12 \log\det\big(I + \tfrac{k}{n\epsilon^2} Z^\top Z\big)`
    (Ma et al. 2007; Yu et al. 2020, MCR²), in nats.

    ``z`` has shape ``(n, k)``, rows are samples. The smaller of the ``k x k`` covariance form and
    the ``n x n`` Gram form is used (they are equal by Sylvester's determinant identity); the
    log-determinant is twice the sum of the log-diagonal of the Cholesky factor.
    Differentiable; returns a scalar tensor.
    """
    _checks.tensor(z, "z", ndim=2, finite=False)
    n, k = z.shape
    if n < 1 or k < 1:
        raise ValueError(f"z must have at least one row and one column, got shape {tuple(z.shape)}")
    e = _checks.positive(eps, "eps")
    a, b = (z.T, z) if k <= n else (z, z.T)
    eye = torch.eye(a.shape[0], dtype=z.dtype, device=z.device)
    try:
        chol = torch.linalg.cholesky(torch.addmm(eye, a, b, alpha=k / (n * e * e)))  # I + c Z^T Z in one kernel
    except torch.linalg.LinAlgError:  # a non-finite z, or one so large that c Z^T Z overflows
        _checks.tensor(z, "z")
        raise ValueError(
            f"coding_rate: I + c Z^T Z is not positive definite in {z.dtype}: z is too large for eps "
            f"(its Gram matrix overflows or loses all precision); rescale z or raise eps"
        ) from None
    return _checks.finite_output(torch.log(torch.diagonal(chol)).sum(), "coding_rate", z=z)


def coding_rate_reduction(z: torch.Tensor, labels, eps: float = 0.5) -> dict[str, torch.Tensor]:
    r"""Coding-rate reduction :math:`\Delta R = R(Z) - \sum_j \tfrac{n_j}{n} R(Z_j)` for the partition
    of the rows of ``z`` given by ``labels`` (Yu et al. 2020).

    With class labels this is MCR²'s objective; with sample identities as labels (the two views of
    each image share a label) it is the label-free, augmentation-pair version.

    Parameters
    ----------
    z
        Shape ``(n, k)``.
    labels
        Integer group of each row, shape ``(n,)``.
    eps
        Distortion :math:`\epsilon > 0`.

    Returns
    -------
    dict
        ``"expansion"`` (:math:`R(Z)`), ``"compression"`` (:math:`\sum_j \tfrac{n_j}{n} R(Z_j)`)
        and ``"reduction"`` (their difference), each a scalar tensor.
    """
    _checks.tensor(z, "z", ndim=2)
    _checks.rows(z, "z")
    y = _checks.labels(labels, "labels", n=z.shape[0])
    e = _checks.positive(eps, "eps")
    n, k = z.shape
    expansion = coding_rate(z, e)
    # Groups of equal size are stacked and handled by one batched Cholesky factorisation, so the
    # sample-pair partition (n/2 groups of two) costs no Python loop over samples.
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    group_size = counts[inverse[order]]
    compression = z.new_zeros(())
    for m in np.unique(counts):
        rows = torch.as_tensor(order[group_size == m], device=z.device)
        zg = z[rows].reshape(-1, int(m), k)  # (groups, m, k), rows of one group are contiguous
        gram = zg.transpose(1, 2) @ zg if k <= m else zg @ zg.transpose(1, 2)
        eye = torch.eye(gram.shape[-1], dtype=z.dtype, device=z.device)
        try:
            chol = torch.linalg.cholesky(eye + (k / (m * e * e)) * gram)
        except torch.linalg.LinAlgError:
            raise ValueError(
                f"coding_rate_reduction: a group's I + c Z^T Z is not positive definite in {z.dtype}: "
                f"z is too large for eps; rescale z or raise eps"
            ) from None
        logdets = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
        compression = compression + (m / n) * 0.5 * logdets.sum()
    return {"expansion": expansion, "compression": compression, "reduction": expansion - compression}


def projection_length(basis, directions, rtol: float = 1e-10) -> np.ndarray:
    r"""Length of the orthogonal projection of unit directions onto the column span of ``basis``.

    For a direction :math:`v` and a subspace :math:`S = \operatorname{span}(A)` this is
    :math:`\|\Pi_S v\| / \|v\| = \cos\angle(v, S)`: 1 when :math:`v \in S`, 0 when
    :math:`v \perp S`. With :math:`A = [w_1\ w_2]` the weight vectors of a two-neuron layer and
    :math:`v = e_j`, this is the measure :math:`P(e_j) = \|A(A^\top A)^{-1}A^\top e_j\|` of
    Yang, Li, Jiang and Li (AAAI-23) of how much of feature :math:`e_j` the layer has learned.
    It ignores the scale of the weights. Columns of ``basis`` may be linearly dependent: the span
    is computed from the singular vectors with singular value above ``rtol`` times the largest.

    Parameters
    ----------
    basis
        Spanning vectors as columns, shape ``(d, p)``, or a stack ``(r, d, p)`` of ``r`` such
        matrices (e.g. one per seed).
    directions
        One direction, shape ``(d,)``, or several as columns, shape ``(d, q)``; nonzero.
    rtol
        Relative threshold for the numerical rank of ``basis``.

    Returns
    -------
    numpy.ndarray
        Shape ``(...,)`` or ``(..., q)``: leading dimension ``r`` for a stack of bases, trailing
        dimension ``q`` for several directions; values in :math:`[0, 1]`.
    """
    a = _checks.array(basis, "basis", ndim=(2, 3))
    v = _checks.array(directions, "directions", ndim=(1, 2))
    rt = _checks.positive(rtol, "rtol")
    if a.shape[-1] < 1 or a.shape[-2] < 1:
        raise ValueError(f"basis must have shape (d, p) or (r, d, p) with d, p >= 1, got {a.shape}")
    single_dir = v.ndim == 1
    vv = v[:, None] if single_dir else v
    if vv.shape[0] != a.shape[-2]:
        raise ValueError(f"directions must have {a.shape[-2]} rows (the dimension of basis), got shape {v.shape}")
    norms = np.linalg.norm(vv, axis=0)
    if np.any(norms == 0):
        raise ValueError("directions must be nonzero")
    single_basis = a.ndim == 2
    aa = a[None] if single_basis else a
    u, s, _ = np.linalg.svd(aa, full_matrices=False)  # u: (r, d, p), s: (r, p)
    if np.any(s[:, 0] == 0):
        raise ValueError("basis must not be all zeros")
    keep = s > rt * s[:, :1]  # numerical rank, per stacked basis
    coef = np.einsum("rdp,dq->rpq", u, vv / norms) * keep[:, :, None]
    out = np.clip(np.linalg.norm(coef, axis=1), 0.0, 1.0)  # (r, q)
    if single_dir:
        out = out[:, 0]
    return out[0] if single_basis else out


def coding_rate_reduction_soft(z: torch.Tensor, memberships: torch.Tensor, eps: float = 0.5) -> dict[str, torch.Tensor]:
    r"""Coding-rate reduction for a soft partition of the rows of ``z`` (Yu et al. 2020, MCR²).

    With memberships :math:`\pi_{ij} \ge 0`, :math:`\sum_j \pi_{ij} = 1`, and
    :math:`\Pi_j = \operatorname{diag}(\pi_{1j}, \dots, \pi_{nj})`,

    .. math::
        R_c(Z \mid \Pi) = \sum_j \frac{\operatorname{tr}\Pi_j}{2n}
        \log\det\Big(I + \frac{k}{\operatorname{tr}(\Pi_j)\,\epsilon^2} Z^\top \Pi_j Z\Big),
        \qquad \Delta R = R(Z) - R_c(Z \mid \Pi).

    One-hot memberships give :func:`coding_rate_reduction`; uniform memberships
    :math:`\pi_{ij} = 1/C` give :math:`\Delta R = 0`. Qiang et al. (2024) use this quantity with
    memberships read off a frozen early layer (the book's reconstruction). All groups are handled
    by one batched Cholesky factorisation; differentiable in ``z`` and ``memberships``.

    Parameters
    ----------
    z
        Shape ``(n, k)``, rows are samples.
    memberships
        Shape ``(n, C)``, non-negative rows summing to 1.
    eps
        Distortion :math:`\epsilon > 0`.

    Returns
    -------
    dict
        ``"expansion"``, ``"compression"`` and ``"reduction"``, each a scalar tensor.
    """
    _checks.tensor(z, "z", ndim=2)
    _checks.rows(z, "z")
    _checks.tensor(memberships, "memberships", ndim=2)
    if memberships.device != z.device:
        raise ValueError(f"z and memberships must be on the same device, got {z.device} and {memberships.device}")
    e = _checks.positive(eps, "eps")
    n, k = z.shape
    if memberships.shape[1] < 1:
        raise ValueError(f"memberships needs at least one column (group), got shape {tuple(memberships.shape)}")
    if memberships.shape[0] != n:
        raise ValueError(f"memberships must have one row per row of z ({n}), got shape {tuple(memberships.shape)}")
    if bool((memberships < 0).any()) or not torch.allclose(
        memberships.sum(1), torch.ones_like(memberships[:, 0]), atol=1e-5
    ):
        raise ValueError("memberships must be non-negative with rows summing to 1")
    w = memberships.to(z.dtype)
    mass = w.sum(0)  # (C,) = tr(Pi_j)
    keep = mass > 1e-12 * n
    w, mass = w[:, keep], mass[keep]
    cov = torch.einsum("nc,nk,nl->ckl", w, z, z)  # Z^T Pi_j Z for every group at once
    eye = torch.eye(k, dtype=z.dtype, device=z.device)
    try:
        chol = torch.linalg.cholesky(eye + (k / (e * e)) * cov / mass[:, None, None])
    except torch.linalg.LinAlgError:
        raise ValueError(
            f"coding_rate_reduction_soft: a group's I + c Z^T Pi Z is not positive definite in {z.dtype}: "
            f"z is too large for eps; rescale z or raise eps"
        ) from None
    logdets = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    compression = (mass / (2.0 * n) * logdets).sum()
    expansion = coding_rate(z, e)
    return {"expansion": expansion, "compression": compression, "reduction": expansion - compression}


def pair_coding_rate_reduction(z1: torch.Tensor, z2: torch.Tensor, eps: float = 0.5) -> dict[str, torch.Tensor]:
    r"""Label-free coding-rate reduction of augmentation pairs in closed form: uniformity minus alignment.

    The rows of ``z1`` and ``z2`` are normalised to unit length and the two views of sample
    :math:`i` form one group of size two in :math:`Z = [z^{(1)}; z^{(2)}]` (``2N`` rows). With
    :math:`c = k/(2\epsilon^2)`, :math:`\kappa = c^2/(1+2c)` and :math:`\theta_i` the angle between
    the views of sample :math:`i`,

    .. math::
        \Delta R_{\rm pair} = \underbrace{R(Z, \epsilon)}_{\text{uniformity}}
        - \underbrace{\tfrac{1}{2N}\sum_i \log\big(1 + \kappa \sin^2\theta_i\big)}_{\text{alignment}}
        - \tfrac12\log(1 + 2c).

    This equals :func:`coding_rate_reduction` of the normalised ``Z`` with one label per sample
    (Qiang et al. 2024 use this pair partition; the decomposition is the book's). The alignment
    term is 0 exactly when every pair is aligned or antipodal (it sees cos^2 only; two vectors span a plane).

    Parameters
    ----------
    z1, z2
        The two views' features, shape ``(N, k)``, ``N >= 1``, nonzero rows.
    eps
        Distortion :math:`\epsilon > 0`.

    Returns
    -------
    dict
        ``"expansion"`` (:math:`R(Z)`, the uniformity term), ``"alignment"``, ``"constant"``
        (:math:`\tfrac12\log(1+2c)`), ``"compression"`` (alignment + constant) and
        ``"reduction"``, each a scalar tensor.
    """
    _checks.pair(z1, z2, "z1", "z2")
    _checks.finite(z1, "z1")
    _checks.finite(z2, "z2")
    e = _checks.positive(eps, "eps")
    n, k = z1.shape
    for name, zz in (("z1", z1), ("z2", z2)):
        if bool((zz.detach().abs().amax(dim=1) == 0).any()):  # not the norm: it underflows at 1e-30
            raise ValueError(f"{name} must have nonzero rows (they are normalised)")
    f1 = _checks.unit_rows(z1)
    f2 = _checks.unit_rows(z2)
    c = k / (2.0 * e * e)
    kappa = c * c / (1.0 + 2.0 * c)
    cos = (f1 * f2).sum(1).clamp(-1.0, 1.0)
    align = 0.5 * torch.log1p(kappa * (1.0 - cos * cos)).mean()
    const = z1.new_tensor(0.5 * math.log1p(2.0 * c))
    expansion = coding_rate(torch.cat([f1, f2], dim=0), e)
    compression = align + const
    return {
        "expansion": expansion,
        "alignment": align,
        "constant": const,
        "compression": compression,
        "reduction": expansion - compression,
    }
