"""Effective rank against closed forms."""

import math

import numpy as np
import pytest

from sslbook import spectra


def test_effective_rank_closed_forms():
    assert spectra.effective_rank(np.eye(5)) == pytest.approx(5.0)
    assert spectra.effective_rank(np.outer(np.arange(1, 6), [1.0, 2.0, 0.5])) == pytest.approx(1.0)
    assert spectra.effective_rank(np.diag([1.0, 1.0, 0.0])) == pytest.approx(2.0)
    s = np.array([3.0, 1.0])
    p = s / s.sum()
    assert spectra.effective_rank(np.diag(s)) == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert spectra.effective_rank(np.zeros((4, 3))) == 0.0
    # complete collapse: every row the same vector -> rank one uncentred, zero centred
    z = np.tile([1.0, -2.0, 0.5], (10, 1))
    assert spectra.effective_rank(z) == pytest.approx(1.0)
    assert spectra.effective_rank(z, center=True) == 0.0
