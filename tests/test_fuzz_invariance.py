"""Property tests (hypothesis) of the invariances the concept modules promise (issue 20).

* Scale: cosine-based losses and metrics, the UMM similarities and the probes do not change when
  their inputs are multiplied by any positive number, from ``1e-30`` to ``1e30`` (exactly, for the
  probes and powers of two).
* Permutation: every loss and the batch metrics are invariant to reordering the samples (the rows
  of both views together); probes to reordering the training set.
* Objectives (:mod:`sslbook.objectives`): every objective is invariant to reordering the pairs; the
  cosine InfoNCE objective is scale-free like the loss behind it.
* Exercises: :func:`sslbook.exercises.check` judges an answer the same in any container (list,
  NumPy, torch, float32 or float64) and accepts every answer within the tolerance of the reference.
* Relabelling: the kNN and ridge probes give the same accuracy under any bijection of the labels,
  negative and huge labels included (they used to build a one-hot matrix with max(label) + 1 columns).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sslbook import coding_rate, exercises, hypersphere, losses, objectives, probing, spectra, umm, vae

PROPS = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.generate,),
    suppress_health_check=list(HealthCheck),
)
SCALES = st.sampled_from([1e-30, 1e-12, 3.7e-7, 2.0**-60, 0.5, 3.0, 2.0**40, 1e12, 1e30])
DTYPES = st.sampled_from([torch.float32, torch.float64])


def draw(seed, *shape, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def close(a, b, dtype):
    rtol = 2e-4 if dtype == torch.float32 else 1e-10
    for x, y in zip(a.values() if isinstance(a, dict) else [a], b.values() if isinstance(b, dict) else [b]):
        torch.testing.assert_close(x, y, rtol=rtol, atol=rtol)


SCALE_FREE_PAIRS = {
    "info_nce": losses.info_nce,
    "info_nce_terms": losses.info_nce_terms,
    "nt_xent": losses.nt_xent,
    "clip": losses.clip,
    "clip_terms": losses.clip_terms,
    "negative_cosine": losses.negative_cosine,
    "wang_isola_alignment": hypersphere.wang_isola_alignment,
    "pair_coding_rate_reduction": coding_rate.pair_coding_rate_reduction,
}


@pytest.mark.parametrize("name", sorted(SCALE_FREE_PAIRS))
@PROPS
@given(seed=st.integers(0, 10**6), n=st.integers(2, 12), k=st.integers(1, 6), c=SCALES, dtype=DTYPES)
def test_cosine_losses_and_metrics_are_scale_free(name, seed, n, k, c, dtype):
    fn = SCALE_FREE_PAIRS[name]
    z1, z2 = draw(seed, n, k, dtype=dtype), draw(seed + 1, n, k, dtype=dtype)
    close(fn(z1 * c, z2 * c), fn(z1, z2), dtype)
    close(fn(z1 * c, z2), fn(z1, z2), dtype)  # each view on its own scale


@PROPS
@given(seed=st.integers(0, 10**6), n=st.integers(1, 8), k=st.integers(1, 5), c=SCALES, dtype=DTYPES)
def test_simsiam_is_scale_free(seed, n, k, c, dtype):
    p1, p2, z1, z2 = (draw(seed + i, n, k, dtype=dtype) for i in range(4))
    close(losses.simsiam(p1 * c, p2, z1, z2 * c), losses.simsiam(p1, p2, z1, z2), dtype)


@PROPS
@given(seed=st.integers(0, 10**6), n=st.integers(2, 12), k=st.integers(1, 6), c=SCALES, dtype=DTYPES)
def test_uniformity_and_umm_similarities_are_scale_free(seed, n, k, c, dtype):
    z, h = draw(seed, n, k, dtype=dtype), draw(seed + 1, n, k + 1, dtype=dtype)
    close(hypersphere.wang_isola_uniformity(z * c), hypersphere.wang_isola_uniformity(z), dtype)
    close(umm.similarity_log_distribution(z * c), umm.similarity_log_distribution(z), dtype)
    close(umm.similarity_kl(h * c, z), umm.similarity_kl(h, z), dtype)


def _classes(seed, n, k, n_classes=3, sep=1.5):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % n_classes
    means = torch.randn(n_classes, k, generator=g, dtype=torch.float64) * sep
    return (means[y] + torch.randn(n, k, generator=g, dtype=torch.float64)).numpy(), y.numpy()


@PROPS
@given(seed=st.integers(0, 10**6), j=st.integers(-100, 100), metric=st.sampled_from(["cosine", "euclidean"]))
def test_probes_are_exactly_invariant_to_power_of_two_scales(seed, j, metric):
    ztr, ytr = _classes(seed, 30, 4)
    zte, yte = _classes(seed + 1, 12, 4)
    c = 2.0**j
    assert probing.knn_accuracy(ztr * c, ytr, zte * c, yte, k=3, metric=metric) == probing.knn_accuracy(
        ztr, ytr, zte, yte, k=3, metric=metric
    )
    assert probing.linear_probe_accuracy(ztr * c, ytr, zte * c, yte) == probing.linear_probe_accuracy(
        ztr, ytr, zte, yte
    )
    a = probing.ridge_probe_accuracy(torch.from_numpy(ztr * c), ytr, torch.from_numpy(zte * c), yte)
    b = probing.ridge_probe_accuracy(torch.from_numpy(ztr), ytr, torch.from_numpy(zte), yte)
    np.testing.assert_array_equal(a, b)
    assert spectra.effective_rank(ztr * c) == pytest.approx(spectra.effective_rank(ztr), rel=1e-12)
    assert probing.clustering_ari(ztr * c, ytr, n_init=1) == probing.clustering_ari(ztr, ytr, n_init=1)


@pytest.mark.parametrize("c", [1e-30, 1e30])
def test_probes_do_not_collapse_at_extreme_scales(c):
    """Well-separated classes: the probes' accuracy at 1e-30 and 1e30 is the accuracy at 1."""
    ztr, ytr = _classes(3, 60, 4, sep=4.0)
    zte, yte = _classes(4, 30, 4, sep=4.0)
    for dtype in (np.float64, np.float32):
        a, b = ztr.astype(dtype), zte.astype(dtype)
        assert probing.linear_probe_accuracy(a * dtype(c), ytr, b * dtype(c), yte) == probing.linear_probe_accuracy(
            a, ytr, b, yte
        )
        assert probing.knn_accuracy(a * dtype(c), ytr, b * dtype(c), yte) == probing.knn_accuracy(a, ytr, b, yte)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        np.testing.assert_array_equal(
            probing.ridge_probe_accuracy(ta * c, ytr, tb * c, yte), probing.ridge_probe_accuracy(ta, ytr, tb, yte)
        )
        r2 = probing.ridge_probe_r2(ta * c, ta[:, :2] * c, tb * c, tb[:, :2] * c)
        np.testing.assert_allclose(r2, probing.ridge_probe_r2(ta, ta[:, :2], tb, tb[:, :2]), rtol=1e-5)
    z = np.stack([ztr[:30], ztr[30:]], axis=1)
    assert vae.within_group_variance_share(z * c) == pytest.approx(vae.within_group_variance_share(z), rel=1e-12)


PERMUTABLE = {
    "info_nce": losses.info_nce,
    "nt_xent": losses.nt_xent,
    "clip": losses.clip,
    "spectral_contrastive": losses.spectral_contrastive,
    "barlow_twins": losses.barlow_twins,
    "vicreg": losses.vicreg,
    "negative_cosine": losses.negative_cosine,
    "wang_isola_alignment": hypersphere.wang_isola_alignment,
    "pair_reduction": lambda a, b: coding_rate.pair_coding_rate_reduction(a, b)["reduction"],
}


@pytest.mark.parametrize("name", sorted(PERMUTABLE))
@PROPS
@given(seed=st.integers(0, 10**6), n=st.integers(2, 12), k=st.integers(1, 6))
def test_losses_are_invariant_to_reordering_the_samples(name, seed, n, k):
    z1, z2 = draw(seed, n, k), draw(seed + 1, n, k)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    fn = PERMUTABLE[name]
    torch.testing.assert_close(fn(z1[perm], z2[perm]), fn(z1, z2), rtol=1e-10, atol=1e-12)


@PROPS
@given(seed=st.integers(0, 10**6), n=st.integers(2, 12), k=st.integers(1, 6))
def test_batch_metrics_are_invariant_to_reordering_the_samples(seed, n, k):
    z = draw(seed, n, k)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(
        hypersphere.wang_isola_uniformity(z[perm]), hypersphere.wang_isola_uniformity(z), rtol=1e-10, atol=1e-12
    )
    torch.testing.assert_close(coding_rate.coding_rate(z[perm]), coding_rate.coding_rate(z), rtol=1e-10, atol=1e-12)
    assert spectra.effective_rank(z[perm]) == pytest.approx(spectra.effective_rank(z), rel=1e-10)


@PROPS
@given(seed=st.integers(0, 10**6), shift=st.integers(-(10**12), 10**12), stride=st.sampled_from([-7, -1, 1, 3, 10**6]))
def test_probes_are_invariant_to_relabelling(seed, shift, stride):
    """Any injective relabelling y -> shift + stride * y (negative or huge labels) changes nothing,
    and the work does not grow with the largest label."""
    ztr, ytr = _classes(seed, 30, 4)
    zte, yte = _classes(seed + 1, 12, 4)
    relabel = lambda y: shift + stride * y.astype(np.int64)  # noqa: E731
    for metric in ("cosine", "euclidean"):
        assert probing.knn_accuracy(ztr, relabel(ytr), zte, relabel(yte), k=3, metric=metric) == probing.knn_accuracy(
            ztr, ytr, zte, yte, k=3, metric=metric
        )
    a = probing.ridge_probe_accuracy(torch.from_numpy(ztr), relabel(ytr), torch.from_numpy(zte), relabel(yte))
    np.testing.assert_array_equal(
        a, probing.ridge_probe_accuracy(torch.from_numpy(ztr), ytr, torch.from_numpy(zte), yte)
    )


@PROPS
@given(seed=st.integers(0, 10**6), n=st.integers(4, 20))
def test_ridge_probe_is_invariant_to_reordering_the_training_set(seed, n):
    ztr, ytr = _classes(seed, 3 * n, 5)
    zte, yte = _classes(seed + 1, n, 5)
    perm = np.random.default_rng(seed).permutation(3 * n)
    np.testing.assert_array_equal(
        probing.ridge_probe_accuracy(torch.from_numpy(ztr[perm]), ytr[perm], torch.from_numpy(zte), yte),
        probing.ridge_probe_accuracy(torch.from_numpy(ztr), ytr, torch.from_numpy(zte), yte),
    )


@pytest.mark.parametrize("name", objectives.ALL)
@PROPS
@given(seed=st.integers(0, 10**6), n=st.integers(2, 12), k=st.integers(1, 6))
def test_objectives_are_invariant_to_reordering_the_pairs(name, seed, n, k):
    z1, z2 = draw(seed, n, k), draw(seed + 1, n, k)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    pred = objectives.predictor(name, k, dtype=torch.float64)
    torch.testing.assert_close(
        objectives.loss(name, z1[perm], z2[perm], predictor=pred),
        objectives.loss(name, z1, z2, predictor=pred),
        rtol=1e-10,
        atol=1e-12,
    )


@PROPS
@given(seed=st.integers(0, 10**6), n=st.integers(2, 12), k=st.integers(1, 6), c=SCALES, dtype=DTYPES)
def test_infonce_objective_is_scale_free(seed, n, k, c, dtype):
    z1, z2 = draw(seed, n, k, dtype=dtype), draw(seed + 1, n, k, dtype=dtype)
    close(objectives.loss_terms("infonce", z1 * c, z2), objectives.loss_terms("infonce", z1, z2), dtype)


@PROPS
@given(
    seed=st.integers(0, 10**6),
    size=st.integers(1, 6),
    tol=st.sampled_from([1e-3, 0.01, 0.5]),
    frac=st.floats(-0.99, 0.99),
    container=st.sampled_from(["list", "numpy", "float32", "float64"]),
)
def test_check_is_invariant_to_the_container_and_accepts_within_tol(tmp_path_factory, seed, size, tol, frac, container):
    ref = np.random.default_rng(seed).normal(0, 3, size).round(2)
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    path.write_text(json.dumps({"t-ex": exercises.make_key("t-ex", "ans", ref.tolist(), tol)}))
    answer = ref + frac * tol
    if container == "float32":  # float32 rounding may move an answer near the edge of the tolerance
        answer = ref + 0.5 * frac * tol
    value = {
        "list": answer.tolist(),
        "numpy": answer,
        "float32": torch.tensor(answer, dtype=torch.float32),
        "float64": torch.from_numpy(answer),
    }[container]
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("SSLBOOK_EXERCISE_KEYS", str(path))
        mp.delenv("SSLBOOK_CHECKS", raising=False)
        mp.delenv("SSLBOOK_RECORD_ANSWERS", raising=False)
        result = exercises.check("t-ex", "ans", tol, namespace={"ans": value})
    finally:
        mp.undo()
    assert result.passed, result.message
