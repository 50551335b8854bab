"""One interface to every self-supervised objective of the book, and to every setting's positive pairs.

The losses of :mod:`sslbook.losses` differ in their signatures (SimSiam needs a predictor's outputs,
the others only the two views' embeddings) and in their defaults. This module puts them behind one
call, so that a chapter can run the same objectives, with the same hyperparameters, on several data
settings::

    from sslbook import objectives
    x1, x2 = objectives.view_pair(source, n=256, generator=g)   # any of the book's generators
    pred = objectives.predictor("simsiam", k)                    # None unless the objective needs one
    z = encoder(torch.cat([x1, x2]))
    terms = objectives.loss_terms("simsiam", z[:256], z[256:], predictor=pred)   # dict with "loss"

Objectives (:data:`NAMES`) and the two degenerate losses used as controls (:data:`CONTROLS`):

* ``"infonce"``: :func:`sslbook.losses.info_nce_terms` (cosine similarity, temperature 0.2,
  symmetric);
* ``"spectral"``: :func:`sslbook.losses.spectral_contrastive_terms`;
* ``"simsiam"``: :func:`sslbook.losses.simsiam` with a linear predictor (stop-gradient on the
  targets);
* ``"barlow_twins"``: :func:`sslbook.losses.barlow_twins_terms` (``lam = 0.05``, for the few
  output dimensions of the book's encoders rather than the paper's 8192);
* ``"vicreg"``: :func:`sslbook.losses.vicreg_terms` (weights 25, 25, 1, target standard deviation 1);
* ``"invariance"``: VICReg's invariance term alone (variance and covariance weights 0), which
  collapses;
* ``"alignment"``: the non-contrastive alignment :math:`-\\frac1n\\sum_i z_i^{(1)\\top} z_i^{(2)}`
  with no constraint, which diverges along one direction (the naive dynamics of the
  learning-dynamics chapter).

``params`` passed to :func:`loss_terms` override these defaults and are validated by the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from . import _checks, losses
from .data.causal import CausalData
from .data.hidden import HiddenFeatureData
from .data.latent import PlantedViews
from .data.pairs import SameComponentPairs
from .data.views import GaussianNoise, TwoViews

__all__ = ["NAMES", "CONTROLS", "ALL", "DEFAULTS", "needs_predictor", "predictor", "loss_terms", "loss", "view_pair"]

NAMES = ("infonce", "spectral", "simsiam", "barlow_twins", "vicreg")
CONTROLS = ("invariance", "alignment")
ALL = NAMES + CONTROLS

DEFAULTS: dict[str, dict[str, Any]] = {
    "infonce": {"temperature": 0.2, "similarity": "cosine", "symmetric": True},
    "spectral": {},
    "simsiam": {},
    "barlow_twins": {"lam": 0.05},
    "vicreg": {"invariance_weight": 25.0, "variance_weight": 25.0, "covariance_weight": 1.0, "gamma": 1.0},
    "invariance": {},
    "alignment": {},
}


def _name(name: object) -> str:
    return _checks.choice(name, "name", ALL)


def needs_predictor(name: str) -> bool:
    """Whether objective ``name`` needs a predictor (only ``"simsiam"``).

    Parameters
    ----------
    name
        One of :data:`ALL`.

    Returns
    -------
    bool
    """
    return _name(name) == "simsiam"


def predictor(name: str, k: int, init: str = "identity", dtype: torch.dtype = torch.float32) -> nn.Module | None:
    """The predictor objective ``name`` needs: a bias-free linear map ``k -> k`` for SimSiam, else ``None``.

    Parameters
    ----------
    name
        One of :data:`ALL`.
    k
        Embedding dimension (>= 1).
    init
        ``"identity"`` (default: training starts from the plain Siamese map, as in the linear
        analyses of SimSiam) or ``"random"`` (PyTorch's default initialisation, drawn from
        ``torch``'s global generator; with a linear encoder this often leaves a dead dimension,
        see the Gaussian-mixture chapter).
    dtype
        Floating dtype of the predictor's weight.

    Returns
    -------
    torch.nn.Module or None
        A fresh ``nn.Linear(k, k, bias=False)`` for SimSiam; ``None`` otherwise.
    """
    name = _name(name)
    k = _checks.integer(k, "k", minimum=1)
    _checks.work(float(k) * k, 2.0**26, "k: the predictor's k x k weight is too large (k <= 8192)")
    _checks.choice(init, "init", ("identity", "random"))
    dtype = _checks.float_dtype(dtype)
    if not needs_predictor(name):
        return None
    layer = nn.Linear(k, k, bias=False).to(dtype)
    if init == "identity":
        with torch.no_grad():
            layer.weight.copy_(torch.eye(k, dtype=dtype))
    return layer


def _alignment_terms(z1: torch.Tensor, z2: torch.Tensor) -> dict[str, torch.Tensor]:
    _checks.pair(z1, z2, "z1", "z2", min_rows=2)
    value = -(z1 * z2).sum(1).mean()
    return {"loss": _checks.finite_output(value, "alignment", z1=z1, z2=z2)}


def _simsiam_terms(z1: torch.Tensor, z2: torch.Tensor, predictor: nn.Module) -> dict[str, torch.Tensor]:
    _checks.pair(z1, z2, "z1", "z2", min_rows=2)
    # the views are checked here, not only by losses.simsiam, which would name the predictions p1/p2
    _checks.finite(z1, "z1")
    _checks.finite(z2, "z2")
    for pname, w in predictor.named_parameters():
        if w.device != z1.device or w.dtype != z1.dtype:
            raise TypeError(
                f"predictor's parameter {pname} ({w.dtype} on {w.device}) must match z1 and z2 "
                f"({z1.dtype} on {z1.device}); build it with objectives.predictor(..., dtype=z1.dtype)"
            )
    try:
        p = predictor(torch.cat([z1, z2]))
    except RuntimeError as err:
        raise ValueError(
            f"predictor failed on the (2n, k) = ({2 * z1.shape[0]}, {z1.shape[1]}) embeddings: {err}"
        ) from None
    if not isinstance(p, torch.Tensor) or p.shape != (2 * z1.shape[0], z1.shape[1]):
        got = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
        raise ValueError(
            f"predictor must map (n, k) embeddings to (n, k) predictions; for (n, k) = "
            f"({2 * z1.shape[0]}, {z1.shape[1]}) it returned {got}"
        )
    n = z1.shape[0]
    return {"loss": losses.simsiam(p[:n], p[n:], z1, z2)}


_OPTIONAL = {"vicreg": {"eps"}}  # parameters of the underlying loss that keep the package's default

_TERMS: dict[str, Callable[..., dict[str, torch.Tensor]]] = {
    "infonce": losses.info_nce_terms,
    "spectral": losses.spectral_contrastive_terms,
    "barlow_twins": losses.barlow_twins_terms,
    "vicreg": losses.vicreg_terms,
}


def loss_terms(
    name: str, z1: torch.Tensor, z2: torch.Tensor, predictor: nn.Module | None = None, **params: Any
) -> dict[str, torch.Tensor]:
    """The loss of objective ``name`` on a batch of positive pairs, with its terms.

    Parameters
    ----------
    name
        One of :data:`ALL`.
    z1, z2
        Embeddings of the two views, shape ``(n, k)`` with ``n >= 2``; row ``i`` of each is a pair.
    predictor
        Required for ``"simsiam"`` (a module mapping ``(n, k)`` to ``(n, k)``, see
        :func:`predictor`); must be ``None`` for the other objectives.
    **params
        Overrides of :data:`DEFAULTS` ``[name]``, passed to the underlying loss of
        :mod:`sslbook.losses` (which validates them).

    Returns
    -------
    dict
        Scalar tensors: ``"loss"`` and, for composite losses, their terms.

    Raises
    ------
    TypeError
        If ``name`` is not a string, ``z1``/``z2`` are not floating tensors, or ``predictor`` is not
        an ``nn.Module``.
    ValueError
        If ``name`` is unknown, the views' shapes differ or are too small, a predictor is missing or
        superfluous, or ``params`` names an argument the objective does not take.
    """
    name = _name(name)
    if predictor is not None and not isinstance(predictor, nn.Module):
        raise TypeError(f"predictor must be a torch.nn.Module or None, got {type(predictor).__name__}")
    if needs_predictor(name) and predictor is None:
        raise ValueError(f"predictor is required for {name!r} (see objectives.predictor)")
    if not needs_predictor(name) and predictor is not None:
        raise ValueError(f"predictor must be None for {name!r}: only 'simsiam' uses one")
    kwargs = {**DEFAULTS[name], **params}
    unknown = sorted(set(params) - set(DEFAULTS[name]) - _OPTIONAL.get(name, set()))
    if unknown:
        takes = sorted(set(DEFAULTS[name]) | _OPTIONAL.get(name, set()))
        raise ValueError(f"params {unknown} are not parameters of {name!r}; it takes {takes}")
    if name == "simsiam":
        return _simsiam_terms(z1, z2, predictor)
    if name == "alignment":
        return _alignment_terms(z1, z2)
    if name == "invariance":
        terms = losses.vicreg_terms(z1, z2, invariance_weight=1.0, variance_weight=0.0, covariance_weight=0.0)
        return {"invariance": terms["invariance"], "loss": terms["loss"]}
    return _TERMS[name](z1, z2, **kwargs)


def loss(
    name: str, z1: torch.Tensor, z2: torch.Tensor, predictor: nn.Module | None = None, **params: Any
) -> torch.Tensor:
    """The loss of objective ``name`` (see :func:`loss_terms`), a scalar tensor."""
    return loss_terms(name, z1, z2, predictor=predictor, **params)["loss"]


def view_pair(
    source: object,
    n: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two views of a batch from any of the book's pair generators, with one call for all of them.

    An adapter: the generators of :mod:`sslbook.data` produce positive pairs in different ways
    (a method, an augmentation object, stored arrays); this gives them one signature.

    * :class:`~sslbook.data.HiddenFeatureData`: two noisy copies of every sample
      (:class:`~sslbook.data.TwoViews` of :class:`~sslbook.data.GaussianNoise` at the data's noise
      level);
    * :class:`~sslbook.data.SameComponentPairs`: ``n`` fresh pairs, two draws from one component
      (``n`` required);
    * :class:`~sslbook.data.PlantedViews`: the stored anchors and positives ``(x, x_pos)``;
    * :class:`~sslbook.data.CausalData`: two random views ``source.view(x)`` of every instance.

    Parameters
    ----------
    source
        One of the types above.
    n
        Number of pairs (>= 1). Required for :class:`~sslbook.data.SameComponentPairs`. For the
        stored samples of the other types: ``None`` or ``n >= source.n`` gives all rows in order
        (full batch); a smaller ``n`` draws that many rows without replacement with ``generator``
        (a mini-batch). So one call, ``view_pair(source, n=256, generator=g)``, serves every type.
    generator
        Source of randomness for the views.

    Returns
    -------
    tuple of torch.Tensor
        ``(x1, x2)``, each of shape ``(n, d)``.
    """
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if isinstance(source, SameComponentPairs):
        if n is None:
            raise ValueError("n is required for SameComponentPairs (pairs are drawn afresh)")
        n = _checks.integer(n, "n", minimum=1)
        _checks.work(float(n) * source.d, 2.0**28, f"n: {n} pairs of dimension {source.d} is too large a batch")
        b = source.sample(n, generator=generator)
        return b.x1, b.x2
    if not isinstance(source, (HiddenFeatureData, PlantedViews, CausalData)):
        raise TypeError(
            "source must be HiddenFeatureData, SameComponentPairs, PlantedViews or CausalData, "
            f"got {type(source).__name__}"
        )
    m = source.n if n is None else _checks.integer(n, "n", minimum=1)
    if m >= source.n:
        rows = slice(None)
    else:
        rows = torch.randperm(source.n, generator=generator)[:m].to(source.x.device)
    x = source.x[rows]
    if isinstance(source, HiddenFeatureData):
        return TwoViews(GaussianNoise(source.noise))(x, generator=generator)
    if isinstance(source, PlantedViews):
        return x, source.x_pos[rows]
    return TwoViews(source.view)(x, generator=generator)
