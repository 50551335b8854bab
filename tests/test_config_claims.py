"""config (environment, seeding, device) and claims (check, record, display, validation)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from sslbook import claims, config


def test_seed_and_scale_from_environment(monkeypatch):
    monkeypatch.delenv("SSLBOOK_SEED", raising=False)
    monkeypatch.delenv("SSLBOOK_SCALE", raising=False)
    assert config.seed() == 0 and config.scale() == "book"
    monkeypatch.setenv("SSLBOOK_SEED", "17")
    monkeypatch.setenv("SSLBOOK_SCALE", "PAPER")
    assert config.seed() == 17 and config.scale() == "paper"
    monkeypatch.setenv("SSLBOOK_SEED", "-1")
    with pytest.raises(ValueError, match="SSLBOOK_SEED"):
        config.seed()
    monkeypatch.setenv("SSLBOOK_SEED", "abc")
    with pytest.raises(ValueError, match="SSLBOOK_SEED"):
        config.seed()
    monkeypatch.setenv("SSLBOOK_SCALE", "huge")
    with pytest.raises(ValueError, match="SSLBOOK_SCALE"):
        config.scale()


def test_setup_seeds_everything_and_picks(monkeypatch, capsys):
    monkeypatch.setenv("SSLBOOK_SEED", "3")
    monkeypatch.delenv("SSLBOOK_SCALE", raising=False)
    old = torch.get_num_threads()
    try:
        cfg = config.setup()
        a = torch.randn(3), np.random.rand(2)
        cfg2 = config.setup(quiet=True)
        b = torch.randn(3), np.random.rand(2)
        assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert cfg == cfg2 and cfg.seed == 3 and not cfg.paper and cfg.threads == 1
        assert cfg.pick(book=1, paper=2) == 1
        assert torch.equal(torch.randn(2, generator=cfg.generator(5)), torch.randn(2, generator=cfg.generator(5)))
        assert cfg.rng(1).integers(100) == np.random.default_rng(4).integers(100)
        assert "seed=3" in capsys.readouterr().out
    finally:
        torch.set_num_threads(old)


def test_device_and_threads(monkeypatch):
    monkeypatch.delenv("SSLBOOK_DEVICE", raising=False)
    assert config.device().type in ("cpu", "cuda")
    monkeypatch.setenv("SSLBOOK_DEVICE", "cpu")
    assert config.device().type == "cpu"
    monkeypatch.setenv("SSLBOOK_DEVICE", "tpu")
    with pytest.raises(ValueError, match="SSLBOOK_DEVICE"):
        config.device()
    old = torch.get_num_threads()
    try:
        with pytest.raises(ValueError, match="n must be a positive integer"):
            config.set_threads(0)
        monkeypatch.setenv("SSLBOOK_THREADS", "x")
        with pytest.raises(ValueError, match="SSLBOOK_THREADS"):
            config.set_threads()
    finally:
        torch.set_num_threads(old)
    with pytest.raises(ValueError, match="value"):
        config.seed_everything(-2)


def test_claim_records_and_raises(monkeypatch, tmp_path):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("SSLBOOK_CLAIMS_LOG", str(log))
    monkeypatch.setenv("SSLBOOK_SEED", "2")
    claims.clear()
    r = claims.claim(
        "rank stays high", torch.tensor(7.5), ">=", 6, quantity="effective rank", key="rank", kind="theorem"
    )
    assert r.passed and r.seed == 2 and r.value == 7.5 and "PASS" in r.describe() and "✔" in r.markdown()
    assert r.kind == "theorem" and r.margin == 1.5 and r.control_value is None
    claims.claim("in range", np.float64(0.5), "in", (0.0, 1.0), quantity="x", key="range", kind="identity")
    with pytest.raises(claims.ClaimFailed, match="FAIL.*too small"):
        claims.claim("too small", 1.0, "<", 0.5, quantity="y", key="small", kind="identity")
    recs = claims.records()
    assert [x.key for x in recs] == ["rank", "range", "small"]
    assert [x.passed for x in recs] == [True, True, False]
    assert recs[1].source == "precision" and recs[1].margin == 0.5
    lines = [json.loads(s) for s in log.read_text().splitlines()]
    assert lines[2]["key"] == "small" and lines[2]["passed"] is False and lines[2]["kind"] == "identity"
    claims.clear()
    assert claims.records() == []


def _repro(value, control, **kw):
    return claims.claim(
        "trained beats init",
        value,
        ">",
        0.5,
        quantity="acc",
        key="r",
        kind="reproduction",
        control=claims.Control(control, "at initialisation"),
        source="text: the text asks 0.5",
        **kw,
    )


def test_a_reproduction_holds_only_when_its_control_fails():
    r = _repro(0.9, 0.2, budgets={"SSL": "100 steps", "SL": "100 steps"})
    assert r.passed and r.control_passed is False and r.control_value == 0.2 and r.budgets["SL"] == "100 steps"
    assert claims.check_record(dataclasses.asdict(r)) == []
    with pytest.raises(
        claims.ClaimFailed, match=r"'r'.*control \(at initialisation\) = 0.8 also meets > 0.5.*measured 0.9"
    ):
        _repro(0.9, 0.8)
    bad = claims.records()[-1]
    assert not bad.passed and bad.control_passed
    assert any("also meets" in p for p in claims.check_record(dataclasses.asdict(bad)))
    with pytest.raises(claims.ClaimFailed):  # the value fails, the control too
        _repro(0.1, 0.2)


def test_claim_kinds_controls_and_sources_are_validated():
    base = dict(quantity="q", key="k")
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'kind'"):
        claims.claim("s", 1.0, ">", 0.0, **base)
    with pytest.raises(ValueError, match="kind must be one of"):
        claims.claim("s", 1.0, ">", 0.0, kind="guess", **base)
    with pytest.raises(TypeError, match="kind must be a string"):
        claims.claim("s", 1.0, ">", 0.0, kind=1, **base)
    with pytest.raises(ValueError, match="control is required"):
        claims.claim("s", 1.0, ">", 0.0, kind="reproduction", source="text: x", **base)
    with pytest.raises(TypeError, match="control must be a sslbook.claims.Control"):
        claims.claim("s", 1.0, ">", 0.0, kind="reproduction", control=0.1, source="text: x", **base)
    with pytest.raises(ValueError, match="control.value is NaN"):
        claims.claim(
            "s", 1.0, ">", 0.0, kind="reproduction", control=claims.Control(float("nan"), "c"), source="text: x", **base
        )
    with pytest.raises(ValueError, match="control.what"):
        claims.claim("s", 1.0, ">", 0.0, kind="reproduction", control=claims.Control(-1.0, " "), source="text", **base)
    with pytest.raises(ValueError, match="source is required"):
        claims.claim("s", 1.0, ">", 0.0, kind="reproduction", control=claims.Control(-1.0, "c"), **base)
    with pytest.raises(ValueError, match="source must start with one of"):
        claims.claim("s", 1.0, ">", 0.0, kind="reproduction", control=claims.Control(-1.0, "c"), source="gut", **base)
    with pytest.raises(TypeError, match="budgets must be a mapping"):
        claims.claim("s", 1.0, ">", 0.0, kind="theorem", budgets=["a"], **base)
    with pytest.raises(ValueError, match="value is NaN"):
        claims.claim("s", float("nan"), "<", 1.0, kind="identity", **base)
    assert claims.check_record({"key": "x", "value": 1.0, "op": ">", "threshold": 0.0, "passed": True}) == [
        "claim 'x': kind None is not one of ('identity', 'theorem', 'reproduction', 'breakdown')"
    ]
    assert "a reproduction without a control" in " ".join(
        claims.check_record(
            {
                "key": "x",
                "kind": "reproduction",
                "value": 1.0,
                "op": ">",
                "threshold": 0.0,
                "passed": True,
                "source": "t",
            }
        )
    )


@pytest.mark.parametrize(
    "op,thr,value,ok",
    [("<", 1, 0.5, True), ("<=", 1, 1, True), (">", 1, 1, False), (">=", 1, 1, True), ("in", (0, 1), 1.5, False)],
)
def test_claim_operators(op, thr, value, ok):
    if ok:
        assert claims.claim("s", value, op, thr, quantity="q", key="k", kind="identity").passed
    else:
        with pytest.raises(claims.ClaimFailed):
            claims.claim("s", value, op, thr, quantity="q", key="k", kind="identity")
    assert claims.holds(value, op, thr) is ok and (claims.margin(value, op, thr) >= 0) is (ok or op == ">")


def test_claim_validation():
    k = dict(quantity="q", key="k", kind="identity")
    with pytest.raises(ValueError, match="op"):
        claims.claim("s", 1.0, "==", 1.0, **k)
    with pytest.raises(TypeError, match="value"):
        claims.claim("s", "1.0", ">", 0.0, **k)
    with pytest.raises(ValueError, match="value must be a scalar"):
        claims.claim("s", torch.ones(2), ">", 0.0, **k)
    with pytest.raises(ValueError, match="threshold must be a \\(low, high\\)"):
        claims.claim("s", 1.0, "in", 1.0, **k)
    with pytest.raises(ValueError, match="low <= high"):
        claims.claim("s", 1.0, "in", (2.0, 1.0), **k)
    with pytest.raises(ValueError, match="statement"):
        claims.claim(" ", 1.0, ">", 0.0, **k)
    with pytest.raises(TypeError, match="key"):
        claims.claim("s", 1.0, ">", 0.0, quantity="q", key=3, kind="identity")
    with pytest.raises(TypeError, match="extra"):
        claims.claim("s", 1.0, ">", 0.0, extra={"a": object()}, **k)
    with pytest.raises(ValueError, match="NaN"):
        claims.claim("s", 1.0, ">", float("nan"), **k)


def test_progress_is_plain_at_book_scale_and_a_bar_at_paper_scale(monkeypatch):
    from sslbook import config

    monkeypatch.setenv("SSLBOOK_SCALE", "book")
    assert config.progress(3) == range(3)
    items = ["a", "b"]
    assert config.progress(items) is items
    monkeypatch.setenv("SSLBOOK_SCALE", "paper")
    bar = config.progress(4, "steps")
    assert list(bar) == [0, 1, 2, 3] and hasattr(bar, "n")  # a tqdm object
    assert config.progress(4, enable=False) == range(4)


def test_progress_rejects_bad_steps():
    from sslbook import config

    with pytest.raises(ValueError, match="steps"):
        config.progress(-1)
    with pytest.raises(TypeError, match="steps"):
        config.progress(True)
    with pytest.raises(TypeError, match="steps"):
        config.progress(2.5)
