"""Run-time settings shared by every chapter: seed, scale, device and threads.

Chapters call :func:`setup` once in their first code cell::

    from sslbook import config
    cfg = config.setup()          # reads SSLBOOK_SEED and SSLBOOK_SCALE
    n_steps = cfg.pick(book=500, paper=20_000)

Environment variables
---------------------
``SSLBOOK_SEED``
    Integer seed (default ``0``). Every chapter must pass its claim checks for any seed.
``SSLBOOK_SCALE``
    ``book`` (default: each chapter runs in at most 90 s on 2 CPU cores) or ``paper``
    (the papers' own sizes; meant for a GPU, runs on the CPU too, only slower).
``SSLBOOK_THREADS``
    Number of torch threads (default ``1``; on 2 cores one thread made the small-matrix loops
    of these chapters 20 to 50 times faster than torch's default).
``SSLBOOK_DEVICE``
    Force a device (``cpu`` or ``cuda``); by default CUDA is used when present.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

__all__ = ["Settings", "seed", "scale", "device", "set_threads", "seed_everything", "setup", "progress", "SCALES"]

SCALES = ("book", "paper")
T = TypeVar("T")


def seed(default: int = 0) -> int:
    """The seed from ``SSLBOOK_SEED`` (``default`` when unset).

    Raises
    ------
    ValueError
        If ``SSLBOOK_SEED`` is set but is not a non-negative integer.
    """
    raw = os.environ.get("SSLBOOK_SEED", "").strip()
    if raw == "":
        return int(default)
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"SSLBOOK_SEED must be a non-negative integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"SSLBOOK_SEED must be a non-negative integer, got {raw!r}")
    return value


def scale() -> str:
    """The scale from ``SSLBOOK_SCALE``: ``"book"`` (default) or ``"paper"``.

    Raises
    ------
    ValueError
        If ``SSLBOOK_SCALE`` names another scale.
    """
    raw = os.environ.get("SSLBOOK_SCALE", "book").strip().lower() or "book"
    if raw not in SCALES:
        raise ValueError(f"SSLBOOK_SCALE must be one of {SCALES}, got {raw!r}")
    return raw


def device() -> torch.device:
    """CUDA when present (or when ``SSLBOOK_DEVICE`` asks for it), else the CPU."""
    forced = os.environ.get("SSLBOOK_DEVICE", "").strip().lower()
    if forced:
        if forced not in ("cpu", "cuda"):
            raise ValueError(f"SSLBOOK_DEVICE must be 'cpu' or 'cuda', got {forced!r}")
        if forced == "cuda" and not torch.cuda.is_available():
            raise ValueError("SSLBOOK_DEVICE='cuda' but no CUDA device is available")
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads (``SSLBOOK_THREADS``, default 1) and return the number.

    One thread is the right choice for the tiny matrices of this book: thread start-up costs
    more than the arithmetic it spreads.
    """
    if n is None:
        raw = os.environ.get("SSLBOOK_THREADS", "1").strip() or "1"
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"SSLBOOK_THREADS must be a positive integer, got {raw!r}") from None
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 4096:
        raise ValueError(f"n must be a positive integer (at most 4096 threads), got {n!r}")
    torch.set_num_threads(n)
    try:  # NumPy's BLAS too (scikit-learn's probes, SVDs): thread start-up dominates at these sizes
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    return n


def seed_everything(value: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ValueError(f"value must be a non-negative integer (int64), got {value!r}")
    random.seed(int(value))
    np.random.seed(int(value) % 2**32)
    torch.manual_seed(int(value))


@dataclass(frozen=True)
class Settings:
    """What :func:`setup` decided: seed, scale, device and thread count."""

    seed: int
    scale: str
    device: torch.device
    threads: int

    @property
    def paper(self) -> bool:
        """True at the ``paper`` scale."""
        return self.scale == "paper"

    def pick(self, book: T, paper: T) -> T:
        """Return ``book`` at the book scale and ``paper`` at the paper scale."""
        return paper if self.paper else book

    def generator(self, offset: int = 0) -> torch.Generator:
        """A CPU ``torch.Generator`` seeded with ``seed + offset`` (for reproducible streams)."""
        g = torch.Generator()
        g.manual_seed(self.seed + int(offset))
        return g

    def rng(self, offset: int = 0) -> np.random.Generator:
        """A NumPy generator seeded with ``seed + offset``."""
        return np.random.default_rng(self.seed + int(offset))


def setup(default_seed: int = 0, threads: int | None = None, quiet: bool = False) -> Settings:
    """Read the environment, seed everything, set threads; print a one-line summary.

    Parameters
    ----------
    default_seed
        Seed used when ``SSLBOOK_SEED`` is unset.
    threads
        Torch threads (default: ``SSLBOOK_THREADS`` or 1).
    quiet
        Do not print the summary line.
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 4096):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    if (
        not isinstance(default_seed, (int, np.integer))
        or isinstance(default_seed, bool)
        or not 0 <= default_seed < 2**63
    ):
        raise ValueError(f"default_seed must be a non-negative integer, got {default_seed!r}")
    s = seed(default_seed)
    sc = scale()
    dev = device()
    n = set_threads(threads)
    seed_everything(s)
    settings = Settings(seed=s, scale=sc, device=dev, threads=n)
    if not quiet:
        print(f"sslbook: seed={s} scale={sc} device={dev.type} threads={n} torch={torch.__version__}")
    return settings


def progress(steps: int | Iterable[T], desc: str = "", enable: bool | None = None) -> Iterable:
    """``range(steps)`` (or the iterable ``steps``) with a tqdm progress bar at the ``paper`` scale.

    The one progress bar of the book: :func:`sslbook.train.fit`, :meth:`sslbook.umm.UMM.fit`, the
    flows of :mod:`sslbook.dynamics` and the chapters' own long loops all go through it, so a
    ``paper``-scale run shows how far each long loop has got while the ``book`` scale stays quiet.

    Parameters
    ----------
    steps
        Number of iterations (``range(steps)`` is returned) or an iterable to wrap.
    desc
        Label of the bar.
    enable
        Force the bar on or off (default: on at the ``paper`` scale only).
    """
    if isinstance(steps, bool):
        raise TypeError("steps must be an int or an iterable, got bool")
    if isinstance(steps, (int, np.integer)):
        if not 0 <= steps < 2**63:
            raise ValueError(f"steps must be >= 0 and within the int64 range, got {steps}")
        steps = range(int(steps))
    elif not isinstance(steps, Iterable):
        raise TypeError(f"steps must be an int or an iterable, got {type(steps).__name__}")
    if enable is None:
        enable = scale() == "paper"
    if not enable:
        return steps
    try:  # a widget in Jupyter when ipywidgets is installed, a text bar otherwise (no warning)
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    return tqdm(steps, desc=desc or None, mininterval=2.0, delay=2.0)  # silent for loops under 2 s
