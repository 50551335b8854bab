"""Models (shapes, blocks, validation) and the training loop (history, monitors, validation)."""

import numpy as np
import pytest
import torch

from sslbook import losses, models, train


def test_linear_encoder():
    enc = models.LinearEncoder(5, 3, init_std=0.1)
    assert enc(torch.randn(4, 5)).shape == (4, 3) and enc.weight.shape == (3, 5)
    with pytest.raises(ValueError, match="x must have 5 features"):
        enc(torch.randn(4, 6))
    with pytest.raises(ValueError, match="d_out"):
        models.LinearEncoder(5, 0)
    with pytest.raises(ValueError, match="init_std"):
        models.LinearEncoder(5, 2, init_std=-1.0)


def test_mlp_blocks_and_features():
    mlp = models.MLP([4, 8, 8, 2], activation="relu", batch_norm=True)
    x = torch.randn(10, 4)
    feats = mlp.features(x)
    assert [f.shape[1] for f in feats] == [8, 8, 2]
    assert torch.allclose(feats[-1], mlp(x))
    assert isinstance(mlp.layers[0][1], torch.nn.BatchNorm1d) and isinstance(mlp.layers[-1][-1], torch.nn.Linear)
    assert (mlp.features(x)[0] >= 0).all()  # ReLU after hidden blocks
    last = models.MLP([4, 3], activation="sigmoid", last_activation=True)
    assert ((last(x) > 0) & (last(x) < 1)).all()
    head = models.projection_head(8, 16, 4)
    assert head(torch.randn(5, 8)).shape == (5, 4)


def test_mlp_validation():
    with pytest.raises(ValueError, match="at least an input and an output"):
        models.MLP([4])
    with pytest.raises(TypeError, match="widths must be a sequence"):
        models.MLP(4)
    with pytest.raises(ValueError, match="widths\\[1\\]"):
        models.MLP([4, 0, 2])
    with pytest.raises(ValueError, match="activation"):
        models.MLP([4, 2], activation="swish")
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        models.MLP([4, 2])(torch.randn(4))


def test_encoders_take_a_generator_for_their_initialisation():
    """A generator gives PyTorch's default (or init_std) initialisation, the global RNG untouched."""
    state = torch.get_rng_state()
    a = models.MLP([5, 7, 3], batch_norm=True, generator=torch.Generator().manual_seed(3))
    e = models.LinearEncoder(4, 2, init_std=0.1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(state, torch.get_rng_state())
    torch.manual_seed(3)
    b = models.MLP([5, 7, 3], batch_norm=True)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    f = models.LinearEncoder(4, 2, init_std=0.1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(e.weight, f.weight) and e.weight.requires_grad
    torch.manual_seed(5)
    g = models.LinearEncoder(4, 2, bias=True, generator=None)
    torch.manual_seed(5)
    ref = torch.nn.Linear(4, 2)
    assert torch.equal(g.linear.weight, ref.weight) and torch.equal(g.linear.bias, ref.bias)
    with pytest.raises(TypeError, match="generator"):
        models.MLP([2, 2], generator=0)
    with pytest.raises(TypeError, match="generator"):
        models.LinearEncoder(2, 2, generator="cpu")


def test_fit_lowers_a_loss_and_records_history():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 6, generator=g)
    enc = models.LinearEncoder(6, 4, init_std=0.3)
    batches = train.minibatches(128, 32, generator=g)

    def step(t):
        idx = next(batches)
        xb = x[idx]
        return losses.info_nce_terms(
            enc(xb + 0.1 * torch.randn(xb.shape, generator=g)),
            enc(xb + 0.1 * torch.randn(xb.shape, generator=g)),
            temperature=0.5,
        )

    calls = []
    fixed = 0.1 * torch.randn(x.shape, generator=g)
    full = lambda: losses.info_nce(enc(x), enc(x + fixed), temperature=0.5)  # noqa: E731
    hist = train.fit(
        step,
        enc.parameters(),
        steps=60,
        lr=0.1,
        monitor={"norm": lambda: enc.weight.norm(), "full": full},
        every=20,
        after_step=calls.append,
    )
    assert calls == list(range(60))
    assert list(hist.steps("loss")) == [0, 20, 40, 59]
    assert list(hist.steps("norm")) == [0, 20, 40, 60]
    assert hist["full"][-1] < hist["full"][0]
    assert set(hist.keys()) == {"norm", "full", "loss", "positive", "log_partition"} and "loss" in hist
    with pytest.raises(KeyError, match="nothing recorded"):
        hist["accuracy"]


@pytest.mark.parametrize("opt", ["sgd", "adam", "adamw"])
def test_fit_optimizers(opt):
    w = torch.nn.Parameter(torch.tensor([3.0]))
    hist = train.fit(lambda t: (w - 1).pow(2).sum(), [w], steps=200, lr=0.05, optimizer=opt)
    assert abs(w.item() - 1) < 0.5 and len(hist["loss"]) == 200


def test_fit_validation():
    w = torch.nn.Parameter(torch.ones(1))
    ok = lambda t: w.sum() ** 2  # noqa: E731
    with pytest.raises(ValueError, match="steps"):
        train.fit(ok, [w], steps=0, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        train.fit(ok, [w], steps=1, lr=-1)
    with pytest.raises(ValueError, match="optimizer"):
        train.fit(ok, [w], steps=1, lr=0.1, optimizer="lbfgs")
    with pytest.raises(ValueError, match="parameters is empty"):
        train.fit(ok, [], steps=1, lr=0.1)
    with pytest.raises(TypeError, match="step must be callable"):
        train.fit(3, [w], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="'loss' entry"):
        train.fit(lambda t: {"l": w.sum()}, [w], steps=1, lr=0.1)
    with pytest.raises(TypeError, match="scalar tensor"):
        train.fit(lambda t: w * torch.ones(2), [w], steps=1, lr=0.1)
    with pytest.raises(FloatingPointError, match="step 0"):
        train.fit(lambda t: w.sum() * float("nan"), [w], steps=1, lr=0.1)
    with pytest.raises(TypeError, match="monitor"):
        train.fit(ok, [w], steps=1, lr=0.1, monitor={"m": 3})
    with pytest.raises(TypeError, match="monitor 'm' must return a number"):
        train.fit(ok, [w], steps=1, lr=0.1, monitor={"m": lambda: "x"})


def test_fit_scheduler_and_a_built_optimizer():
    """A schedule is stepped once per step; None (the default) leaves the run unchanged; a built
    optimiser keeps its state across calls."""
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))

    def run(**kw):
        w = torch.nn.Parameter(torch.ones(3))
        hist = train.fit(lambda t: ((x @ w) ** 2).mean(), [w], 10, 0.05, **kw)
        return w.detach(), hist

    w0, h0 = run()
    w1, h1 = run(scheduler=None)
    assert torch.equal(w0, w1) and np.array_equal(h0["loss"], h1["loss"])
    seen = []

    def decay(opt):
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        seen.append(sched)
        return sched

    w2, _ = run(scheduler=decay)
    assert seen[0].last_epoch == 10 and np.isclose(seen[0].get_last_lr()[0], 0.05 * 0.5**10)
    assert not torch.equal(w0, w2)
    # the same schedule by hand
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.05)
    for _t in range(10):
        opt.zero_grad()
        ((x @ w) ** 2).mean().backward()
        opt.step()
        for g in opt.param_groups:
            g["lr"] *= 0.5
    assert torch.allclose(w.detach(), w2)
    with pytest.raises(TypeError, match="scheduler"):
        run(scheduler=3)
    with pytest.raises(TypeError, match="LRScheduler"):
        run(scheduler=lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt))
    # a built optimiser: two calls of 5 steps equal one call of 10 (Adam's state is kept)
    ws = [torch.nn.Parameter(torch.ones(3)) for _ in range(2)]
    opt_a = train.make_optimizer("adam", [ws[0]], 0.05)
    train.fit(lambda t: ((x @ ws[0]) ** 2).mean(), [ws[0]], 5, None, optimizer=opt_a)
    train.fit(lambda t: ((x @ ws[0]) ** 2).mean(), [ws[0]], 5, None, optimizer=opt_a)
    train.fit(lambda t: ((x @ ws[1]) ** 2).mean(), [ws[1]], 10, 0.05, optimizer="adam")
    assert torch.equal(ws[0].detach(), ws[1].detach())
    with pytest.raises(ValueError, match="lr None"):
        train.fit(lambda t: ((x @ ws[0]) ** 2).mean(), [ws[0]], 1, 0.05, optimizer=opt_a)
    with pytest.raises(ValueError, match="exactly the parameters"):
        train.fit(lambda t: ((x @ ws[1]) ** 2).mean(), [ws[1]], 1, None, optimizer=opt_a)
    with pytest.raises(TypeError, match="lr"):
        train.fit(lambda t: ((x @ ws[1]) ** 2).mean(), [ws[1]], 1, None)


def test_minibatches_cover_each_epoch():
    it = train.minibatches(10, 5, generator=torch.Generator().manual_seed(0))
    a, b = next(it), next(it)
    assert sorted(torch.cat([a, b]).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="batch_size"):
        next(train.minibatches(10, 11))
    assert np.all(np.diff(sorted(next(train.minibatches(3, 3)).tolist())) == 1)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_make_optimizer_fused_matches_the_loop_implementation(name):
    from sslbook.train import make_optimizer

    torch.manual_seed(0)
    w0 = torch.randn(5, 3, dtype=torch.float64)
    x = torch.randn(20, 5, dtype=torch.float64)
    finals = []
    for fused in (True, False):
        w = torch.nn.Parameter(w0.clone())
        opt = make_optimizer(name, [w], lr=0.05, weight_decay=0.01)
        if not fused:
            cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
            opt = cls([w], lr=0.05, weight_decay=0.01, foreach=False)
        else:
            assert opt.defaults["fused"]
        for _ in range(10):
            opt.zero_grad()
            (x @ w).pow(2).mean().backward()
            opt.step()
        finals.append(w.detach().clone())
    torch.testing.assert_close(finals[0], finals[1], rtol=1e-10, atol=1e-12)


def test_make_optimizer_validates():
    from sslbook.train import make_optimizer

    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("lbfgs", p, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        make_optimizer("adam", p, lr=-1.0)
    with pytest.raises(ValueError, match="empty"):
        make_optimizer("sgd", [], lr=0.1)
    assert isinstance(make_optimizer("sgd", p, lr=0.1, momentum=0.9), torch.optim.SGD)
