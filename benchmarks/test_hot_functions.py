"""Hot functions of ``sslbook`` at the sizes the chapters use, timed with pytest-benchmark.

Outside the default test paths: ``python -m pytest benchmarks/ -o addopts="" -p no:xdist``
(``--benchmark-compare`` against a saved run: see pytest-benchmark's documentation). Each test
also checks the result against a plain formula, so a benchmark never times a wrong number.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslbook import coding_rate, config, losses, probing, subspaces

config.set_threads(1)
G = torch.Generator().manual_seed(0)


def _views(n: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    z1 = torch.randn(n, k, generator=G)
    return z1, z1 + 0.3 * torch.randn(n, k, generator=G)


@pytest.mark.parametrize("n,k", [(256, 8), (512, 32)])
def test_info_nce(benchmark, n, k):
    z1, z2 = _views(n, k)
    out = benchmark(losses.info_nce, z1, z2, 0.5)
    logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / 0.5
    assert torch.allclose(out, F.cross_entropy(logits, torch.arange(n)), rtol=1e-5)


@pytest.mark.parametrize("n,k", [(256, 8), (512, 32)])
def test_barlow_twins(benchmark, n, k):
    z1, z2 = _views(n, k)
    assert math.isfinite(float(benchmark(losses.barlow_twins, z1, z2)))


@pytest.mark.parametrize("n,k", [(256, 8), (512, 32)])
def test_vicreg(benchmark, n, k):
    z1, z2 = _views(n, k)
    assert math.isfinite(float(benchmark(losses.vicreg, z1, z2)))


@pytest.mark.parametrize("n,k", [(200, 128), (1000, 128)])
def test_coding_rate(benchmark, n, k):
    z = torch.randn(n, k, generator=G, dtype=torch.float64)
    out = benchmark(coding_rate.coding_rate, z, 0.5)
    ref = 0.5 * torch.logdet(torch.eye(k, dtype=torch.float64) + k / (n * 0.25) * z.T @ z)
    assert torch.allclose(out, ref, rtol=1e-8)


@pytest.mark.parametrize("d,p", [(64, 8), (1024, 64)])
def test_principal_angles(benchmark, d, p):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((d, p)), rng.standard_normal((d, p))
    angles = benchmark(subspaces.principal_angles, a, b)
    qa, qb = np.linalg.qr(a)[0], np.linalg.qr(b)[0]
    ref = np.arccos(np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1, 1))
    assert np.allclose(np.sort(angles), np.sort(ref), atol=1e-8)


def test_knn(benchmark):
    z, y = torch.randn(1200, 32, generator=G), torch.arange(1200) % 10
    acc = benchmark(probing.knn_accuracy, z[:600], y[:600], z[600:], y[600:])
    assert 0.0 <= acc <= 1.0


def test_ridge_probe(benchmark):
    feats = [torch.randn(400, 128, generator=G) for _ in range(6)]
    y = torch.arange(400) % 4
    acc = benchmark(probing.ridge_probe_accuracy, [f[:200] for f in feats], y[:200], [f[200:] for f in feats], y[200:])
    assert len(acc) == 6
