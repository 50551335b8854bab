"""sslbook.objectives: each name dispatches to the package's loss with the documented defaults; the
adapter returns pairs of every generator; bad input raises TypeError/ValueError naming the argument."""

import pytest
import torch

from sslbook import data, losses, models, objectives

D = torch.float64


def views(n=8, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g, dtype=D), torch.randn(n, k, generator=g, dtype=D)


def test_names_partition_all():
    assert set(objectives.NAMES) | set(objectives.CONTROLS) == set(objectives.ALL)
    assert set(objectives.ALL) == set(objectives.DEFAULTS)


@pytest.mark.parametrize(
    "name, reference",
    [
        ("infonce", lambda a, b: losses.info_nce(a, b, temperature=0.2, similarity="cosine", symmetric=True)),
        ("spectral", losses.spectral_contrastive),
        ("barlow_twins", lambda a, b: losses.barlow_twins(a, b, lam=0.05)),
        ("vicreg", lambda a, b: losses.vicreg(a, b, 25.0, 25.0, 1.0, 1.0)),
        ("invariance", lambda a, b: ((a - b) ** 2).mean()),
        ("alignment", lambda a, b: -(a * b).sum(1).mean()),
    ],
)
def test_loss_matches_package_loss(name, reference):
    z1, z2 = views()
    assert objectives.loss(name, z1, z2).item() == pytest.approx(reference(z1, z2).item(), rel=1e-12)
    assert "loss" in objectives.loss_terms(name, z1, z2)


def test_params_override_defaults():
    z1, z2 = views()
    got = objectives.loss("infonce", z1, z2, temperature=1.0, similarity="dot")
    assert got.item() == pytest.approx(losses.info_nce(z1, z2, temperature=1.0, similarity="dot").item(), rel=1e-12)


def test_simsiam_uses_predictor_and_stops_gradient():
    z1, z2 = views()
    pred = objectives.predictor("simsiam", 3, dtype=D)
    assert torch.equal(pred.weight, torch.eye(3, dtype=D))
    a, b = z1.clone().requires_grad_(True), z2.clone()
    value = objectives.loss("simsiam", a, b, predictor=pred)
    assert value.item() == pytest.approx(losses.simsiam(z1, z2, z1, z2).item(), rel=1e-12)
    value.backward()
    assert a.grad is not None and pred.weight.grad is not None


def test_predictor_only_for_simsiam():
    assert objectives.needs_predictor("simsiam") and not objectives.needs_predictor("vicreg")
    assert objectives.predictor("vicreg", 3) is None
    torch.manual_seed(0)
    assert not torch.equal(objectives.predictor("simsiam", 3, init="random").weight, torch.eye(3))


def test_gradient_step_lowers_each_objective():
    torch.manual_seed(0)
    x = torch.randn(64, 5, dtype=D)
    for name in objectives.NAMES:
        enc = models.LinearEncoder(5, 3).to(D)
        pred = objectives.predictor(name, 3, dtype=D)
        params = [*enc.parameters(), *([] if pred is None else pred.parameters())]
        x1, x2 = x + 0.1 * torch.randn_like(x), x + 0.1 * torch.randn_like(x)
        before = objectives.loss(name, enc(x1), enc(x2), predictor=pred)
        grads = torch.autograd.grad(before, params)
        with torch.no_grad():
            for p, gr in zip(params, grads):
                p -= 1e-3 * gr
        after = objectives.loss(name, enc(x1), enc(x2), predictor=pred)
        if name != "simsiam":  # SimSiam's stop-gradient field is not the gradient of its loss
            assert after.item() < before.item(), name


@pytest.mark.parametrize(
    "bad, exc, word",
    [
        (dict(name=3), TypeError, "name"),
        (dict(name="simclr"), ValueError, "name"),
        (dict(z1=[[1.0]]), TypeError, "z1"),
        (dict(z2=torch.zeros(8, 2, dtype=D)), ValueError, "z1 and z2"),
        (dict(predictor="linear"), TypeError, "predictor"),
        (dict(name="simsiam"), ValueError, "predictor"),
        (dict(name="vicreg", predictor=torch.nn.Identity()), ValueError, "predictor"),
        (dict(name="infonce", temperature=-1.0), ValueError, "temperature"),
        (dict(name="spectral", temperature=1.0), ValueError, "temperature"),
    ],
)
def test_bad_input_names_argument(bad, exc, word):
    z1, z2 = views()
    kw = dict(name="infonce", z1=z1, z2=z2, predictor=None)
    kw.update(bad)
    name, a, b, pred = kw.pop("name"), kw.pop("z1"), kw.pop("z2"), kw.pop("predictor")
    with pytest.raises(exc, match=word):
        objectives.loss_terms(name, a, b, predictor=pred, **kw)


def test_predictor_validation():
    with pytest.raises(TypeError, match="k"):
        objectives.predictor("simsiam", 2.5)
    with pytest.raises(ValueError, match="k"):
        objectives.predictor("simsiam", 0)
    with pytest.raises(ValueError, match="init"):
        objectives.predictor("simsiam", 3, init="orthogonal")
    with pytest.raises(TypeError, match="dtype"):
        objectives.predictor("simsiam", 3, dtype=torch.int64)


def sources():
    g = torch.Generator().manual_seed(1)
    cov = data.spiked_covariance(6, n_spikes=1, spike_var=4.0, generator=g)
    return {
        "hidden": data.hidden_feature_data(n=20, d=4, generator=g),
        "mixture": data.SameComponentPairs(data.separated_means(3, 6, cov, generator=g), cov),
        "planted": data.planted_subspace_views(30, d=8, semantic_std=(2.0,), n_nuisance=2, generator=g),
        "causal": data.causal_data(30, k=3, d_signal=2, d_detail=2, d_style=2, generator=g),
    }


@pytest.mark.parametrize("kind", ["hidden", "mixture", "planted", "causal"])
def test_view_pair_every_generator(kind):
    src = sources()[kind]
    g = torch.Generator().manual_seed(2)
    x1, x2 = objectives.view_pair(src, n=10, generator=g)
    assert x1.shape == x2.shape and x1.shape[0] == 10 and not torch.equal(x1, x2)
    if kind != "mixture":
        full = objectives.view_pair(src, n=1000, generator=g)[0]
        assert full.shape[0] == src.n  # n >= source.n: the whole stored sample


def test_view_pair_same_seed_same_pairs_and_planted_rows_match():
    src = sources()["planted"]
    a = objectives.view_pair(src, n=5, generator=torch.Generator().manual_seed(3))
    b = objectives.view_pair(src, n=5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    i = int((src.x == a[0][0]).all(1).nonzero()[0])
    assert torch.equal(a[1][0], src.x_pos[i])  # the positive of the same anchor


def test_view_pair_validation():
    src = sources()
    with pytest.raises(TypeError, match="source"):
        objectives.view_pair(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="n"):
        objectives.view_pair(src["mixture"])
    with pytest.raises(ValueError, match="n"):
        objectives.view_pair(src["planted"], n=0)
    with pytest.raises(TypeError, match="n"):
        objectives.view_pair(src["planted"], n=2.0)
    with pytest.raises(TypeError, match="generator"):
        objectives.view_pair(src["planted"], generator=1)


def test_bad_input_found_by_fuzzing_is_refused_by_name():
    z1, z2 = views()
    with pytest.raises(TypeError, match="predictor"):  # float32 predictor, float64 views: raw torch error before
        objectives.loss("simsiam", z1, z2, predictor=objectives.predictor("simsiam", 3))
    with pytest.raises(ValueError, match="predictor"):  # wrong input size: raw RuntimeError before
        objectives.loss("simsiam", z1, z2, predictor=objectives.predictor("simsiam", 4, dtype=D))
    bad = z1.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="z1"):  # used to blame the predictions p1
        objectives.loss("simsiam", bad, z2, predictor=objectives.predictor("simsiam", 3, dtype=D))
    with pytest.raises(TypeError, match="dtype"):  # float16 predictor used to be accepted
        objectives.predictor("simsiam", 3, dtype=torch.float16)
    with pytest.raises(ValueError, match="k"):  # used to try to allocate 40 GB
        objectives.predictor("simsiam", 100_000)
    pairs = data.SameComponentPairs(torch.zeros(2, 3), 1.0)
    with pytest.raises(ValueError, match="n"):
        objectives.view_pair(pairs, n=2**40)
