"""Wang and Isola's alignment and uniformity against slow references."""

import math

import pytest
import torch

from sslbook import hypersphere

D = torch.float64


def test_alignment_and_uniformity_references():
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(6, 3, generator=g, dtype=D)
    z2 = torch.randn(6, 3, generator=g, dtype=D)
    f1 = z1 / z1.norm(dim=1, keepdim=True)
    f2 = z2 / z2.norm(dim=1, keepdim=True)
    ref = sum(float((f1[i] - f2[i]).norm() ** 2) for i in range(6)) / 6
    assert hypersphere.wang_isola_alignment(z1, z2).item() == pytest.approx(ref)
    pairs = [(i, j) for i in range(6) for j in range(i + 1, 6)]
    ref_u = math.log(sum(math.exp(-2 * float((f1[i] - f1[j]).norm() ** 2)) for i, j in pairs) / len(pairs))
    assert hypersphere.wang_isola_uniformity(z1).item() == pytest.approx(ref_u)
    with pytest.raises(ValueError, match="two rows"):
        hypersphere.wang_isola_uniformity(z1[:1])
    with pytest.raises(ValueError, match="alpha"):
        hypersphere.wang_isola_alignment(z1, z2, alpha=0)
