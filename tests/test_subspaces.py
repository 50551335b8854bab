"""Principal angles, subspace distances and projection lengths (Yang et al.'s P(e_j)) against
built subspaces, closed forms and slow references; validation errors."""

import math

import numpy as np
import pytest
import torch

from sslbook import subspaces
from sslbook.subspaces import projection_length


def rotation_basis(d, angles, seed=0):
    """Two bases of R^d whose principal angles are exactly `angles`."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    p = len(angles)
    a = q[:, :p]
    b = np.cos(angles) * q[:, :p] + np.sin(angles) * q[:, p : 2 * p]
    return a, b


@pytest.mark.parametrize("angles", [[0.1, 0.4, 1.2], [1e-9, 1e-7, 1e-5], [0.0, math.pi / 2, 0.7]])
def test_principal_angles_of_built_subspaces(angles):
    a, b = rotation_basis(8, np.array(angles))
    got = subspaces.principal_angles(a @ np.diag([2.0, 0.5, 3.0]), b)  # non-orthonormal basis of the same span
    want = np.sort(angles)
    assert np.allclose(got, want, atol=1e-12, rtol=1e-6)


def test_principal_angles_different_dimensions_and_distances():
    a, b = rotation_basis(6, np.array([0.3, 0.9]))
    got = subspaces.principal_angles(a[:, :1], b)
    assert got.shape == (1,)
    assert subspaces.subspace_distance(a, b) == pytest.approx(math.sin(0.9))
    assert subspaces.subspace_distance(a, b, "projection") == pytest.approx(math.hypot(math.sin(0.3), math.sin(0.9)))
    assert subspaces.subspace_distance(a, b, "geodesic") == pytest.approx(math.hypot(0.3, 0.9))
    assert subspaces.subspace_distance(torch.tensor(a), torch.tensor(a)) == pytest.approx(0.0, abs=1e-12)


def test_principal_angles_validation():
    a = np.eye(4)[:, :2]
    with pytest.raises(ValueError, match="linearly dependent"):
        subspaces.principal_angles(np.ones((4, 2)), a)
    with pytest.raises(ValueError, match="ambient"):
        subspaces.principal_angles(a, np.eye(5)[:, :2])
    with pytest.raises(ValueError, match="b contains NaN"):
        subspaces.principal_angles(a, np.full((4, 2), np.nan))
    with pytest.raises(ValueError, match="kind"):
        subspaces.subspace_distance(a, a, kind="chordal")
    with pytest.raises(ValueError, match="a must have 2 dimensions"):
        subspaces.principal_angles(np.ones(4), a)


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
