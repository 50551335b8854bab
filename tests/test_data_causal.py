"""The synthetic causal data model: structure, views, reproducibility, validation."""

import dataclasses

import pytest
import torch

from sslbook.data import CausalData, CausalView, causal_data


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_shapes_labels_and_mixing():
    d = causal_data(205, k=10, d_signal=8, d_detail=32, d_style=32, generator=gen(1))
    assert isinstance(d, CausalData) and d.n == 205 and d.d == 72 and d.k == 10
    assert d.x.shape == (205, 72) and d.y.dtype == torch.int64
    assert d.signal.shape == (205, 8) and d.detail.shape == (205, 32) and d.style.shape == (205, 32)
    counts = torch.bincount(d.y, minlength=10)
    assert counts.min() == 20 and counts.max() == 21  # balanced
    q = d.mixing.double()
    assert torch.allclose(q.T @ q, torch.eye(72, dtype=torch.float64), atol=1e-5)
    lat = torch.cat([d.signal, d.detail, d.style], 1)
    assert torch.allclose(d.x, lat @ d.mixing.T, atol=1e-5)
    s, nd, u = d.view.latents(d.x)
    assert torch.allclose(s, d.signal, atol=1e-5) and torch.allclose(nd, d.detail, atol=1e-5)
    assert torch.allclose(u, d.style, atol=1e-5)


def test_latent_statistics_follow_the_model():
    d = causal_data(
        20000,
        k=4,
        d_signal=3,
        d_detail=5,
        d_style=6,
        signal_noise=0.5,
        detail_scale=0.3,
        style_scale=2.0,
        generator=gen(2),
        dtype=torch.float64,
    )
    resid = d.signal - d.means[d.y]
    assert resid.std().item() == pytest.approx(0.5, rel=0.03)
    assert d.detail.std().item() == pytest.approx(0.3, rel=0.03)
    assert d.style.std().item() == pytest.approx(2.0, rel=0.03)
    # the detail and the style carry no information about the label
    for part in (d.detail, d.style):
        class_means = torch.stack([part[d.y == c].mean(0) for c in range(4)])
        assert class_means.abs().max().item() < 0.1 * part.std().item() + 0.05


def test_view_keeps_detail_jitters_signal_redraws_style():
    d = causal_data(4000, generator=gen(3), dtype=torch.float64, signal_jitter=0.5, style_scale=2.0)
    v = d.view(d.x, generator=gen(4))
    s, nd, u = d.view.latents(v)
    assert torch.allclose(nd, d.detail, atol=1e-10)
    assert (s - d.signal).std().item() == pytest.approx(0.5, rel=0.03)
    assert u.std().item() == pytest.approx(2.0, rel=0.03)
    corr = torch.corrcoef(torch.stack([u.flatten(), d.style.flatten()]))[0, 1]
    assert abs(corr.item()) < 0.02
    # two views differ, but only in signal and style
    v2 = d.view(d.x, generator=gen(5))
    assert not torch.allclose(v, v2)
    assert torch.allclose(d.view.latents(v2)[1], d.detail, atol=1e-10)


def test_view_without_jitter_and_style_is_identity_on_signal_and_detail():
    d = causal_data(50, d_style=0, signal_jitter=0.0, generator=gen(6), dtype=torch.float64)
    assert torch.allclose(d.view(d.x, generator=gen(7)), d.x, atol=1e-12)


def test_reproducible_and_sample_shares_the_model():
    a = causal_data(100, generator=gen(8))
    b = causal_data(100, generator=gen(8))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    t = a.sample(300, generator=gen(9))
    assert t.n == 300 and torch.equal(t.means, a.means) and torch.equal(t.mixing, a.mixing)
    assert torch.equal(t.view.mixing, a.view.mixing) and t.view.signal_jitter == a.view.signal_jitter
    assert not torch.allclose(t.x[:100], a.x)
    moved = a.to("cpu")
    assert torch.equal(moved.x, a.x) and moved.view.mixing.device.type == "cpu"


def test_frozen_dataclasses():
    d = causal_data(10, generator=gen(10))
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.x = d.x
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.view.signal_jitter = 1.0


def test_validation_errors():
    with pytest.raises(ValueError, match="n"):
        causal_data(0)
    with pytest.raises(TypeError, match="n"):
        causal_data(10.0)
    with pytest.raises(ValueError, match="k"):
        causal_data(10, k=1)
    with pytest.raises(ValueError, match="d_signal"):
        causal_data(10, d_signal=0)
    with pytest.raises(ValueError, match="detail_scale"):
        causal_data(10, detail_scale=-1.0)
    with pytest.raises(ValueError, match="signal_jitter"):
        causal_data(10, signal_jitter=float("nan"))
    with pytest.raises(TypeError, match="dtype"):
        causal_data(10, dtype=torch.int64)
    d = causal_data(10, generator=gen(11))
    with pytest.raises(ValueError, match="x"):
        d.view(torch.zeros(3, 5))
    with pytest.raises(TypeError, match="x"):
        d.view(d.x.numpy())
    with pytest.raises(ValueError, match="mixing"):
        CausalView(mixing=torch.eye(5), d_signal=2, d_detail=2, d_style=2)
    with pytest.raises(ValueError, match="style_scale"):
        CausalView(mixing=torch.eye(6), d_signal=2, d_detail=2, d_style=2, style_scale=-1.0)
