"""Per-layer probes: ridge probe vs a slow primal reference, logistic probe, monitors, modes."""

import re

import numpy as np
import pytest
import torch

from sslbook import models, probing, train, umm
from sslbook.data import causal_data


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def slow_ridge_predict(a, t, b, lam):
    """Primal ridge, one layer: W = (A^T A + lam p I)^-1 A^T T on standardised features."""
    a, b, t = (np.asarray(v, dtype=float) for v in (a, b, t))
    mu, sd = a.mean(0), a.std(0, ddof=1)
    sd[sd < 1e-12] = 1.0
    a, b = (a - mu) / sd, (b - mu) / sd
    p = a.shape[1]
    w = np.linalg.solve(a.T @ a + lam * p * np.eye(p), a.T @ t)
    return b @ w


def blobs(n, d, k, seed, sep=3.0):
    g = gen(seed)
    means = sep * torch.randn(k, d, generator=g, dtype=torch.float64)
    y = torch.arange(n) % k
    return means[y] + torch.randn(n, d, generator=g, dtype=torch.float64), y


def test_ridge_accuracy_matches_primal_reference_for_several_layers():
    xa, ya = blobs(60, 5, 3, 1, sep=1.0)
    xb, yb = blobs(200, 5, 3, 1, sep=1.0)
    wide_a, wide_b = torch.tanh(xa @ torch.randn(5, 80, generator=gen(2), dtype=torch.float64)), None
    wide_b = torch.tanh(xb @ torch.randn(5, 80, generator=gen(2), dtype=torch.float64))
    got = probing.ridge_probe_accuracy([xa, wide_a], ya, [xb, wide_b], yb, lam=0.5)
    onehot = np.eye(3)[ya.numpy()]
    for i, (a, b) in enumerate([(xa, xb), (wide_a, wide_b)]):
        want = (slow_ridge_predict(a, onehot, b, 0.5).argmax(1) == yb.numpy()).mean()
        assert got[i] == pytest.approx(want)
    assert got.shape == (2,)


def test_ridge_separable_and_chance():
    xa, ya = blobs(100, 6, 4, 3, sep=10.0)
    xb, yb = blobs(400, 6, 4, 3, sep=10.0)
    assert probing.ridge_probe_accuracy(xa, ya, xb, yb)[0] == pytest.approx(1.0)
    noise_a = torch.randn(100, 6, generator=gen(4))
    noise_b = torch.randn(4000, 6, generator=gen(5))
    acc = probing.ridge_probe_accuracy(noise_a, ya, noise_b, torch.arange(4000) % 4)[0]
    assert 0.18 < acc < 0.32  # chance is 1/4


def test_ridge_r2_matches_reference_and_limits():
    xa, _ = blobs(80, 6, 2, 6)
    xb, _ = blobs(300, 6, 2, 7)
    w = torch.randn(6, 3, generator=gen(8), dtype=torch.float64)
    ta, tb = xa @ w, xb @ w
    got = probing.ridge_probe_r2([xa], ta, [xb], tb, lam=0.01)[0]
    pred = slow_ridge_predict(xa, ta.numpy() - ta.numpy().mean(0), xb, 0.01) + ta.numpy().mean(0)
    want = 1 - ((pred - tb.numpy()) ** 2).sum() / ((tb.numpy() - tb.numpy().mean(0)) ** 2).sum()
    assert got == pytest.approx(want, rel=1e-8)
    assert got > 0.99
    r2_noise = probing.ridge_probe_r2(
        torch.randn(80, 6, generator=gen(9)), ta, torch.randn(300, 6, generator=gen(10)), tb
    )
    assert r2_noise[0] < 0.05


def test_layer_features_eval_mode_and_mode_restoration():
    torch.manual_seed(0)
    net = models.MLP([5, 8, 8, 3], batch_norm=True)
    x = torch.randn(20, 5, generator=gen(11))
    feats = probing.layer_features(net, x)
    assert [f.shape for f in feats] == [(20, 8), (20, 8), (20, 3)]
    # evaluation mode: one sample's features do not depend on the batch
    single = probing.layer_features(net, x[:1])
    assert torch.allclose(single[-1], feats[-1][:1], atol=1e-6)
    assert net.training
    umm.freeze_early(net, 1)  # block 0 in eval mode, the rest in training mode
    probing.layer_features(net, x)
    assert not net.layers[0].training and net.layers[1].training and net.training
    assert not feats[0].requires_grad


def test_probe_layers_logistic_equals_linear_probe_accuracy():
    d = causal_data(100, generator=gen(12))
    t = d.sample(300, generator=gen(13))
    torch.manual_seed(1)
    net = models.MLP([72, 16, 16, 4], batch_norm=True)
    got = probing.probe_layers(net, d.x, d.y, t.x, t.y, method="logistic", c=0.1)
    ftr, fte = probing.layer_features(net, d.x), probing.layer_features(net, t.x)
    want = [probing.linear_probe_accuracy(a, d.y, b, t.y, c=0.1) for a, b in zip(ftr, fte)]
    assert np.allclose(got, want)
    ridge = probing.probe_layers(net, d.x, d.y, t.x, t.y)
    assert np.allclose(ridge, probing.ridge_probe_accuracy(ftr, d.y, fte, t.y))


def test_layer_probes_as_training_monitor():
    d = causal_data(100, generator=gen(14))
    t = d.sample(200, generator=gen(15))
    torch.manual_seed(2)
    net = models.MLP([72, 16, 16, 8], batch_norm=True)
    probes = probing.LayerProbes(net, d.x, d.y, t.x, t.y, keep_states=True)
    assert probes.accuracy.shape == (0, 3)

    def step(_):
        z = net(torch.cat([d.view(d.x, generator=gen(16)), d.view(d.x, generator=gen(17))]))
        return torch.nn.functional.mse_loss(z[:100], z[100:]) - z.std(0).mean()

    hist = train.fit(step, net.parameters(), 10, 1e-2, optimizer="adam", monitor={"probe": probes}, every=5)
    assert len(probes) == 3 and probes.accuracy.shape == (3, 3)
    assert list(hist.steps("probe")) == [0, 5, 10]
    assert np.allclose(hist["probe"], probes.accuracy.mean(1))
    assert len(probes.states) == 3
    assert not torch.equal(probes.states[0]["layers.0.0.weight"], probes.states[-1]["layers.0.0.weight"])
    net.load_state_dict(probes.states[-1])
    assert np.allclose(probing.probe_layers(net, d.x, d.y, t.x, t.y), probes.accuracy[-1])


def test_validation_errors():
    x, y = blobs(20, 3, 2, 18)
    with pytest.raises(TypeError, match="model"):
        probing.layer_features(torch.nn.Linear(3, 2), x)
    with pytest.raises(TypeError, match="features_train"):
        probing.ridge_probe_accuracy("x", y, x, y)
    with pytest.raises(ValueError, match="same layers"):
        probing.ridge_probe_accuracy([x, x], y, [x], y)
    with pytest.raises(ValueError, match="widths"):
        probing.ridge_probe_accuracy([x], y, [x[:, :2]], y)
    with pytest.raises(ValueError, match="y_train"):
        probing.ridge_probe_accuracy(x, y[:5], x, y)
    with pytest.raises(ValueError, match="two classes"):
        probing.ridge_probe_accuracy(x, torch.zeros(20, dtype=torch.int64), x, y)
    with pytest.raises(ValueError, match="lam"):
        probing.ridge_probe_accuracy(x, y, x, y, lam=0.0)
    with pytest.raises(ValueError, match="targets_train"):
        probing.ridge_probe_r2(x, y.double(), x, x)
    with pytest.raises(ValueError, match="constant"):
        probing.ridge_probe_r2(x, x, x, torch.ones_like(x))
    net = models.MLP([3, 4, 2])
    with pytest.raises(ValueError, match="method"):
        probing.probe_layers(net, x, y, x, y, method="svm")
    with pytest.raises(TypeError, match="keep_states"):
        probing.LayerProbes(net, x, y, x, y, keep_states=1)
    with pytest.raises(ValueError, match="y_test"):
        probing.LayerProbes(net, x, y, x, y[:3])


@pytest.mark.parametrize("width", [5, 59, 60, 61, 150])
def test_ridge_scores_primal_and_dual_agree_with_reference(width):
    """The probe picks the primal (width < n) or the dual (width >= n) system; both give the same map."""
    n = 60
    a = torch.randn(n, width, generator=gen(11), dtype=torch.float64)
    b = torch.randn(25, width, generator=gen(12), dtype=torch.float64)
    t = torch.randn(n, 3, generator=gen(13), dtype=torch.float64)
    got = probing._ridge_scores([a], t, [b], 0.3)[0].numpy()
    np.testing.assert_allclose(got, slow_ridge_predict(a, t, b, 0.3), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("where", ["features_train[1]", "features_test[0]"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_ridge_names_a_non_finite_layer(where, value):
    """Finiteness is checked on the scores; the error still names the layer that holds the bad entry."""
    ftr = [
        torch.randn(40, 5, generator=gen(1), dtype=torch.float64),
        torch.randn(40, 60, generator=gen(2), dtype=torch.float64),
    ]
    fte = [
        torch.randn(30, 5, generator=gen(3), dtype=torch.float64),
        torch.randn(30, 60, generator=gen(4), dtype=torch.float64),
    ]
    (ftr if where.startswith("features_train") else fte)[int(where[-2])][7, 2] = value
    y, yt = torch.arange(40) % 3, torch.arange(30) % 3
    with pytest.raises(ValueError, match=re.escape(where) + " contains NaN"):
        probing.ridge_probe_accuracy(ftr, y, fte, yt)
    with pytest.raises(ValueError, match=re.escape(where) + " contains NaN"):
        probing.ridge_probe_r2(
            ftr, torch.randn(40, 2, dtype=torch.float64), fte, torch.randn(30, 2, dtype=torch.float64)
        )


# probes of one frozen representation --------------------------------------------------------------


def three_blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[4.0, 0, 0], [0, 4.0, 0], [0, 0, 4.0]])
    return centres[y] + rng.standard_normal((n, 3)), y


def test_probes_and_clustering_on_separable_blobs():
    x, y = three_blobs()
    xt, yt = three_blobs(seed=1)
    assert probing.linear_probe_accuracy(x, y, xt, yt) > 0.95
    assert probing.knn_accuracy(x, y, xt, yt, k=5) > 0.95
    assert probing.knn_accuracy(x, y, xt, yt, k=3, metric="euclidean") > 0.95
    assert probing.clustering_ari(x, y) > 0.9
    noise = np.random.default_rng(2).standard_normal((200, 3))
    assert probing.linear_probe_accuracy(noise, y, noise, yt) < 0.6


def test_knn_matches_slow_reference():
    x, y = three_blobs(60)
    xt, yt = three_blobs(30, seed=3)
    k = 5
    correct = 0
    for i in range(30):
        d = [np.sum((xt[i] - x[j]) ** 2) for j in range(60)]
        nn_idx = np.argsort(d)[:k]
        votes = np.bincount(y[nn_idx], minlength=3)
        tied = set(np.flatnonzero(votes == votes.max()))
        winner = next(c for c in y[nn_idx] if c in tied)  # a tie goes to the nearer neighbours' class
        correct += int(winner == yt[i])
    assert probing.knn_accuracy(x, y, xt, yt, k=k, metric="euclidean") == pytest.approx(correct / 30)


def test_probe_validation():
    x, y = three_blobs(20)
    with pytest.raises(ValueError, match="y_train must have length"):
        probing.linear_probe_accuracy(x, y[:5], x, y)
    with pytest.raises(ValueError, match="same number of features"):
        probing.linear_probe_accuracy(x, y, x[:, :2], y)
    with pytest.raises(ValueError, match="two classes"):
        probing.linear_probe_accuracy(x, np.zeros(20, int), x, y)
    with pytest.raises(TypeError, match="y_train must hold integer"):
        probing.linear_probe_accuracy(x, y + 0.5, x, y)
    with pytest.raises(ValueError, match="k must be <="):
        probing.knn_accuracy(x, y, x, y, k=100)
    with pytest.raises(ValueError, match="metric"):
        probing.knn_accuracy(x, y, x, y, metric="manhattan")
    with pytest.raises(ValueError, match="c must be"):
        probing.linear_probe_accuracy(x, y, x, y, c=0)
    with pytest.raises(ValueError, match="z_train contains NaN"):
        probing.linear_probe_accuracy(np.full((20, 3), np.nan), y, x, y)
