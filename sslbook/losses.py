"""Self-supervised losses as pure functions of two views.

Every loss takes the embeddings of two views of the same batch, ``z1`` and ``z2`` of shape
``(n, k)`` (row ``i`` of each is a positive pair), and returns a scalar tensor. Composite losses
have a ``*_terms`` twin returning a dict of their terms (each a scalar tensor, plus ``"loss"``,
their weighted sum) so chapters can plot what each term does.

References
----------
InfoNCE: van den Oord et al. (2018); NT-Xent: Chen et al. (2020, SimCLR); spectral contrastive
loss: HaoChen et al. (2021); SimSiam: Chen & He (2021); L2 SimSiam (``simsiam_l2``): Tian et al.
(2021); Barlow Twins: Zbontar et al. (2021); VICReg: Bardes et al. (2022); CLIP: Radford et al.
(2021).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _checks

__all__ = [
    "barlow_twins",
    "barlow_twins_terms",
    "clip",
    "clip_terms",
    "info_nce",
    "info_nce_terms",
    "negative_cosine",
    "nt_xent",
    "SIMILARITIES",
    "simsiam",
    "simsiam_l2",
    "spectral_contrastive",
    "spectral_contrastive_terms",
    "vicreg",
    "vicreg_terms",
]

SIMILARITIES = ("cosine", "dot")
Terms = dict[str, torch.Tensor]


def _views(z1: torch.Tensor, z2: torch.Tensor, min_batch: int = 2, names: tuple[str, str] = ("z1", "z2")) -> None:
    """Check the two views (types, shapes, device, dtype: :func:`sslbook._checks.pair`). Finiteness
    is checked on the loss (:func:`sslbook._checks.finite_output`), which names a non-finite input
    at a fraction of the cost."""
    _checks.pair(z1, z2, names[0], names[1], min_rows=min_batch)


def _checked(terms: Terms, what: str, **inputs: torch.Tensor) -> Terms:
    _checks.finite_output(terms["loss"], what, **inputs)
    return terms


def _similarity_matrix(z1: torch.Tensor, z2: torch.Tensor, similarity: str) -> torch.Tensor:
    _checks.choice(similarity, "similarity", SIMILARITIES)
    if similarity == "cosine":  # scale-free: rows of size 1e-30 or 1e30 give the same cosines
        z1 = _checks.unit_rows(z1)
        z2 = _checks.unit_rows(z2)
    return z1 @ z2.T


def info_nce_terms(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, similarity: str = "cosine", symmetric: bool = True
) -> Terms:
    r"""InfoNCE split into its positive-pair term and its log-partition term.

    With :math:`s_{ij} = \mathrm{sim}(z^{(1)}_i, z^{(2)}_j)/\tau`, the loss of anchor ``i`` is
    :math:`-s_{ii} + \log\sum_j e^{s_{ij}}`: the other rows of the second view are the negatives.

    Parameters
    ----------
    z1, z2
        Embeddings of the two views, shape ``(n, k)``, ``n >= 2``.
    temperature
        :math:`\tau > 0`.
    similarity
        ``"cosine"`` (normalised embeddings, SimCLR) or ``"dot"`` (inner product, as in the
        theory of Gaussian mixtures, Bansal et al. 2024).
    symmetric
        Average the loss with its mirror image (view 2 as anchors).

    Returns
    -------
    dict
        ``"positive"`` (mean of :math:`-s_{ii}`, the pull between the two views of a sample),
        ``"log_partition"`` (mean of :math:`\log\sum_j e^{s_{ij}}`, the push against the
        negatives) and ``"loss"`` (their sum), each a scalar tensor. Wang and Isola (2020) relate the
        two terms to their alignment and uniformity (:mod:`sslbook.hypersphere`) in the limit of
        many negatives.
    """
    s, loss = _info_nce(z1, z2, temperature, similarity, symmetric)
    positive = -torch.diagonal(s).mean()
    return _checked({"positive": positive, "log_partition": loss - positive, "loss": loss}, "info_nce", z1=z1, z2=z2)


def _info_nce(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float, similarity: str, symmetric: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated similarity matrix (already divided by the temperature) and InfoNCE loss."""
    _views(z1, z2)
    tau = _checks.positive(temperature, "temperature")
    _checks.boolean(symmetric, "symmetric")
    s = _similarity_matrix(z1, z2, similarity) / tau
    target = torch.arange(s.shape[0], device=s.device)
    loss = F.cross_entropy(s, target)  # the fused log-softmax kernel
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(s.T, target))
    return s, loss


def info_nce(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, similarity: str = "cosine", symmetric: bool = True
) -> torch.Tensor:
    """InfoNCE loss (see :func:`info_nce_terms`), a scalar tensor."""
    return _checks.finite_output(_info_nce(z1, z2, temperature, similarity, symmetric)[1], "info_nce", z1=z1, z2=z2)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    r"""SimCLR's normalised-temperature cross-entropy over the ``2n`` views.

    Each of the ``2n`` embeddings is an anchor; its positive is the other view of the same
    sample and its negatives are the remaining ``2n - 2`` embeddings (both views), with cosine
    similarity divided by ``temperature``.

    Parameters
    ----------
    z1, z2
        Shape ``(n, k)``, ``n >= 2``.
    temperature
        :math:`\tau > 0`.
    """
    _views(z1, z2)
    tau = _checks.positive(temperature, "temperature")
    n = z1.shape[0]
    z = _checks.unit_rows(torch.cat([z1, z2], dim=0))
    s = (z @ z.T) / tau
    s = s.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return _checks.finite_output(F.cross_entropy(s, target), "nt_xent", z1=z1, z2=z2)


def spectral_contrastive_terms(z1: torch.Tensor, z2: torch.Tensor) -> Terms:
    r"""Spectral contrastive loss :math:`-2\,\mathbb{E}[z_1^\top z_2] + \mathbb{E}_{i\neq j}[(z_{1,i}^\top z_{2,j})^2]`.

    Parameters
    ----------
    z1, z2
        Shape ``(n, k)``, ``n >= 2`` (HaoChen et al., 2021).

    Returns
    -------
    dict
        ``"attraction"`` (:math:`-2` mean positive inner product), ``"repulsion"`` (mean squared
        inner product over pairs ``i != j``) and ``"loss"``.
    """
    _views(z1, z2)
    n = z1.shape[0]
    g = z1 @ z2.T
    attraction = -2.0 * torch.diagonal(g).mean()
    off = ~torch.eye(n, dtype=torch.bool, device=g.device)
    repulsion = g[off].pow(2).mean()
    return _checked(
        {"attraction": attraction, "repulsion": repulsion, "loss": attraction + repulsion},
        "spectral_contrastive",
        z1=z1,
        z2=z2,
    )


def spectral_contrastive(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Spectral contrastive loss (see :func:`spectral_contrastive_terms`)."""
    return spectral_contrastive_terms(z1, z2)["loss"]


def negative_cosine(p: torch.Tensor, z: torch.Tensor, stop_gradient: bool = True) -> torch.Tensor:
    """Mean negative cosine similarity between predictions ``p`` and targets ``z``.

    Parameters
    ----------
    p, z
        Shape ``(n, k)``, ``n >= 1``.
    stop_gradient
        Detach ``z`` (SimSiam's stop-gradient), so only ``p``'s branch receives gradients.
    """
    _views(p, z, min_batch=1, names=("p", "z"))
    sg = _checks.boolean(stop_gradient, "stop_gradient")
    return _checks.finite_output(_negative_cosine(p, z.detach() if sg else z), "negative_cosine", p=p, z=z)


def _negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """:math:`-\\frac1n\\sum_i \\cos(p_i, z_i)`, scale-free (a zero row counts as cosine 0).

    The row norms are computed once; when they all lie in ``[1e-15, 1e15]`` (decided on the ``2n``
    norms, the common case) the cosines are ``p_i . z_i / (|p_i| |z_i|)``; otherwise the rows go
    through :func:`sslbook._checks.unit_rows`, which rescales them first."""
    np_, nz = torch.linalg.vector_norm(p, dim=1), torch.linalg.vector_norm(z, dim=1)
    lo, hi = torch.aminmax(torch.stack([np_, nz]).detach())
    if 1e-15 < lo.item() and hi.item() < 1e15:
        return -((p * z).sum(1) / (np_ * nz)).mean()
    return -(_checks.unit_rows(p) * _checks.unit_rows(z)).sum(1).mean()


def simsiam(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    r"""SimSiam's symmetrised loss :math:`\tfrac12 D(p_1, \mathrm{sg}(z_2)) + \tfrac12 D(p_2, \mathrm{sg}(z_1))`.

    Parameters
    ----------
    p1, p2
        Predictor outputs for views 1 and 2, shape ``(n, k)``.
    z1, z2
        Encoder (projector) outputs for views 1 and 2, shape ``(n, k)``; gradients are stopped.
    """
    _views(p1, p2, min_batch=1, names=("p1", "p2"))
    _views(z1, z2, min_batch=1)
    _checks.same_shape(p1, z1, "p1", "z1")
    _checks.compatible(p1=p1, z1=z1)
    loss = 0.5 * (_negative_cosine(p1, z2.detach()) + _negative_cosine(p2, z1.detach()))
    return _checks.finite_output(loss, "simsiam", p1=p1, p2=p2, z1=z1, z2=z2)


def _standardize(z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    return (z - z.mean(0)) / (z.std(0, unbiased=False) + eps)


def barlow_twins_terms(z1: torch.Tensor, z2: torch.Tensor, lam: float = 5e-3) -> Terms:
    r"""Barlow Twins' loss on the cross-correlation matrix of the standardised views.

    :math:`C = \tilde z_1^\top \tilde z_2 / n` with columns standardised over the batch;
    loss :math:`\sum_i (1 - C_{ii})^2 + \lambda \sum_{i\neq j} C_{ij}^2` (Zbontar et al., 2021).

    Parameters
    ----------
    z1, z2
        Shape ``(n, k)``, ``n >= 2``.
    lam
        Weight :math:`\lambda \ge 0` of the redundancy-reduction term.

    Returns
    -------
    dict
        ``"invariance"``, ``"redundancy"`` (unweighted) and ``"loss"``.

    Notes
    -----
    **Convention.** Columns are standardised as :math:`(z - \bar z)/(\sigma + 10^{-5})` with the
    biased (batch) standard deviation :math:`\sigma`. The paper's :math:`C` is the plain
    correlation (:math:`\epsilon = 0`, scale-free); the official code and solo-learn standardise
    with ``BatchNorm1d(affine=False)``, :math:`(z - \bar z)/\sqrt{\sigma^2 + 10^{-5}}`; lightly
    divides by the unbiased standard deviation without :math:`\epsilon` (so two identical views
    give :math:`C_{ii} = (n-1)/n`, not 1). The weight :math:`\lambda` means the same in all four.
    On two correlated views of 256 x 8 Gaussian features (``tests/test_losses_reference.py``) this
    loss differs from the paper's formula by 0.08 % at unit feature scale, 0.8 % at standard
    deviation 0.1, 8 % at 0.01 and 97 % at 0.001 (the :math:`\epsilon` then dominates); from the
    official code by 0.04 % at unit scale; from lightly by 14 % (its :math:`(n-1)/n` diagonal).
    The book's encoders have unit-scale outputs, where the conventions agree to well under 1 %,
    so the weights the chapters quote (``lam = 0.05`` and the paper's ``5e-3``) carry over
    unchanged. The loss is not scale-invariant below a feature scale of about ``1e-3``.
    """
    _views(z1, z2)
    lam = _checks.positive(lam, "lam", allow_zero=True)
    n = z1.shape[0]
    c = _standardize(z1).T @ _standardize(z2) / n
    diag = torch.diagonal(c)
    invariance = (1.0 - diag).pow(2).sum()
    redundancy = c.pow(2).sum() - diag.pow(2).sum()
    return _checked(
        {"invariance": invariance, "redundancy": redundancy, "loss": invariance + lam * redundancy},
        "barlow_twins",
        z1=z1,
        z2=z2,
    )


def barlow_twins(z1: torch.Tensor, z2: torch.Tensor, lam: float = 5e-3) -> torch.Tensor:
    """Barlow Twins loss (see :func:`barlow_twins_terms`)."""
    return barlow_twins_terms(z1, z2, lam)["loss"]


def _variance_term(z: torch.Tensor, gamma: float, eps: float) -> torch.Tensor:
    std = torch.sqrt(z.var(0) + eps)
    return F.relu(gamma - std).mean()


def _covariance_term(z: torch.Tensor) -> torch.Tensor:
    n, k = z.shape
    zc = z - z.mean(0)
    cov = zc.T @ zc / (n - 1)
    return (cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()) / k


def vicreg_terms(
    z1: torch.Tensor,
    z2: torch.Tensor,
    invariance_weight: float = 25.0,
    variance_weight: float = 25.0,
    covariance_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> Terms:
    r"""VICReg's invariance, variance and covariance terms (Bardes et al., 2022).

    invariance: mean squared distance between the views; variance: mean hinge
    :math:`\max(0, \gamma - \sqrt{\mathrm{Var}(z_{\cdot j}) + \epsilon})` over dimensions, summed
    over both views; covariance: sum of squared off-diagonal covariances divided by ``k``,
    summed over both views.

    Parameters
    ----------
    z1, z2
        Shape ``(n, k)``, ``n >= 2``.
    invariance_weight, variance_weight, covariance_weight
        Non-negative weights of the three terms.
    gamma
        Target standard deviation (> 0).
    eps
        Numerical floor inside the square root (> 0).

    Returns
    -------
    dict
        ``"invariance"``, ``"variance"``, ``"covariance"`` (unweighted) and ``"loss"``.

    Notes
    -----
    **Convention.** The variance term is the paper's equation, :math:`v(Z) + v(Z')`, as in
    solo-learn. The official VICReg code and lightly average it instead,
    :math:`\tfrac12(v(Z) + v(Z'))`, so their ``std_coeff`` is twice this ``variance_weight``: the
    paper's (and the chapters') ``variance_weight = 25`` here is ``std_coeff = 50`` there, and their
    default 25 is ``variance_weight = 12.5`` here. The loss value differs accordingly (by 7.8 % on
    the issue's test batch). Invariance (``F.mse_loss``, the mean over all ``n k`` entries),
    the unbiased variance inside the square root, :math:`\epsilon = 10^{-4}`, and the covariance
    term (off-diagonal squares of the ``(n-1)``-normalised covariance, divided by ``k``, summed over
    the two views) are the same in all four. ``tests/test_losses_reference.py`` checks the paper's
    and the official formulas.
    """
    _views(z1, z2)
    ws = [
        _checks.positive(w, name, allow_zero=True)
        for w, name in (
            (invariance_weight, "invariance_weight"),
            (variance_weight, "variance_weight"),
            (covariance_weight, "covariance_weight"),
        )
    ]
    g = _checks.positive(gamma, "gamma")
    e = _checks.positive(eps, "eps")
    invariance = F.mse_loss(z1, z2)
    variance = _variance_term(z1, g, e) + _variance_term(z2, g, e)
    covariance = _covariance_term(z1) + _covariance_term(z2)
    loss = ws[0] * invariance + ws[1] * variance + ws[2] * covariance
    return _checked(
        {"invariance": invariance, "variance": variance, "covariance": covariance, "loss": loss}, "vicreg", z1=z1, z2=z2
    )


def vicreg(
    z1: torch.Tensor,
    z2: torch.Tensor,
    invariance_weight: float = 25.0,
    variance_weight: float = 25.0,
    covariance_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> torch.Tensor:
    """VICReg loss (see :func:`vicreg_terms`)."""
    return vicreg_terms(z1, z2, invariance_weight, variance_weight, covariance_weight, gamma, eps)["loss"]


def clip_terms(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.07, similarity: str = "cosine") -> Terms:
    r"""CLIP's cross-modal InfoNCE (Radford et al., 2021): :func:`info_nce_terms` with
    ``symmetric=True`` applied to two modalities, with CLIP's defaults.

    Row ``i`` of ``z1`` (modality 1) and of ``z2`` (modality 2) embed a matched pair. With
    logits :math:`s_{ij} = \mathrm{sim}(z^{(1)}_i, z^{(2)}_j)/\tau`, each modality classifies its
    partner among the ``n`` embeddings of the other modality:
    :math:`\ell_{1\to2} = \frac1n\sum_i \big(-s_{ii} + \log\sum_j e^{s_{ij}}\big)`,
    :math:`\ell_{2\to1} = \frac1n\sum_j \big(-s_{jj} + \log\sum_i e^{s_{ij}}\big)`, and the loss is
    their average. The theory of Bansal, Kavis & Sanghavi (2024) uses ``similarity="dot"``.

    Parameters
    ----------
    z1, z2
        Embeddings of the two modalities, shape ``(n, k)``, ``n >= 2``.
    temperature
        :math:`\tau > 0` (CLIP learns it; 0.07 is its initial value).
    similarity
        ``"cosine"`` (CLIP) or ``"dot"`` (inner product).

    Returns
    -------
    dict
        The terms of :func:`info_nce_terms`: ``"positive"`` (mean of :math:`-s_{ii}`, the same
        in both directions), ``"log_partition"`` (the two directions' log-partition terms,
        averaged) and ``"loss"`` (:math:`\tfrac12(\ell_{1\to2} + \ell_{2\to1})`), each a scalar
        tensor.
    """
    return info_nce_terms(z1, z2, temperature=temperature, similarity=similarity, symmetric=True)


def clip(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.07, similarity: str = "cosine") -> torch.Tensor:
    """CLIP loss (see :func:`clip_terms`), a scalar tensor."""
    return clip_terms(z1, z2, temperature, similarity)["loss"]


def simsiam_l2(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    r"""SimSiam with a squared-error criterion, the version linear theory analyses.

    :math:`\tfrac12 D(p_1, \mathrm{sg}(z_2)) + \tfrac12 D(p_2, \mathrm{sg}(z_1))` with
    :math:`D(p, z) = \frac{1}{2n}\sum_i \|p_i - z_i\|^2`. For a linear encoder :math:`z = Ax`
    and predictor :math:`p = Pz` its population gradients are
    :math:`\nabla_P = PACA^\top - AMA^\top` and :math:`\nabla_A = P^\top(PAC - AM)` with
    :math:`C = \mathbb E[xx^\top]`, :math:`M = \mathbb E[x x^{+\top}]` (Tian et al., 2021;
    Bansal, Kavis & Sanghavi, 2024).

    Parameters
    ----------
    p1, p2
        Predictor outputs for views 1 and 2, shape ``(n, k)``.
    z1, z2
        Encoder outputs for views 1 and 2, shape ``(n, k)``; gradients are stopped.
    """
    _views(p1, p2, min_batch=1, names=("p1", "p2"))
    _views(z1, z2, min_batch=1)
    _checks.same_shape(p1, z1, "p1", "z1")
    _checks.compatible(p1=p1, z1=z1)
    d1 = 0.5 * (p1 - z2.detach()).pow(2).sum(1).mean()
    d2 = 0.5 * (p2 - z1.detach()).pow(2).sum(1).mean()
    return _checks.finite_output(0.5 * (d1 + d2), "simsiam_l2", p1=p1, p2=p2, z1=z1, z2=z2)
