"""Probes: how much of a label a frozen representation makes easy to read off.

Probes of one representation ``z`` of shape ``(n, k)`` (NumPy arrays or torch tensors):

* :func:`linear_probe_accuracy`: multinomial logistic regression on standardised features;
* :func:`knn_accuracy`: a ``k``-nearest-neighbour vote;
* :func:`clustering_ari`: k-means clusters against the labels (adjusted Rand index).

Each is invariant to multiplying the features by a positive number, and returns a float.

Per-layer probes of an :class:`~sslbook.models.MLP`, over training. Qiang et al. (2024, "On the Generalization and Causal Explanation in Self-Supervised Learning")
locate where and when a self-supervised network stops generalising by training a linear probe on
the frozen features of every layer at many checkpoints. This module does that for the book's MLPs:

* :func:`layer_features` returns every block's output (:meth:`MLP.features`) in evaluation mode;
* :func:`ridge_probe_accuracy` is a closed-form ridge-regression probe of all layers at once,
  each solved in its primal (``width x width``) or dual (``n_train x n_train``) form, whichever is
  smaller: fast enough to run at every checkpoint;
* :func:`probe_layers` probes every layer with the ridge probe or with
  :func:`linear_probe_accuracy` (logistic regression, slower);
* :class:`LayerProbes` is a monitor for :func:`sslbook.train.fit` that records the per-layer
  accuracies at each checkpoint.

Protocol (as in the paper): the probe is fitted on the clean (un-augmented) self-supervised
training inputs with their labels and evaluated on a held-out test set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from . import _checks
from .models import MLP

__all__ = [
    "linear_probe_accuracy",
    "knn_accuracy",
    "clustering_ari",
    "layer_features",
    "ridge_probe_accuracy",
    "ridge_probe_r2",
    "probe_layers",
    "LayerProbes",
    "PROBES",
]

PROBES = ("ridge", "logistic")


def layer_features(model: MLP, x: torch.Tensor) -> list[torch.Tensor]:
    """Every block's output of ``model`` on ``x``, computed in evaluation mode without gradients.

    Batch normalisation uses its running statistics, so a sample's features do not depend on the
    rest of the batch; every submodule's training/evaluation mode is restored afterwards.

    Parameters
    ----------
    model
        An :class:`~sslbook.models.MLP`.
    x
        Inputs, shape ``(n, widths[0])``.

    Returns
    -------
    list of torch.Tensor
        ``[h_1, ..., h_L]``, ``h_l`` of shape ``(n, widths[l])``.
    """
    return _features(model, x, "x")


def _features(model: MLP, x: torch.Tensor, name: str) -> list[torch.Tensor]:
    """:func:`layer_features` with the inputs' argument name for its messages."""
    _checks.instance(model, MLP, "model")
    _checks.tensor(x, name, ndim=2)
    if x.shape[0] < 1:
        raise ValueError(f"{name} needs at least one row, got shape {tuple(x.shape)}")
    if x.shape[1] != model.widths[0]:
        raise ValueError(
            f"{name} must have {model.widths[0]} features (the model's input width), got shape {tuple(x.shape)}"
        )
    weight = model.layers[0][0].weight
    if x.device != weight.device:
        raise ValueError(f"{name} must be on the model's device {weight.device}, got {x.device}")
    if x.dtype != weight.dtype:
        raise TypeError(f"{name} must have the model's dtype {weight.dtype}, got {x.dtype}")
    modes = [(m, m.training) for m in model.modules()]  # restored one by one: frozen blocks stay in eval mode
    model.eval()
    try:
        with torch.no_grad():
            feats = model.features(x)
    finally:
        for m, mode in modes:
            m.training = mode
    return [f.detach() for f in feats]


def _feature_list(features: object, name: str) -> list[torch.Tensor]:
    if isinstance(features, torch.Tensor):
        features = [features]
    if isinstance(features, (str, bytes)) or not isinstance(features, Sequence) or len(features) == 0:
        raise TypeError(f"{name} must be a tensor or a non-empty sequence of tensors (one per layer)")
    out = []
    for i, f in enumerate(features):
        if isinstance(f, np.ndarray):
            if f.dtype.kind not in "f":
                raise TypeError(f"{name}[{i}] must be a floating-point array, got dtype {f.dtype}")
            f = torch.from_numpy(np.asarray(f, dtype=np.float64))
        out.append(_checks.tensor(f, f"{name}[{i}]", ndim=2, finite=False))  # finiteness: see _ridge_scores
        if f.shape[0] < 1 or f.shape[1] < 1:
            raise ValueError(f"{name}[{i}] needs at least one row and one column, got shape {tuple(f.shape)}")
    return out


def _ridge_scores(
    features_train: list[torch.Tensor], targets: torch.Tensor, features_test: list[torch.Tensor], lam: float
) -> torch.Tensor:
    r"""Ridge predictions of ``targets`` ``(n, t)`` on the test features of every layer: ``(L, n_test, t)``.

    Each layer is standardised with its training statistics. The probe
    :math:`W = (A^\top A + \lambda p I_p)^{-1} A^\top T = A^\top (A A^\top + \lambda p I_n)^{-1} T`
    is solved in whichever form has the smaller system (primal ``p x p`` when the layer is narrower
    than the number of training samples, dual ``n x n`` otherwise), by a Cholesky factorisation in
    float64.
    """
    ftr, fte = features_train, features_test  # validated by the caller (_feature_list)
    if len(ftr) != len(fte):
        raise ValueError(f"features_train and features_test must list the same layers, got {len(ftr)} and {len(fte)}")
    n, n_test = ftr[0].shape[0], fte[0].shape[0]
    if targets.shape[0] != n:
        raise ValueError(f"the targets need one row per training sample ({n}), got {targets.shape[0]}")
    inputs = {
        **{f"features_train[{i}]": a for i, a in enumerate(ftr)},
        **{f"features_test[{i}]": b for i, b in enumerate(fte)},
    }
    try:
        scores = _ridge_solve(ftr, targets, fte, lam, n, n_test)
    except torch.linalg.LinAlgError:  # a non-finite feature can make the Gram matrix indefinite
        _checks.blame_non_finite(**inputs)
        raise
    # Non-finite features make the scores non-finite: checking the small result instead of every
    # feature matrix saves a pass over all the features (the largest arrays in a probe).
    return _checks.finite_output(scores, "the ridge probe", **inputs)


def _ridge_solve(
    ftr: list[torch.Tensor], targets: torch.Tensor, fte: list[torch.Tensor], lam: float, n: int, n_test: int
) -> torch.Tensor:
    preds = []
    for i, (a, b) in enumerate(zip(ftr, fte)):
        if a.shape[0] != n or b.shape[0] != n_test:
            raise ValueError(
                f"layer {i}: every layer needs {n} training and {n_test} test rows, got {a.shape[0]} and {b.shape[0]}"
            )
        if a.shape[1] != b.shape[1]:
            raise ValueError(f"layer {i}: train and test features have different widths {a.shape[1]} and {b.shape[1]}")
        a = a.detach().to("cpu", torch.float64)
        b = b.detach().to("cpu", torch.float64)
        top = float(a.abs().max()) if a.numel() else 0.0
        if 0.0 < top < float("inf"):  # an exact power-of-two rescaling: the threshold below becomes relative
            e = math.frexp(top)[1]
            a, b = torch.ldexp(a, torch.tensor(-e)), torch.ldexp(b, torch.tensor(-e))
        mu, sd = a.mean(0), a.std(0)
        sd = torch.where(sd > 1e-12, sd, torch.ones_like(sd))
        a, b = (a - mu) / sd, (b - mu) / sd
        p = a.shape[1]
        if p < n:  # primal
            gram = a.T @ a
            gram.diagonal().add_(lam * p)
            preds.append(b @ torch.cholesky_solve(a.T @ targets, torch.linalg.cholesky(gram)))
        else:  # dual
            gram = a @ a.T
            gram.diagonal().add_(lam * p)
            preds.append((b @ a.T) @ torch.cholesky_solve(targets, torch.linalg.cholesky(gram)))
    return torch.stack(preds)


def ridge_probe_accuracy(features_train, y_train, features_test, y_test, lam: float = 1.0) -> np.ndarray:
    r"""Test accuracy of a ridge-regression probe on one-hot labels, for several layers at once.

    Each layer's features are standardised with the training mean and standard deviation; with
    :math:`A \in \mathbb R^{n\times p}` the standardised training features and :math:`Y` the
    one-hot labels, the probe is :math:`W = A^\top (AA^\top + \lambda p\, I_n)^{-1} Y` (the dual
    form of ridge regression with penalty :math:`\lambda p \|W\|_F^2`, i.e. :math:`\lambda` per
    feature), and a test point is assigned to the class of its largest score. Each layer's
    system is solved in float64 in its primal or dual form, whichever is smaller.

    Parameters
    ----------
    features_train
        One tensor ``(n_train, p)`` or a list of them, one per layer (widths may differ).
    y_train
        Integer labels, shape ``(n_train,)``.
    features_test
        The same layers on the test inputs, shapes ``(n_test, p_l)``.
    y_test
        Integer labels, shape ``(n_test,)``.
    lam
        Ridge penalty per feature, :math:`\lambda > 0`.

    Returns
    -------
    numpy.ndarray
        Test accuracy of each layer, shape ``(L,)``.
    """
    ftr = _feature_list(features_train, "features_train")
    fte = _feature_list(features_test, "features_test")
    ytr_raw = _checks.labels(y_train, "y_train", n=ftr[0].shape[0])
    yte_raw = _checks.labels(y_test, "y_test", n=fte[0].shape[0])
    if ytr_raw.size < 2 or ytr_raw.min() == ytr_raw.max():
        raise ValueError("y_train must contain at least two classes")
    if yte_raw.size < 1:
        raise ValueError("y_test must hold at least one label (features_test needs at least one row)")
    lam = _checks.positive(lam, "lam")
    # Labels mapped to 0..C-1 (C distinct labels): negative labels work, and the one-hot matrix has
    # C columns whatever the largest label.
    (itr, ite), n_classes = _checks.class_indices(ytr_raw, yte_raw)
    ytr, yte = torch.from_numpy(itr), torch.from_numpy(ite)
    onehot = torch.nn.functional.one_hot(ytr, n_classes).to(torch.float64)
    scores = _ridge_scores(ftr, onehot, fte, lam)  # (L, n_test, C)
    return (scores.argmax(-1) == yte).to(torch.float64).mean(-1).numpy()


def ridge_probe_r2(features_train, targets_train, features_test, targets_test, lam: float = 1.0) -> np.ndarray:
    r"""Test :math:`R^2` of a ridge regression from each layer's features to continuous targets.

    The same probe as :func:`ridge_probe_accuracy` (standardised features, penalty :math:`\lambda`
    per feature, the smaller of the primal and dual systems), regressing centred targets, e.g. a latent part of
    :func:`sslbook.data.causal_data`. :math:`R^2 = 1 - \sum\|t - \hat t\|^2 / \sum\|t - \bar t\|^2`
    over the test rows and all target columns (:math:`\bar t` the test mean); it is 1 for a
    perfect linear read-out and about 0 (or below) when the layer holds no linear information.

    Parameters
    ----------
    features_train, features_test
        As in :func:`ridge_probe_accuracy`.
    targets_train, targets_test
        Shapes ``(n_train, t)`` and ``(n_test, t)``.
    lam
        Ridge penalty per feature, :math:`\lambda > 0`.

    Returns
    -------
    numpy.ndarray
        :math:`R^2` of each layer, shape ``(L,)``.
    """
    ttr = _checks.tensor(targets_train, "targets_train", ndim=2).detach().to("cpu", torch.float64)
    tte = _checks.tensor(targets_test, "targets_test", ndim=2).detach().to("cpu", torch.float64)
    if ttr.shape[1] != tte.shape[1]:
        raise ValueError(
            f"targets_train and targets_test must have the same columns, got {ttr.shape[1]} and {tte.shape[1]}"
        )
    lam = _checks.positive(lam, "lam")
    ftr = _feature_list(features_train, "features_train")
    fte = _feature_list(features_test, "features_test")
    if ttr.shape[0] != ftr[0].shape[0]:
        raise ValueError(f"targets_train needs one row per training sample ({ftr[0].shape[0]}), got {ttr.shape[0]}")
    mean = ttr.mean(0)
    pred = _ridge_scores(ftr, ttr - mean, fte, lam) + mean  # (L, n_test, t)
    if pred.shape[1] != tte.shape[0]:
        raise ValueError(f"targets_test needs one row per test sample ({pred.shape[1]}), got {tte.shape[0]}")
    total = ((tte - tte.mean(0)) ** 2).sum()
    if float(total) == 0.0:
        raise ValueError("targets_test is constant: R^2 is undefined")
    return (1.0 - ((pred - tte) ** 2).sum((1, 2)) / total).numpy()


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


def probe_layers(
    model: MLP,
    x_train: torch.Tensor,
    y_train,
    x_test: torch.Tensor,
    y_test,
    method: str = "ridge",
    lam: float = 1.0,
    c: float = 0.1,
) -> np.ndarray:
    """Linear-probe test accuracy of every layer of ``model``.

    Parameters
    ----------
    model
        An :class:`~sslbook.models.MLP`; its layers are probed in evaluation mode.
    x_train, y_train
        Clean training inputs ``(n_train, d)`` and their labels.
    x_test, y_test
        Test inputs and labels.
    method
        ``"ridge"`` (:func:`ridge_probe_accuracy`, all layers in one solve) or ``"logistic"``
        (:func:`linear_probe_accuracy`, one fit per layer).
    lam
        Ridge penalty per feature (``method="ridge"``).
    c
        Inverse regularisation of the logistic probe (``method="logistic"``).

    Returns
    -------
    numpy.ndarray
        Accuracy per layer, shape ``(L,)``.
    """
    _checks.instance(model, MLP, "model")
    _checks.choice(method, "method", PROBES)
    ftr = _features(model, x_train, "x_train")
    fte = _features(model, x_test, "x_test")
    if method == "ridge":
        return ridge_probe_accuracy(ftr, y_train, fte, y_test, lam=lam)
    c = _checks.positive(c, "c")
    return np.array([linear_probe_accuracy(a, y_train, b, y_test, c=c) for a, b in zip(ftr, fte)])


class LayerProbes:
    """Per-layer probe accuracy of a model over training, for :func:`sslbook.train.fit`.

    Calling the object probes every layer now, appends the accuracies to :attr:`accuracy` and
    returns their mean (a number :class:`~sslbook.train.History` can record). Pass it as a
    monitor, ``train.fit(..., monitor={"probe": probes}, every=50)``; the checkpoints' steps are
    then ``hist.steps("probe")``.

    Parameters
    ----------
    model
        The :class:`~sslbook.models.MLP` being trained.
    x_train, y_train, x_test, y_test
        Probe data, as in :func:`probe_layers`.
    method, lam, c
        Probe and its regularisation, as in :func:`probe_layers`.
    keep_states
        Also keep a copy of the model's ``state_dict`` at every checkpoint (in :attr:`states`),
        so any other per-checkpoint quantity can be computed afterwards without retraining.
    """

    def __init__(
        self,
        model: MLP,
        x_train: torch.Tensor,
        y_train,
        x_test: torch.Tensor,
        y_test,
        method: str = "ridge",
        lam: float = 1.0,
        c: float = 0.1,
        keep_states: bool = False,
    ) -> None:
        self.model = _checks.instance(model, MLP, "model")
        if not isinstance(keep_states, bool):
            raise TypeError(f"keep_states must be a bool, got {type(keep_states).__name__}")
        self.keep_states = keep_states
        self.states: list[dict[str, torch.Tensor]] = []
        _checks.tensor(x_train, "x_train", ndim=2)
        _checks.tensor(x_test, "x_test", ndim=2)
        self.y_train = _checks.labels(y_train, "y_train", n=x_train.shape[0])
        self.y_test = _checks.labels(y_test, "y_test", n=x_test.shape[0])
        self.x_train, self.x_test = x_train, x_test
        self.method = _checks.choice(method, "method", PROBES)
        self.lam = _checks.positive(lam, "lam")
        self.c = _checks.positive(c, "c")
        self._rows: list[np.ndarray] = []

    def __call__(self) -> float:
        acc = probe_layers(
            self.model, self.x_train, self.y_train, self.x_test, self.y_test, method=self.method, lam=self.lam, c=self.c
        )
        self._rows.append(acc)
        if self.keep_states:
            self.states.append({k: v.detach().clone() for k, v in self.model.state_dict().items()})
        return float(acc.mean())

    @property
    def accuracy(self) -> np.ndarray:
        """Accuracies so far, shape ``(checkpoints, layers)``."""
        if not self._rows:
            return np.zeros((0, len(self.model.layers)))
        return np.stack(self._rows)

    def __len__(self) -> int:
        return len(self._rows)
