"""Tests of sslbook.data.hidden: the four-cluster model with a hidden feature (Yang et al., AAAI-23)."""

import math

import pytest
import torch

from sslbook.data import GaussianNoise, HiddenFeatureData, TwoViews, hidden_feature_data


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_shapes_types_and_ground_truth():
    s = hidden_feature_data(n=100, d=10, tau=7.0, generator=gen())
    assert isinstance(s, HiddenFeatureData)
    assert s.x.shape == (100, 10) and s.x.dtype == torch.float64
    assert s.y.shape == (100,) and s.y.dtype == torch.int64 and s.z.dtype == torch.int64
    assert set(s.y.tolist()) <= {0, 1} and set(s.z.tolist()) <= {0, 1}
    assert s.n == 100 and s.d == 10 and s.hidden == "onoff"
    assert math.isclose(s.noise, 10**-1.5)
    expected = torch.zeros(4, 10, dtype=torch.float64)
    expected[:, 0] = torch.tensor([1.0, 1.0, -1.0, -1.0])
    expected[:, 1] = torch.tensor([0.0, 7.0, 0.0, 7.0])
    assert torch.equal(s.means, expected)
    assert torch.equal(s.sign, 1 - 2 * s.y)
    assert torch.equal(s.cluster, 2 * s.y + s.z)


def test_samples_sit_at_their_cluster_mean_up_to_the_noise():
    s = hidden_feature_data(n=4000, d=6, tau=3.0, noise=0.05, generator=gen(1))
    resid = s.x - s.means[s.cluster]
    assert float(resid.mean().abs()) < 0.01
    assert abs(float(resid.std()) - 0.05) < 0.003
    # isotropic: coordinates uncorrelated
    c = torch.corrcoef(resid.T)
    assert float((c - torch.eye(6, dtype=c.dtype)).abs().max()) < 0.08


def test_noise_free_samples_equal_the_means_and_fractions():
    s = hidden_feature_data(n=400, d=3, tau=2.0, noise=0.0, generator=gen(2))
    assert torch.equal(s.x, s.means[s.cluster])
    f = s.fractions()
    assert f.shape == (4,) and f.dtype == torch.float64
    assert math.isclose(float(f.sum()), 1.0)
    assert torch.equal(f, torch.bincount(s.cluster, minlength=4).double() / 400)


def test_label_and_hidden_bit_are_fair_and_independent():
    s = hidden_feature_data(n=20000, d=2, generator=gen(3))
    assert abs(float(s.y.double().mean()) - 0.5) < 0.02
    assert abs(float(s.z.double().mean()) - 0.5) < 0.02
    f = s.fractions()
    assert float((f - 0.25).abs().max()) < 0.02  # product of the marginals


def test_p_hidden_changes_the_frequency_of_the_hidden_bit():
    s = hidden_feature_data(n=20000, d=2, p_hidden=0.1, generator=gen(4))
    assert abs(float(s.z.double().mean()) - 0.1) < 0.01


def test_symmetric_hidden_feature_has_zero_mean():
    s = hidden_feature_data(n=20000, d=4, tau=5.0, hidden="symmetric", generator=gen(5))
    assert s.hidden == "symmetric"
    assert torch.equal(s.means[:, 1], torch.tensor([-5.0, 5.0, -5.0, 5.0], dtype=torch.float64))
    assert abs(float(s.x[:, 1].mean())) < 0.15
    assert abs(float(s.x[:, 0].mean())) < 0.03


def test_shared_noise_adds_one_scalar_per_sample():
    s = hidden_feature_data(n=50, d=5, noise=0.1, noise_kind="shared", generator=gen(6))
    resid = s.x - s.means[s.cluster]
    assert torch.allclose(resid, resid[:, :1].expand_as(resid))
    assert float(resid.abs().max()) > 0


def test_reproducible_dtype_and_device():
    a = hidden_feature_data(n=30, generator=gen(7), dtype=torch.float32)
    b = hidden_feature_data(n=30, generator=gen(7), dtype=torch.float32, device="cpu")
    assert a.x.dtype == torch.float32 and a.means.dtype == torch.float32
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and torch.equal(a.z, b.z)


def noisy_views(x, noise, generator=None):
    return TwoViews(GaussianNoise(noise))(x, generator=generator)


def test_views_are_independent_noisy_copies():
    x = torch.zeros(2000, 8, dtype=torch.float64)
    v1, v2 = noisy_views(x, 0.3, generator=gen(8))
    assert v1.shape == x.shape and v2.shape == x.shape
    assert abs(float(v1.std()) - 0.3) < 0.01 and abs(float(v2.std()) - 0.3) < 0.01
    assert abs(float((v1 * v2).mean())) < 0.005  # independent draws
    # stacked data sets (one per seed) work the same way
    xs = torch.ones(3, 10, 4)
    w1, w2 = noisy_views(xs, 0.1, generator=gen(9))
    assert w1.shape == (3, 10, 4) and not torch.equal(w1, w2)
    # zero noise gives copies
    z1, z2 = noisy_views(xs, 0.0)
    assert torch.equal(z1, xs) and torch.equal(z2, xs) and z1 is not xs


def test_two_views_draw_the_noise_of_both_views_in_one_call():
    # one call of the transform on the batch stacked on itself: the same numbers as noise of
    # shape (2, *x.shape) drawn at once (what the hidden-features chapter's loop relies on)
    x = torch.randn(7, 3, generator=gen(14), dtype=torch.float64)
    v1, v2 = noisy_views(x, 0.5, generator=gen(15))
    noise = torch.randn((2, 7, 3), generator=gen(15), dtype=torch.float64)
    assert torch.equal(v1, x + 0.5 * noise[0]) and torch.equal(v2, x + 0.5 * noise[1])


def test_views_are_reproducible():
    x = torch.randn(5, 3, generator=gen(12))
    a = noisy_views(x, 0.5, generator=gen(13))
    b = noisy_views(x, 0.5, generator=gen(13))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize(
    "kwargs, err",
    [
        (dict(n=0), ValueError),
        (dict(n=2.5), TypeError),
        (dict(d=1), ValueError),
        (dict(tau=-1.0), ValueError),
        (dict(tau="7"), TypeError),
        (dict(noise=-0.1), ValueError),
        (dict(p_hidden=1.5), ValueError),
        (dict(hidden="odd"), ValueError),
        (dict(hidden=3), TypeError),
        (dict(noise_kind="anisotropic"), ValueError),
        (dict(dtype=torch.int64), TypeError),
    ],
)
def test_generator_validation(kwargs, err):
    with pytest.raises(err):
        hidden_feature_data(**kwargs)


def test_views_validation():
    with pytest.raises(TypeError):
        noisy_views([[1.0, 2.0]], 0.1)
    with pytest.raises(ValueError):
        noisy_views(torch.zeros(3), 0.1)
    with pytest.raises(ValueError):
        noisy_views(torch.zeros(2, 3), -0.1)
    with pytest.raises(TypeError):
        noisy_views(torch.zeros(2, 3, dtype=torch.int64), 0.1)
