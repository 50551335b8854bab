"""Tests of sslbook.data.image_views: vectorised image augmentations and known style transforms."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslbook.data import GaussianNoise, RandomAffine, RandomRotation, RandomShift, affine, style_copies


def _shift_ref(x, dx, dy):
    """Integer-pixel shift with zero fill (content moves right by dx, down by dy)."""
    out = torch.zeros_like(x)
    h = x.shape[-1]
    src_r = slice(max(0, -dy), h - max(0, dy))
    dst_r = slice(max(0, dy), h - max(0, -dy))
    src_c = slice(max(0, -dx), h - max(0, dx))
    dst_c = slice(max(0, dx), h - max(0, -dx))
    out[..., dst_r, dst_c] = x[..., src_r, src_c]
    return out


def _rotate_ref(img, degrees):
    """Slow reference: rotate one image counter-clockwise (as displayed) about its centre, bilinear."""
    h = img.shape[-1]
    a = math.radians(degrees)
    out = torch.zeros_like(img)
    c = (h - 1) / 2.0
    for r in range(h):
        for col in range(h):
            # output pixel (x right, y down) relative to centre; input = inverse rotation
            x, y = col - c, r - c
            xi = math.cos(a) * x - math.sin(a) * y + c
            yi = math.sin(a) * x + math.cos(a) * y + c
            x0, y0 = math.floor(xi), math.floor(yi)
            v = 0.0
            for yy, wy in ((y0, 1 - (yi - y0)), (y0 + 1, yi - y0)):
                for xx, wx in ((x0, 1 - (xi - x0)), (x0 + 1, xi - x0)):
                    if 0 <= yy < h and 0 <= xx < h:
                        v += wy * wx * float(img[yy, xx])
            out[r, col] = v
    return out


def test_identity_and_layouts():
    x = torch.rand(4, 8, 8)
    torch.testing.assert_close(affine(x), x)
    torch.testing.assert_close(affine(x[:, None], angle=10.0)[:, 0], affine(x, angle=10.0))


def test_rotation_by_90_is_rot90_counter_clockwise():
    x = torch.rand(3, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(affine(x, angle=90.0), torch.rot90(x, 1, dims=(-2, -1)))
    torch.testing.assert_close(affine(x, angle=-90.0), torch.rot90(x, -1, dims=(-2, -1)))
    # np.rot90 (counter-clockwise as displayed) agrees
    np.testing.assert_allclose(affine(x, angle=90.0)[0].numpy(), np.rot90(x[0].numpy()), atol=1e-12)


def test_small_rotation_matches_slow_bilinear_reference():
    x = torch.rand(2, 7, 7, dtype=torch.float64)
    out = affine(x, angle=torch.tensor([17.0, -31.0]))
    for i, deg in enumerate((17.0, -31.0)):
        torch.testing.assert_close(out[i], _rotate_ref(x[i], deg), atol=1e-10, rtol=0)


@pytest.mark.parametrize("dx, dy", [(1, 0), (0, 2), (-2, 1), (3, -3)])
def test_integer_shift_is_exact(dx, dy):
    x = torch.rand(5, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(affine(x, shift=(dx / 8, dy / 8)), _shift_ref(x, dx, dy))


def test_per_image_parameters_match_one_by_one():
    x = torch.rand(6, 10, 10)
    ang = torch.linspace(-30, 30, 6)
    sh = torch.rand(6, 2) * 0.3 - 0.15
    sc = torch.linspace(0.9, 1.1, 6)
    batch = affine(x, angle=ang, shift=sh, scale=sc)
    for i in range(6):
        one = affine(x[i : i + 1], angle=float(ang[i]), shift=(float(sh[i, 0]), float(sh[i, 1])), scale=float(sc[i]))
        torch.testing.assert_close(batch[i : i + 1], one)


def test_scale_enlarges_about_centre():
    x = torch.zeros(1, 9, 9, dtype=torch.float64)
    x[0, 4, 4] = 1.0  # the centre pixel stays put
    out = affine(x, scale=2.0)
    assert float(out[0, 4, 4]) == pytest.approx(1.0)
    # zoom by 2 spreads the centre pixel mass: total grows like scale^2 (up to interpolation)
    assert float(out.sum()) > 1.5


def test_random_augmentations_are_reproducible_and_keep_shape():
    x = torch.rand(8, 1, 8, 8)
    for aug in (RandomRotation(20), RandomShift(0.1), RandomAffine(), GaussianNoise(0.1, clip=(0, 1))):
        a = aug(x, generator=torch.Generator().manual_seed(5))
        b = aug(x, generator=torch.Generator().manual_seed(5))
        c = aug(x, generator=torch.Generator().manual_seed(6))
        assert a.shape == x.shape
        torch.testing.assert_close(a, b)
        assert not torch.equal(a, c)


def test_zero_strength_is_identity():
    x = torch.rand(4, 8, 8)
    torch.testing.assert_close(RandomRotation(0)(x), x)
    torch.testing.assert_close(RandomShift(0)(x), x)
    torch.testing.assert_close(RandomAffine(0, 0, (1.0, 1.0))(x), x)
    torch.testing.assert_close(GaussianNoise(0, clip=(0, 1))(x), x)


def test_random_affine_parameters_in_range():
    p = RandomAffine(25, 0.1, (0.8, 1.2)).parameters(2000, torch.Generator().manual_seed(0))
    assert p["angle"].shape == (2000,) and p["shift"].shape == (2000, 2) and p["scale"].shape == (2000,)
    assert float(p["angle"].abs().max()) <= 25 and float(p["angle"].abs().max()) > 24
    assert float(p["shift"].abs().max()) <= 0.1
    assert 0.8 <= float(p["scale"].min()) and float(p["scale"].max()) <= 1.2
    # RandomAffine applies exactly those parameters
    x = torch.rand(5, 8, 8)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    aug = RandomAffine()
    torch.testing.assert_close(aug(x, generator=g1), affine(x, **aug.parameters(5, g2)))


def test_gaussian_noise_clips_pixels():
    x = torch.rand(100, 8, 8)
    y = GaussianNoise(0.5, clip=(0, 1))(x, generator=torch.Generator().manual_seed(0))
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    z = GaussianNoise(0.5)(x, generator=torch.Generator().manual_seed(0))
    assert float(z.min()) < 0.0
    assert float((z - x).std()) == pytest.approx(0.5, rel=0.05)


def test_style_copies_rotation_and_shift():
    x = torch.rand(4, 8, 8)
    imgs, style, src = style_copies(x, "rotation", (-25, 0, 25))
    assert imgs.shape == (12, 8, 8)
    assert style.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert src.tolist() == [0, 1, 2, 3] * 3
    torch.testing.assert_close(imgs[4:8], x)
    torch.testing.assert_close(imgs[8:], affine(x, angle=25.0))
    imgs, style, src = style_copies(x[:, None], "shift_x", (-0.125, 0.125))
    torch.testing.assert_close(imgs[:4, 0], _shift_ref(x, -1, 0))
    imgs, _, _ = style_copies(x, "shift_y", [0.25, 0.0])
    torch.testing.assert_close(imgs[:4], _shift_ref(x, 0, 2))


def test_no_python_loop_scales():
    # a large batch goes through one grid_sample call: same result as the functional reference
    x = torch.rand(512, 8, 8)
    ang = torch.rand(512) * 60 - 30
    a = torch.deg2rad(ang)
    theta = torch.zeros(512, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = a.cos(), -a.sin(), a.sin(), a.cos()
    grid = F.affine_grid(theta, [512, 1, 8, 8], align_corners=False)
    ref = F.grid_sample(x[:, None], grid, align_corners=False)[:, 0]
    torch.testing.assert_close(affine(x, angle=ang), ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "call, err",
    [
        (lambda: affine(np.zeros((2, 8, 8))), TypeError),
        (lambda: affine(torch.zeros(2, 8, 7)), ValueError),
        (lambda: affine(torch.zeros(2, 3, 8, 8)), ValueError),
        (lambda: affine(torch.zeros(64)), ValueError),
        (lambda: affine(torch.zeros(2, 8, 8, dtype=torch.int64)), TypeError),
        (lambda: affine(torch.zeros(2, 8, 8), angle=torch.zeros(3)), ValueError),
        (lambda: affine(torch.zeros(2, 8, 8), angle="10"), TypeError),
        (lambda: affine(torch.zeros(2, 8, 8), angle=float("nan")), ValueError),
        (lambda: affine(torch.zeros(2, 8, 8), shift=(0.1, 0.2, 0.3)), TypeError),
        (lambda: affine(torch.zeros(2, 8, 8), shift=torch.zeros(2, 3)), ValueError),
        (lambda: affine(torch.zeros(2, 8, 8), scale=0.0), ValueError),
        (lambda: RandomRotation(-1), ValueError),
        (lambda: RandomRotation(200), ValueError),
        (lambda: RandomShift(1.0), ValueError),
        (lambda: RandomShift("a"), TypeError),
        (lambda: RandomAffine(scale=(1.2, 0.8)), ValueError),
        (lambda: RandomAffine(scale=1.0), TypeError),
        (lambda: RandomAffine(scale=(0.0, 1.0)), ValueError),
        (lambda: RandomAffine().parameters(0), ValueError),
        (lambda: GaussianNoise(-0.1, clip=(0, 1)), ValueError),
        (lambda: GaussianNoise(0.1, clip=1), TypeError),
        (lambda: GaussianNoise(0.1, clip=(1, 0)), ValueError),
        (lambda: style_copies(torch.zeros(2, 8, 8), "scale", (1, 2)), ValueError),
        (lambda: style_copies(torch.zeros(2, 8, 8), "rotation", (1,)), ValueError),
        (lambda: style_copies(torch.zeros(2, 8, 8), "rotation", (1, 1)), ValueError),
        (lambda: style_copies(torch.zeros(2, 8, 8), "rotation", "12"), ValueError),
    ],
)
def test_validation(call, err):
    with pytest.raises(err):
        call()
