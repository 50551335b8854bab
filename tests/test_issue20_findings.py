"""The findings of issue 20, one regression test each (the fuzz tests cover the classes in general)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from sslbook import critical_points, data, dynamics, geometry, hypersphere, losses, models, probing, spectra, umm

pytestmark = pytest.mark.timeout(60)


def emb(n=8, k=4, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g, dtype=dtype), torch.randn(n, k, generator=g, dtype=dtype)


# 1. scale ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [1e-30, 1e30])
def test_info_nce_does_not_collapse_to_log_n(c):
    z1, z2 = emb()
    ref = float(losses.info_nce(z1, z2))
    assert float(losses.info_nce(z1 * c, z2 * c)) == pytest.approx(ref, rel=1e-5)
    assert abs(ref - math.log(8)) > 1e-3  # the collapsed value the issue found


@pytest.mark.parametrize("c", [1e-30, 1e30])
def test_probe_accuracy_does_not_change_at_1e_minus_30(c):
    g = np.random.default_rng(0)
    y = np.arange(90) % 3
    z = g.standard_normal((90, 5)) + 3 * np.eye(5)[y]
    a = probing.linear_probe_accuracy(z[:60], y[:60], z[60:], y[60:])
    assert probing.linear_probe_accuracy(z[:60] * c, y[:60], z[60:] * c, y[60:]) == a


# 2. devices -------------------------------------------------------------------------------------


def test_a_view_on_the_meta_device_is_refused_by_name():
    z1, z2 = emb()
    with pytest.raises(ValueError, match="z2 is on the meta device"):
        losses.info_nce(z1, z2.to("meta"))
    with pytest.raises(ValueError, match="z1 is on the meta device"):
        losses.vicreg(z1.to("meta"), z2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device")
def test_two_devices_are_refused_by_name():  # pragma: no cover - runs where CUDA exists
    z1, z2 = emb()
    with pytest.raises(ValueError, match="z1 and z2 must be on the same device"):
        losses.info_nce(z1, z2.cuda())


# 3. types ---------------------------------------------------------------------------------------


def test_complex_and_string_arrays_are_refused():
    z = np.ones((5, 3)) + 1j
    with pytest.raises(TypeError, match="z must be real"):
        spectra.effective_rank(z)
    with pytest.raises(TypeError, match="z must be numeric"):
        spectra.effective_rank(np.full((5, 3), "1.0"))


def test_float_labels_beyond_int64_are_refused():
    z = np.random.default_rng(0).standard_normal((6, 2))
    with pytest.raises(ValueError, match="y_train holds labels beyond the int64 range"):
        probing.knn_accuracy(z, np.array([0.0, 1e30, 0, 1e30, 0, 1e30]), z, np.zeros(6), k=1)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.float16])
def test_gaussian_mixture_refuses_non_float32_64_dtypes(dtype):
    with pytest.raises(TypeError, match="dtype must be a floating torch.dtype"):
        data.gaussian_mixture(5, torch.zeros(2, 3), dtype=dtype)


def test_half_precision_and_mixed_dtypes_are_named():
    z1, z2 = emb()
    with pytest.raises(TypeError, match="z1 must be float32 or float64"):
        losses.nt_xent(z1.half(), z2.half())
    with pytest.raises(TypeError, match="z1 and z2 must have the same dtype"):
        losses.nt_xent(z1, z2.double())
    with pytest.raises(TypeError, match="x must have the model's dtype"):
        models.MLP([4, 3])(z1.double())


# 4. NaN and Inf ---------------------------------------------------------------------------------


def test_model_forwards_and_views_refuse_nan():
    x = torch.ones(3, 4)
    x[1, 2] = float("nan")
    for fn in (models.LinearEncoder(4, 2), models.MLP([4, 2]), lambda v: data.TwoViews(data.GaussianNoise(0.1))(v)):
        with pytest.raises(ValueError, match="x contains NaN"):
            fn(x)


def test_hessian_of_a_nan_objective_is_an_error_not_zeros():
    with pytest.raises(ValueError, match="not finite"):
        critical_points.hessian(lambda w: w.sum() * float("nan"), torch.zeros(3, dtype=torch.float64))


def test_unconstrained_flow_overflow_is_an_error():
    a = torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="overflow"):
        dynamics.unconstrained_flow(a, torch.eye(2, dtype=torch.float64), 1e3)


# 5. unvalidated arguments and degenerate sizes --------------------------------------------------


def test_effective_rank_eps_must_be_below_one():
    with pytest.raises(ValueError, match="eps must be < 1"):
        spectra.effective_rank(np.eye(3), eps=2)


def test_empty_batches_are_refused():
    with pytest.raises(ValueError, match="z1"):
        hypersphere.wang_isola_alignment(torch.zeros(0, 3), torch.zeros(0, 3))


def test_coinciding_float32_means_are_caught():
    m = torch.tensor([[0.1, 0.7, 0.3]] * 3, dtype=torch.float32)
    with pytest.raises(ValueError, match="means coincide"):
        data.fisher_subspace(m, 1.0)


def test_non_orthogonal_mixing_is_refused():
    with pytest.raises(ValueError, match="mixing must be orthogonal"):
        data.CausalView(2 * torch.eye(3), 1, 1, 1)


def test_zero_hidden_units_and_negative_labels():
    with pytest.raises(ValueError, match="v must have at least one row"):
        dynamics.relu_features(torch.ones(3, 2), torch.ones(0, 2))
    z = torch.randn(12, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = np.array([-1, -2, -3] * 4)
    assert 0 <= probing.ridge_probe_accuracy(z, y, z, y)[0] <= 1
    assert 0 <= probing.knn_accuracy(z, y, z, y, k=1) <= 1


def test_messages_name_the_callers_arguments():
    with pytest.raises(TypeError, match="z must be a torch.Tensor"):
        dynamics.ssl_loss(np.ones((2, 2)), torch.ones(2, 2), torch.ones(2, 2))
    with pytest.raises(ValueError, match="x_train must have 4 features"):
        probing.probe_layers(models.MLP([4, 3]), torch.ones(5, 3), [0, 1] * 2 + [0], torch.ones(5, 4), [0, 1] * 2 + [0])
    with pytest.raises(ValueError, match="d_hidden must be >= 1"):
        models.projection_head(4, 0, 2)


# 6. never hang ----------------------------------------------------------------------------------


@pytest.mark.parametrize("t_end, dt", [(1e300, 1e-3), (1.0, 1e-300), (1.0, 5e-324)])
def test_integrate_kernel_ode_refuses_unbounded_work_at_once(t_end, dt):
    z0 = torch.eye(3, 2, dtype=torch.float64)
    s = dynamics.coupling_matrix(1, "contrastive")
    start = time.perf_counter()
    with pytest.raises(ValueError, match="t_end / dt"):
        dynamics.integrate_kernel_ode(z0, torch.eye(3, dtype=torch.float64), s, t_end, dt)
    assert time.perf_counter() - start < 1.0


def test_probes_with_huge_labels_do_their_usual_work():
    z = torch.randn(40, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = (np.arange(40) % 2) * 10**15
    start = time.perf_counter()
    probing.ridge_probe_accuracy(z, y, z, y)
    probing.knn_accuracy(z.numpy(), y, z.numpy(), y)
    assert time.perf_counter() - start < 5.0


def test_dense_coupling_matrix_is_bounded():
    with pytest.raises(ValueError, match="coupling_matrix"):
        dynamics.coupling_matrix(10**6)


def test_umm_similarities_are_scale_free():
    h, _ = emb(dtype=torch.float64)
    torch.testing.assert_close(umm.similarity_log_distribution(h * 1e-30), umm.similarity_log_distribution(h))
    assert geometry.is_orthonormal(geometry.random_frame(4, 2))
