"""Encoders and heads: a linear encoder, an MLP built from a block spec, projection heads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from . import _checks

__all__ = ["LinearEncoder", "MLP", "projection_head", "ACTIVATIONS"]

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity}


def _generator(generator: object) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if generator is not None and generator.device.type != "cpu":
        raise ValueError(
            f"generator must be a CPU generator (the model is built on the CPU), got one on {generator.device}"
        )
    return generator


def _linear(d_in: int, d_out: int, bias: bool, generator: torch.Generator | None) -> nn.Linear:
    """``nn.Linear(d_in, d_out)`` with PyTorch's default initialisation, drawn from ``generator``
    (``None``: the global generator, exactly as ``nn.Linear`` does)."""
    if generator is None:
        return nn.Linear(d_in, d_out, bias=bias)
    layer = torch.nn.utils.skip_init(nn.Linear, d_in, d_out, bias=bias)  # leaves the global generator alone
    with torch.no_grad():  # what nn.Linear.reset_parameters does, from the given generator
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        if layer.bias is not None:
            bound = 1 / math.sqrt(d_in)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


class LinearEncoder(nn.Module):
    """``z = x W^T (+ b)``: a linear map from ``d_in`` to ``d_out`` features.

    Parameters
    ----------
    d_in, d_out
        Input and output dimensions (>= 1).
    bias
        Add a learned bias (default: no bias, as in the theory chapters).
    init_std
        If given, initialise the weight with i.i.d. ``N(0, init_std^2)`` entries (otherwise
        PyTorch's default).
    generator
        Source of the initial weights (a CPU ``torch.Generator``); ``None`` draws from ``torch``'s
        global generator, which :func:`sslbook.config.setup` seeds.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        bias: bool = False,
        init_std: float | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.d_in = _checks.integer(d_in, "d_in", minimum=1)
        self.d_out = _checks.integer(d_out, "d_out", minimum=1)
        bias = _checks.boolean(bias, "bias")
        std = None if init_std is None else _checks.positive(init_std, "init_std")
        generator = _generator(generator)
        self.linear = _linear(self.d_in, self.d_out, bias, generator)
        if std is not None:
            with torch.no_grad():
                self.linear.weight.normal_(0.0, std, generator=generator)

    @property
    def weight(self) -> torch.Tensor:
        """The ``(d_out, d_in)`` weight matrix."""
        return self.linear.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` ``(n, d_in)`` to ``(n, d_out)``."""
        _checks.model_input(x, self.d_in, self.linear.weight)
        return self.linear(x)


class MLP(nn.Module):
    """A multilayer perceptron from a list of widths, e.g. ``MLP([64, 128, 128, 16])``.

    Every hidden block is ``Linear -> [BatchNorm1d] -> activation``; the last block is linear
    (optionally followed by the activation). ``layers`` is an ``nn.ModuleList`` of the blocks and
    :meth:`features` returns every block's output, for per-layer probes.

    Parameters
    ----------
    widths
        ``[d_in, h_1, ..., d_out]``, at least two positive integers.
    activation
        One of ``"relu"``, ``"gelu"``, ``"tanh"``, ``"sigmoid"``, ``"identity"``.
    batch_norm
        Insert ``BatchNorm1d`` after each hidden linear layer.
    last_activation
        Apply the activation after the last layer too.
    bias
        Use biases in the linear layers.
    generator
        Source of the initial weights (PyTorch's default initialisation, drawn from this CPU
        ``torch.Generator``); ``None`` draws from ``torch``'s global generator.
    """

    def __init__(
        self,
        widths: Sequence[int],
        activation: str = "relu",
        batch_norm: bool = False,
        last_activation: bool = False,
        bias: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
            raise TypeError(f"widths must be a sequence of integers, got {type(widths).__name__}")
        if len(widths) < 2:
            raise ValueError(f"widths needs at least an input and an output width, got {list(widths)}")
        self.widths = [_checks.integer(w, f"widths[{i}]", minimum=1) for i, w in enumerate(widths)]
        _checks.choice(activation, "activation", tuple(ACTIVATIONS))
        batch_norm = _checks.boolean(batch_norm, "batch_norm")
        last_activation = _checks.boolean(last_activation, "last_activation")
        bias = _checks.boolean(bias, "bias")
        generator = _generator(generator)
        blocks = []
        n = len(self.widths) - 1
        for i in range(n):
            mods: list[nn.Module] = [_linear(self.widths[i], self.widths[i + 1], bias, generator)]
            hidden = i < n - 1
            if hidden and batch_norm:
                mods.append(nn.BatchNorm1d(self.widths[i + 1]))
            if hidden or last_activation:
                mods.append(ACTIVATIONS[activation]())
            blocks.append(nn.Sequential(*mods))
        self.layers = nn.ModuleList(blocks)
        self.batch_norm = batch_norm and n > 1

    def _input(self, x: torch.Tensor) -> None:
        _checks.model_input(x, self.widths[0], self.layers[0][0].weight)
        if self.batch_norm and self.training and x.shape[0] < 2:
            raise ValueError(
                f"x needs at least two rows in training mode (batch normalisation), got shape "
                f"{tuple(x.shape)}; call model.eval() to use the running statistics"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` ``(n, widths[0])`` to ``(n, widths[-1])``."""
        self._input(x)
        for block in self.layers:
            x = block(x)
        return x

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of every block, ``[h_1, ..., h_L]`` (the last is the network's output)."""
        self._input(x)
        out = []
        for block in self.layers:
            x = block(x)
            out.append(x)
        return out


def projection_head(d_in: int, d_hidden: int, d_out: int, batch_norm: bool = True, activation: str = "relu") -> MLP:
    """SimCLR-style two-layer projection head ``d_in -> d_hidden -> d_out``."""
    d_in = _checks.integer(d_in, "d_in", minimum=1)
    d_hidden = _checks.integer(d_hidden, "d_hidden", minimum=1)
    d_out = _checks.integer(d_out, "d_out", minimum=1)
    return MLP([d_in, d_hidden, d_out], activation=activation, batch_norm=batch_norm)
