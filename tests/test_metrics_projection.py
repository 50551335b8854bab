"""Tests of sslbook.metrics.projection_length (Yang et al.'s P(e_j))."""

import numpy as np
import pytest
import torch

from sslbook.metrics import projection_length


def slow_projection(a, v):
    """The paper's formula: ||A (A^T A)^{-1} A^T v|| / ||v|| (full column rank A)."""
    p = a @ np.linalg.inv(a.T @ a) @ a.T
    return np.linalg.norm(p @ v) / np.linalg.norm(v)


def test_matches_the_projector_formula_on_random_inputs():
    rng = np.random.default_rng(0)
    for _ in range(20):
        d, p = rng.integers(3, 9), rng.integers(1, 3)
        a = rng.normal(size=(d, p))
        v = rng.normal(size=d)
        assert np.isclose(projection_length(a, v), slow_projection(a, v), atol=1e-12)


def test_basis_vectors_in_and_out_of_the_span():
    a = np.zeros((10, 2))
    a[:2] = [[3.8, -3.8], [1.5, 1.5]]
    out = projection_length(a, np.eye(10))
    assert out.shape == (10,)
    assert np.allclose(out[:2], 1.0) and np.allclose(out[2:], 0.0)


def test_cosine_of_the_angle_and_scale_invariance():
    a = np.array([[1.0], [0.0]])
    t = 0.3
    v = np.array([np.cos(t), np.sin(t)])
    assert np.isclose(projection_length(a, v), np.cos(t))
    assert np.isclose(projection_length(1e-4 * a, 5 * v), np.cos(t))  # ignores the scale of both


def test_stacked_bases_and_several_directions():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 6, 2))
    v = rng.normal(size=(6, 3))
    out = projection_length(a, v)
    assert out.shape == (4, 3)
    for r in range(4):
        for q in range(3):
            assert np.isclose(out[r, q], slow_projection(a[r], v[:, q]))
    assert projection_length(a, v[:, 0]).shape == (4,)
    assert projection_length(torch.tensor(a), torch.tensor(v)).shape == (4, 3)  # tensors accepted


def test_rank_deficient_basis_uses_its_numerical_span():
    w = np.array([2.6, 0.0, 0.0])
    a = np.stack([w, -w], axis=1)  # the SL minimum: w2 = -w1
    assert np.isclose(projection_length(a, np.array([1.0, 0.0, 0.0])), 1.0)
    assert np.isclose(projection_length(a, np.array([0.0, 1.0, 0.0])), 0.0)


@pytest.mark.parametrize(
    "basis, directions, err",
    [
        (np.zeros((3, 2)), np.ones(3), ValueError),  # all-zero basis
        (np.ones((3, 2)), np.zeros(3), ValueError),  # zero direction
        (np.ones((3, 2)), np.ones(4), ValueError),  # dimension mismatch
        (np.ones(3), np.ones(3), ValueError),  # basis must be 2-D or 3-D
        (np.ones((3, 2)), np.ones((3, 2, 1)), ValueError),  # directions 1-D or 2-D
        ("basis", np.ones(3), TypeError),
        (np.full((3, 2), np.nan), np.ones(3), ValueError),
    ],
)
def test_validation(basis, directions, err):
    with pytest.raises(err):
        projection_length(basis, directions)


def test_rtol_validation():
    with pytest.raises(ValueError):
        projection_length(np.ones((3, 1)), np.ones(3), rtol=0.0)
