"""Hostile-input fuzzing of every public function of the concept modules (issue 20).

Each case below builds a valid call of one public function (or method) from a seed and small sizes
that hypothesis draws. The test then makes the call once as built (it must return finite numbers)
and once for every input class that applies to each argument:

* tensors: NaN, Inf, complex, string, ``None``, the ``meta`` device, float16, an integer dtype, an
  extra dimension, an empty batch, a NumPy array instead, the other float dtype (mixed dtypes),
  and magnitudes times ``1e-30`` and ``1e30``;
* arrays (functions that take array-likes): NaN, Inf, complex, strings, ``None``, ``meta``, an extra
  dimension, an empty batch, magnitudes times ``1e-30`` and ``1e30``;
* labels: fractions, floats beyond int64, complex, strings, a wrong length, negative labels;
* numbers (hyper-parameters): NaN, Inf, negative, zero, a string, ``None``, a bool, a fraction
  for an integer.

The contract checked for every call: it either raises ``ValueError`` or ``TypeError`` whose message
names the argument at fault, or returns finite numbers (no NaN, no Inf, no collapsed value: the
scale classes are checked against the unscaled result in ``test_fuzz_invariance.py``). Any other
exception (a raw torch ``RuntimeError``, ``IndexError``, ``ZeroDivisionError``) fails the test.
Some input classes may legitimately be accepted (an empty batch to a model, a NumPy array to a
metric, negative labels to a probe): those are *permissive*, where a finite result is also fine.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import re
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sslbook import (
    coding_rate,
    config,
    critical_points,
    data,
    dynamics,
    exercises,
    geometry,
    hypersphere,
    losses,
    models,
    objectives,
    plotting,
    probing,
    spectra,
    subspaces,
    train,
    umm,
    vae,
)

FUZZ = settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.generate,),
    suppress_health_check=list(HealthCheck),
)


# --------------------------------------------------------------------------------------------------
# building blocks


def rnd(g, *shape, dtype=torch.float32):
    return torch.randn(*shape, generator=g, dtype=dtype)


def labels(g, n, k=3):
    y = torch.arange(n) % k
    return y[torch.randperm(n, generator=g)]


def frame(g, d, k):
    return geometry.random_frame(d, k, generator=g)


def sym(g, p):
    a = rnd(g, p, p, dtype=torch.float64)
    return 0.5 * (a + a.T)


def mlp(widths, **kw):
    torch.manual_seed(0)
    return models.MLP(widths, **kw)


class Call:
    """A call ``fn(**kwargs)`` with the input kind of each argument (``tensor``, ``array``,
    ``labels``, ``int``, ``float``) and the input classes under which a finite result is fine."""

    def __init__(self, fn, kwargs, kinds=None, permissive=(), skip=(), nan_ok=()):
        self.fn, self.kwargs = fn, kwargs
        self.kinds = dict(kinds or {})
        for name, v in kwargs.items():
            if name in self.kinds:
                continue
            if isinstance(v, torch.Tensor) and v.is_floating_point():
                self.kinds[name] = "tensor"
            elif isinstance(v, np.ndarray) and v.dtype.kind == "f":
                self.kinds[name] = "array"
            elif isinstance(v, bool) or v is None:
                continue
            elif isinstance(v, int):
                self.kinds[name] = "int"
            elif isinstance(v, float):
                self.kinds[name] = "float"
        self.permissive = set(permissive)
        self.skip = set(skip)  # (argument, class) or argument names not to mutate
        self.nan_ok = set(nan_ok)


# Each builder takes (g, n, k) and returns a Call. n >= 4 rows, k >= 2 columns.
CASES: dict[str, object] = {}


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn

    return register


# losses -----------------------------------------------------------------------------------------

for _name in [
    "info_nce",
    "info_nce_terms",
    "nt_xent",
    "spectral_contrastive",
    "spectral_contrastive_terms",
    "barlow_twins",
    "barlow_twins_terms",
    "vicreg",
    "vicreg_terms",
    "clip",
    "clip_terms",
]:
    case(f"losses.{_name}")(
        lambda g, n, k, _f=getattr(losses, _name): Call(_f, {"z1": rnd(g, n, k), "z2": rnd(g, n, k)})
    )


@case("losses.negative_cosine")
def _(g, n, k):
    return Call(losses.negative_cosine, {"p": rnd(g, n, k), "z": rnd(g, n, k)})


for _name in ["simsiam", "simsiam_l2"]:
    case(f"losses.{_name}")(
        lambda g, n, k, _f=getattr(losses, _name): Call(
            _f, {"p1": rnd(g, n, k), "p2": rnd(g, n, k), "z1": rnd(g, n, k), "z2": rnd(g, n, k)}
        )
    )


# probes, spectra, hypersphere, subspaces, coding rate ------------------------------------------

for _name in ["linear_probe_accuracy", "knn_accuracy"]:
    case(f"probing.{_name}")(
        lambda g, n, k, _f=getattr(probing, _name): Call(
            _f,
            {
                "z_train": rnd(g, 3 * n, k).numpy().astype(np.float64),
                "y_train": labels(g, 3 * n),
                "z_test": rnd(g, n, k).numpy().astype(np.float64),
                "y_test": labels(g, n),
            },
            kinds={"y_train": "labels", "y_test": "labels"},
            permissive={"negative"},
        )
    )


@case("probing.clustering_ari")
def _(g, n, k):
    return Call(
        probing.clustering_ari,
        {"z": rnd(g, 2 * n, k).double().numpy(), "y": labels(g, 2 * n), "n_init": 1},
        kinds={"y": "labels"},
        permissive={"negative"},
    )


@case("spectra.effective_rank")
def _(g, n, k):
    return Call(spectra.effective_rank, {"z": rnd(g, n, k).double().numpy()}, permissive={"empty"})


@case("hypersphere.wang_isola_alignment")
def _(g, n, k):
    return Call(hypersphere.wang_isola_alignment, {"z1": rnd(g, n, k), "z2": rnd(g, n, k)})


@case("hypersphere.wang_isola_uniformity")
def _(g, n, k):
    return Call(hypersphere.wang_isola_uniformity, {"z": rnd(g, n, k)})


for _name in ["principal_angles", "subspace_distance"]:
    case(f"subspaces.{_name}")(
        lambda g, n, k, _f=getattr(subspaces, _name): Call(
            _f, {"a": rnd(g, n + k, k).double().numpy(), "b": rnd(g, n + k, 2).double().numpy()}
        )
    )


@case("coding_rate.coding_rate")
def _(g, n, k):
    return Call(coding_rate.coding_rate, {"z": rnd(g, n, k)})


@case("coding_rate.coding_rate_reduction")
def _(g, n, k):
    return Call(
        coding_rate.coding_rate_reduction,
        {"z": rnd(g, 2 * n, k), "labels": labels(g, 2 * n)},
        kinds={"labels": "labels"},
        permissive={"negative"},
    )


@case("coding_rate.coding_rate_reduction_soft")
def _(g, n, k):
    return Call(
        coding_rate.coding_rate_reduction_soft,
        {"z": rnd(g, n, k), "memberships": torch.softmax(rnd(g, n, 3), 1)},
        skip={("memberships", "tiny"), ("memberships", "huge")},
    )


@case("coding_rate.pair_coding_rate_reduction")
def _(g, n, k):
    return Call(coding_rate.pair_coding_rate_reduction, {"z1": rnd(g, n, k), "z2": rnd(g, n, k)})


@case("subspaces.projection_length")
def _(g, n, k):
    return Call(
        subspaces.projection_length,
        {"basis": rnd(g, n, 2).double().numpy(), "directions": rnd(g, n, k).double().numpy()},
    )


# models -----------------------------------------------------------------------------------------


@case("models.LinearEncoder.forward")
def _(g, n, k):
    torch.manual_seed(0)
    return Call(models.LinearEncoder(k, 3), {"x": rnd(g, n, k)}, permissive={"empty"})


@case("models.MLP.forward")
def _(g, n, k):
    return Call(mlp([k, 5, 3], batch_norm=True), {"x": rnd(g, n, k)}, permissive={"empty"})


@case("models.MLP.features")
def _(g, n, k):
    return Call(mlp([k, 5, 3]).features, {"x": rnd(g, n, k)}, permissive={"empty"})


@case("models.LinearEncoder")
def _(g, n, k):
    return Call(models.LinearEncoder, {"d_in": k, "d_out": 3, "init_std": 0.1}, permissive={("init_std", "none")})


@case("models.MLP")
def _(g, n, k):
    return Call(
        lambda widths, activation: models.MLP(widths, activation),
        {"widths": [k, 4, 2], "activation": "relu"},
        kinds={"widths": "widths"},
    )


@case("models.projection_head")
def _(g, n, k):
    return Call(models.projection_head, {"d_in": k, "d_hidden": 4, "d_out": 2})


# probing ----------------------------------------------------------------------------------------


@case("probing.layer_features")
def _(g, n, k):
    return Call(probing.layer_features, {"model": mlp([k, 5, 3]), "x": rnd(g, n, k)}, permissive={"empty"})


@case("probing.ridge_probe_accuracy")
def _(g, n, k):
    return Call(
        probing.ridge_probe_accuracy,
        {
            "features_train": rnd(g, 3 * n, k),
            "y_train": labels(g, 3 * n),
            "features_test": rnd(g, n, k),
            "y_test": labels(g, n),
        },
        kinds={"y_train": "labels", "y_test": "labels"},
        permissive={"negative"},
    )


@case("probing.ridge_probe_r2")
def _(g, n, k):
    return Call(
        probing.ridge_probe_r2,
        {
            "features_train": rnd(g, 3 * n, k),
            "targets_train": rnd(g, 3 * n, 2),
            "features_test": rnd(g, n, k),
            "targets_test": rnd(g, n, 2),
        },
        permissive={"mixed"},
    )


@case("probing.probe_layers")
def _(g, n, k):
    return Call(
        probing.probe_layers,
        {
            "model": mlp([k, 5, 3]),
            "x_train": rnd(g, 3 * n, k),
            "y_train": labels(g, 3 * n),
            "x_test": rnd(g, n, k),
            "y_test": labels(g, n),
        },
        kinds={"y_train": "labels", "y_test": "labels"},
        permissive={"negative"},
    )


@case("probing.LayerProbes.__call__")
def _(g, n, k):
    def run(x_train, y_train, x_test, y_test, lam):
        return probing.LayerProbes(mlp([k, 5, 3]), x_train, y_train, x_test, y_test, lam=lam)()

    return Call(
        run,
        {
            "x_train": rnd(g, 3 * n, k),
            "y_train": labels(g, 3 * n),
            "x_test": rnd(g, n, k),
            "y_test": labels(g, n),
            "lam": 1.0,
        },
        kinds={"y_train": "labels", "y_test": "labels"},
        permissive={"negative"},
    )


# train ------------------------------------------------------------------------------------------


@case("train.fit")
def _(g, n, k):
    w = torch.nn.Parameter(rnd(g, k))

    def step(t):
        return (w**2).sum()

    return Call(
        lambda steps, lr, every: train.fit(step, [w], steps=steps, lr=lr, every=every),
        {"steps": 3, "lr": 0.1, "every": 1},
    )


@case("train.make_optimizer")
def _(g, n, k):
    w = torch.nn.Parameter(rnd(g, k))
    return Call(
        lambda lr, weight_decay, momentum: train.make_optimizer("sgd", [w], lr, weight_decay, momentum),
        {"lr": 0.1, "weight_decay": 0.0, "momentum": 0.0},
        permissive={"zero"},
    )


@case("train.minibatches")
def _(g, n, k):
    return Call(lambda n, batch_size: next(train.minibatches(n, batch_size)), {"n": 2 * n, "batch_size": n})


# umm --------------------------------------------------------------------------------------------


@case("umm.similarity_log_distribution")
def _(g, n, k):
    return Call(umm.similarity_log_distribution, {"h": rnd(g, n, k)})


@case("umm.similarity_kl")
def _(g, n, k):
    return Call(umm.similarity_kl, {"h_early": rnd(g, n, k), "z_late": rnd(g, n, 3)}, permissive={"mixed"})


@case("umm.early_prior")
def _(g, n, k):
    return Call(
        lambda h, n_clusters, iters: umm.early_prior(h, n_clusters, iters, generator=torch.Generator().manual_seed(0)),
        {"h": rnd(g, 2 * n, k), "n_clusters": 2, "iters": 3},
    )


@case("umm.EarlyPrior.memberships")
def _(g, n, k):
    prior = umm.EarlyPrior(centers=rnd(g, 3, k), temperature=1.0)
    return Call(prior.memberships, {"h": rnd(g, n, k)}, permissive={"empty", "mixed", "tiny"})


@case("umm.EarlyPrior")
def _(g, n, k):
    return Call(umm.EarlyPrior, {"centers": rnd(g, 3, k), "temperature": 1.0}, permissive={"tiny", "huge", "mixed"})


@case("umm.freeze_early")
def _(g, n, k):
    return Call(umm.freeze_early, {"model": mlp([k, 4, 4, 2]), "n_early": 1})


def _umm(k):
    return umm.UMM(mlp([k, 6, 5, 4]), 1, losses.info_nce)


@case("umm.UMM.step")
def _(g, n, k):
    return Call(_umm(k).step, {"x1": rnd(g, n, k), "x2": rnd(g, n, k)})


@case("umm.UMM.terms")
def _(g, n, k):
    return Call(_umm(k).terms, {"x1": rnd(g, n, k), "x2": rnd(g, n, k)})


@case("umm.UMM.early")
def _(g, n, k):
    return Call(_umm(k).early, {"x": rnd(g, n, k)}, permissive={"empty"})


@case("umm.UMM.late")
def _(g, n, k):
    return Call(_umm(k).late, {"h": rnd(g, n, 6)}, permissive={"empty"})


@case("umm.UMM")
def _(g, n, k):
    return Call(
        lambda n_early, gamma, lam, inner_lr, lr, temperature, eps: umm.UMM(
            mlp([k, 6, 5, 4]),
            n_early,
            losses.info_nce,
            gamma=gamma,
            lam=lam,
            inner_lr=inner_lr,
            lr=lr,
            temperature=temperature,
            eps=eps,
        ),
        {"n_early": 1, "gamma": 1.0, "lam": 1.0, "inner_lr": 1e-3, "lr": 1e-3, "temperature": 0.1, "eps": 0.5},
        permissive={"zero"},
    )


@case("umm.UMM.fit")
def _(g, n, k):
    u = _umm(k)
    return Call(
        lambda x, steps, batch_size: u.fit(
            x, data.GaussianNoise(0.1), steps, batch_size, generator=torch.Generator().manual_seed(0)
        ),
        {"x": rnd(g, 2 * n, k), "steps": 1, "batch_size": n},
    )


# vae --------------------------------------------------------------------------------------------


@case("vae.reparameterize")
def _(g, n, k):
    return Call(
        lambda mu, logvar: vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0)),
        {"mu": rnd(g, n, k), "logvar": rnd(g, n, k)},
        permissive={"empty", "tiny"},
    )


@case("vae.reconstruction_log_likelihood")
def _(g, n, k):
    return Call(
        lambda x, out, likelihood, sigma_x2: vae.reconstruction_log_likelihood(x, out, likelihood, sigma_x2),
        {"x": torch.rand(n, k, generator=g), "out": rnd(g, n, k), "likelihood": "bernoulli", "sigma_x2": 1.0},
        permissive={"empty", "tiny"},
    )


@case("vae.gaussian_entropy")
def _(g, n, k):
    return Call(vae.gaussian_entropy, {"logvar": rnd(g, n, k)}, permissive={"empty", "tiny"})


@case("vae.gaussian_kl_standard")
def _(g, n, k):
    return Call(vae.gaussian_kl_standard, {"mu": rnd(g, n, k), "logvar": rnd(g, n, k)}, permissive={"empty", "tiny"})


for _name in ["standard_log_prior", "ssl_log_prior", "ssl_log_prior_terms"]:
    case(f"vae.{_name}")(lambda g, n, k, _f=getattr(vae, _name): Call(_f, {"z": rnd(g, n, 2, k)}, permissive={"tiny"}))


@case("vae.expected_ssl_log_prior")
def _(g, n, k):
    return Call(vae.expected_ssl_log_prior, {"mu": rnd(g, n, 2, k), "logvar": rnd(g, n, 2, k)}, permissive={"tiny"})


@case("vae.mixture_log_posterior")
def _(g, n, k):
    return Call(
        vae.mixture_log_posterior,
        {"z": rnd(g, n, k), "means": rnd(g, 3, k), "sigma2": 1.0},
        permissive={"empty", "tiny"},
    )


@case("vae.two_view_mutual_information")
def _(g, n, k):
    return Call(vae.two_view_mutual_information, {"sigma2": 0.5, "s2": 1.0, "dims": 2})


@case("vae.within_group_variance_share")
def _(g, n, k):
    return Call(vae.within_group_variance_share, {"z": rnd(g, n, 2, k).double().numpy()})


@case("vae.GaussianEncoder.forward")
def _(g, n, k):
    torch.manual_seed(0)
    return Call(vae.GaussianEncoder(k, [5], 2), {"x": rnd(g, n, k)}, permissive={"empty"})


@case("vae.Decoder.forward")
def _(g, n, k):
    torch.manual_seed(0)
    return Call(vae.Decoder(2, [5], k), {"z": rnd(g, n, 2)}, permissive={"empty"})


for _cls in ["VAE", "SimVAE"]:
    case(f"vae.{_cls}.terms")(
        lambda g, n, k, _c=getattr(vae, _cls): Call(
            lambda views: (
                torch.manual_seed(0),
                _c(k, [5], 2).terms(views, generator=torch.Generator().manual_seed(0)),
            )[1],
            {"views": torch.rand(n, 2, k, generator=g)},
            skip={("views", "huge")},
        )
    )


@case("vae.VAE.encode")
def _(g, n, k):
    torch.manual_seed(0)
    return Call(vae.VAE(k, [5], 2).encode, {"x": rnd(g, n, k)}, permissive={"empty"})


@case("vae.VAE")
def _(g, n, k):
    return Call(
        lambda d_in, latent, beta, sigma_x2: vae.VAE(d_in, [4], latent, beta=beta, sigma_x2=sigma_x2),
        {"d_in": k, "latent": 2, "beta": 1.0, "sigma_x2": 1.0},
    )


@case("vae.SimVAE")
def _(g, n, k):
    return Call(
        lambda sigma2, s2: vae.SimVAE(k, [4], 2, sigma2=sigma2, s2=s2), {"sigma2": 0.15, "s2": 1.0}, permissive={"none"}
    )


@case("vae.GaussianEncoder")
def _(g, n, k):
    return Call(lambda d_in, latent: vae.GaussianEncoder(d_in, [3], latent), {"d_in": k, "latent": 2})


@case("vae.Decoder")
def _(g, n, k):
    return Call(lambda latent, d_out: vae.Decoder(latent, [3], d_out), {"latent": 2, "d_out": k})


# geometry ---------------------------------------------------------------------------------------


@case("geometry.random_frame")
def _(g, n, k):
    return Call(
        lambda d, k: geometry.random_frame(d, k, generator=torch.Generator().manual_seed(0)), {"d": n + k, "k": k}
    )


for _name in ["orthonormalize", "projector", "is_orthonormal"]:
    case(f"geometry.{_name}")(
        lambda g, n, k, _f=getattr(geometry, _name): Call(_f, {"w": rnd(g, n + k, k, dtype=torch.float64)})
    )

for _name, _second in [("tangent_project_stiefel", "g"), ("grassmann_gradient", "g"), ("qr_retraction", "xi")]:
    case(f"geometry.{_name}")(
        lambda g, n, k, _f=getattr(geometry, _name), _s=_second: Call(
            _f, {"w": frame(g, n + k, k), _s: rnd(g, n + k, k, dtype=torch.float64)}
        )
    )


@case("geometry.grassmann_step")
def _(g, n, k):
    return Call(
        geometry.grassmann_step, {"w": frame(g, n + k, k), "g": rnd(g, n + k, k, dtype=torch.float64), "lr": 0.1}
    )


@case("geometry.top_eigenspace")
def _(g, n, k):
    return Call(geometry.top_eigenspace, {"a": sym(g, n), "k": 2})


# dynamics ---------------------------------------------------------------------------------------


@case("dynamics.grassmann_flow_velocity")
def _(g, n, k):
    return Call(dynamics.grassmann_flow_velocity, {"a": sym(g, n + k), "w": frame(g, n + k, k)})


for _name in ["grassmann_flow", "grassmann_flow_angles"]:
    case(f"dynamics.{_name}")(
        lambda g, n, k, _f=getattr(dynamics, _name): Call(
            _f, {"a": sym(g, n + k), "w0": frame(g, n + k, k), "t": 0.5}, permissive={"mixed", "huge", "tiny"}
        )
    )


@case("dynamics.loss_matrix")
def _(g, n, k):
    return Call(dynamics.loss_matrix, {"x": rnd(g, n, k), "x_pos": rnd(g, n, k), "x_neg": rnd(g, n, k)})


@case("dynamics.ssl_loss")
def _(g, n, k):
    return Call(dynamics.ssl_loss, {"z": rnd(g, n, k), "z_pos": rnd(g, n, k), "z_neg": rnd(g, n, k)})


@case("dynamics.coupling_matrix")
def _(g, n, k):
    return Call(dynamics.coupling_matrix, {"n": n})


@case("dynamics.quadratic_loss")
def _(g, n, k):
    return Call(dynamics.quadratic_loss, {"w": frame(g, n, k), "a": sym(g, n)})


@case("dynamics.unconstrained_flow")
def _(g, n, k):
    return Call(dynamics.unconstrained_flow, {"a": sym(g, n), "w0": frame(g, n, k), "t": 0.5})


@case("dynamics.gradient_descent")
def _(g, n, k):
    return Call(
        lambda a, w0, lr, steps, every: dynamics.gradient_descent(a, w0, lr, steps, method="riemannian", every=every),
        {"a": sym(g, n), "w0": frame(g, n, k), "lr": 0.05, "steps": 3, "every": 1},
        permissive={"zero"},
    )


@case("dynamics.two_layer_gradient_descent")
def _(g, n, k):
    return Call(
        dynamics.two_layer_gradient_descent,
        {
            "a": sym(g, n),
            "w1": 0.1 * frame(g, n, k),
            "w2": 0.1 * rnd(g, k, 2, dtype=torch.float64),
            "lr": 0.01,
            "steps": 3,
        },
        permissive={"zero"},
    )


@case("dynamics.mode_strength")
def _(g, n, k):
    return Call(dynamics.mode_strength, {"eigenvalue": -0.5, "s0": 0.1, "t": 1.0}, permissive={"negative", "zero"})


@case("dynamics.blowup_time")
def _(g, n, k):
    return Call(
        dynamics.blowup_time,
        {"eigenvalue": 0.5, "s0": 0.1},
        permissive={"negative", "zero"},
        nan_ok={"negative", "zero"},
    )  # inf: "never blows up" is the documented answer


@case("dynamics.relu_features")
def _(g, n, k):
    return Call(dynamics.relu_features, {"x": rnd(g, n, k), "v": rnd(g, 5, k)})


@case("dynamics.arccos_kernel")
def _(g, n, k):
    return Call(dynamics.arccos_kernel, {"x": rnd(g, n, k), "y": rnd(g, 3, k)}, permissive={"tiny", ("y", "none")})


@case("dynamics.readout_subspace")
def _(g, n, k):
    return Call(dynamics.readout_subspace, {"phi": rnd(g, n, 3 * n), "w0": frame(g, 3 * n, 2).float()})


def _kernel(g, n, k):
    phi = rnd(g, n, 2 * n, dtype=torch.float64)
    w0 = frame(g, 2 * n, k)
    return phi @ w0, phi @ phi.T


@case("dynamics.kernel_ode_rhs")
def _(g, n, k):
    z0, kmat = _kernel(g, 2 * n, k)
    return Call(dynamics.kernel_ode_rhs, {"z": z0, "kmat": kmat, "s": dynamics.coupling_matrix(n, "alignment")})


@case("dynamics.integrate_kernel_ode")
def _(g, n, k):
    z0, kmat = _kernel(g, 2 * n, k)
    return Call(
        dynamics.integrate_kernel_ode,
        {"z0": z0, "kmat": 0.1 * kmat, "s": dynamics.coupling_matrix(n, "alignment"), "t_end": 0.05, "dt": 0.01},
        permissive={("t_end", "zero")},
    )


for _name in ["kernel_flow_gram", "fixed_kernel_flow"]:
    case(f"dynamics.{_name}")(
        lambda g, n, k, _f=getattr(dynamics, _name): (
            lambda z0k: Call(
                _f,
                {"z0": z0k[0], "kmat": z0k[1], "s": dynamics.coupling_matrix(n, "alignment"), "t": 0.1},
                permissive={("t", "zero")},
            )
        )(_kernel(g, 2 * n, k))
    )


@case("dynamics.kernel_optimum")
def _(g, n, k):
    _, kmat = _kernel(g, 2 * n, k)
    return Call(dynamics.kernel_optimum, {"kmat": kmat, "s": dynamics.coupling_matrix(n, "alignment"), "k": 2})


@case("dynamics.supervised_readout_flow")
def _(g, n, k):
    return Call(
        dynamics.supervised_readout_flow,
        {"phi": rnd(g, n, 3 * n), "y": rnd(g, n), "a0": rnd(g, 3 * n), "t": 1.0},
        permissive={"tiny", "huge"},
    )


# critical points --------------------------------------------------------------------------------


def _quartic(w):
    return (w**4).sum(-1) / 4 - (w**2).sum(-1) / 2


@case("critical_points.gradient")
def _(g, n, k):
    return Call(
        lambda x: critical_points.gradient(_quartic, x), {"x": rnd(g, k, dtype=torch.float64)}, permissive={"mixed"}
    )


@case("critical_points.hessian")
def _(g, n, k):
    return Call(
        lambda x: critical_points.hessian(_quartic, x),
        {"x": rnd(g, n, k, dtype=torch.float64)},
        permissive={"mixed", "empty"},
    )


@case("critical_points.jacobian")
def _(g, n, k):
    return Call(
        lambda x: critical_points.jacobian(lambda w: w**3 - w, x),
        {"x": rnd(g, k, dtype=torch.float64)},
        permissive={"mixed"},
    )


@case("critical_points.classify_hessian")
def _(g, n, k):
    return Call(critical_points.classify_hessian, {"h": sym(g, k), "tol": 1e-10}, permissive={"zero"})


@case("critical_points.newton_stationary_point")
def _(g, n, k):
    return Call(
        lambda x0, tol, max_iter: critical_points.newton_stationary_point(_quartic, x0, tol, max_iter),
        {"x0": 0.3 + 0.1 * torch.rand(k, generator=g, dtype=torch.float64), "tol": 1e-10, "max_iter": 20},
        permissive={"mixed", "zero", "tiny"},
    )


@case("critical_points.stationary_points")
def _(g, n, k):
    return Call(
        lambda starts, tol: critical_points.stationary_points(_quartic, starts, tol),
        {"starts": 0.3 + torch.rand(n, k, generator=g, dtype=torch.float64), "tol": 1e-10},
        permissive={"mixed", "empty", "tiny"},
    )


@case("critical_points.ball_points")
def _(g, n, k):
    return Call(
        lambda center, radius, n_points: critical_points.ball_points(
            center, radius, n_points, generator=torch.Generator().manual_seed(0)
        ),
        {"center": rnd(g, k, dtype=torch.float64), "radius": 0.5, "n_points": 4},
        permissive={"mixed", "zero"},
    )


@case("critical_points.inverse_function_certificate")
def _(g, n, k):
    return Call(
        lambda x0, n_points: critical_points.inverse_function_certificate(
            lambda w: w**3 - w, x0, n_points=n_points, generator=torch.Generator().manual_seed(0)
        ),
        {"x0": 1.0 + 0.01 * rnd(g, k, dtype=torch.float64), "n_points": 4},
        permissive={"mixed", "zero"},
    )


# config and plotting ----------------------------------------------------------------------------


@case("config.set_threads")
def _(g, n, k):
    return Call(config.set_threads, {"n": 1}, permissive={"none"})  # None: SSLBOOK_THREADS


@case("config.seed_everything")
def _(g, n, k):
    return Call(config.seed_everything, {"value": 0}, permissive={"zero"})


@case("config.setup")
def _(g, n, k):
    return Call(
        lambda default_seed, threads: config.setup(default_seed, threads, quiet=True),
        {"default_seed": 0, "threads": 1},
        permissive={"zero", "none"},
    )


@case("config.progress")
def _(g, n, k):
    return Call(
        lambda steps: list(config.progress(steps, enable=False)), {"steps": 3}, permissive={"zero", "string"}
    )  # a string is an iterable: progress wraps any iterable


_AXES = []


def _axes():
    """One matplotlib axes for every call (creating a figure per call costs 0.1 s)."""
    import matplotlib.pyplot as plt

    if not _AXES:
        fig, ax = plt.subplots()
        plt.close(fig)
        _AXES.append(ax)
    _AXES[0].clear()
    return _AXES[0]


@case("plotting.band")
def _(g, n, k):
    return Call(
        lambda x, runs, q: plotting.band(_axes(), x, runs, q=q),
        {"x": np.arange(k, dtype=np.float64), "runs": rnd(g, 3, k).double().numpy(), "q": 0.1},
        permissive={"zero", "tiny", "huge", ("runs", "nan"), ("runs", "inf")},
        nan_ok={("runs", "nan"), ("runs", "inf")},
    )  # NaN marks a missing run value


# data -------------------------------------------------------------------------------------------


@case("data.gaussian_mixture")
def _(g, n, k):
    return Call(
        lambda n, means, cov: data.gaussian_mixture(n, means, cov, generator=torch.Generator().manual_seed(0)),
        {"n": n, "means": rnd(g, 3, k), "cov": 1.0},
        permissive={"mixed", "tiny", "huge"},
    )


@case("data.between_class_scatter")
def _(g, n, k):
    return Call(data.between_class_scatter, {"means": rnd(g, 3, k)}, permissive={"mixed", "tiny"})


for _name in ["fisher_subspace", "lda_directions"]:
    case(f"data.{_name}")(
        lambda g, n, k, _f=getattr(data, _name): Call(
            _f, {"means": rnd(g, 3, k), "cov": 1.0}, permissive={"mixed", "tiny", "huge"}
        )
    )


@case("data.separated_means")
def _(g, n, k):
    return Call(
        lambda k, d, separation: data.separated_means(
            k, d, separation=separation, generator=torch.Generator().manual_seed(0)
        ),
        {"k": 3, "d": k, "separation": 2.0},
    )


@case("data.spiked_covariance")
def _(g, n, k):
    return Call(
        lambda d, n_spikes, spike_var: data.spiked_covariance(
            d, n_spikes, spike_var, generator=torch.Generator().manual_seed(0)
        ),
        {"d": k + 1, "n_spikes": 1, "spike_var": 2.0},
        permissive={"zero"},
    )


@case("data.SameComponentPairs.sample")
def _(g, n, k):
    return Call(
        lambda means, redraw, n: data.SameComponentPairs(means, 1.0, redraw=redraw).sample(
            n, generator=torch.Generator().manual_seed(0)
        ),
        {"means": rnd(g, 3, k), "redraw": 0.5, "n": n},
        permissive={"zero", "mixed", "tiny", "huge"},
    )


@case("data.two_modality_mixture")
def _(g, n, k):
    return Call(
        lambda k, d1, d2, radius: data.two_modality_mixture(
            k, d1, d2, 2, 2, radius=radius, generator=torch.Generator().manual_seed(0)
        ),
        {"k": 3, "d1": 6, "d2": 5, "radius": 2.0},
    )


@case("data.TwoModalityMixture.variance_split")
def _(g, n, k):
    mix = data.two_modality_mixture(3, 6, 5, 2, 2, generator=torch.Generator().manual_seed(0))
    return Call(
        lambda weight, modality: mix.variance_split(weight, modality),
        {"weight": rnd(g, 2, 6).double().numpy(), "modality": 1},
        permissive={"tiny"},
    )


@case("data.GaussianNoise")
def _(g, n, k):
    return Call(
        lambda x, std, clip: data.GaussianNoise(std, clip)(x, generator=torch.Generator().manual_seed(0)),
        {"x": rnd(g, n, k), "std": 0.1, "clip": (-1.0, 1.0)},
        permissive={"zero", "empty", "tiny"},
    )


@case("data.RandomMask")
def _(g, n, k):
    return Call(
        lambda x, p: data.RandomMask(p)(x, generator=torch.Generator().manual_seed(0)),
        {"x": rnd(g, n, k), "p": 0.3},
        permissive={"zero", "empty", "tiny", "huge"},
    )


@case("data.Compose")
def _(g, n, k):
    return Call(lambda x: data.Compose([data.GaussianNoise(0.1)])(x), {"x": rnd(g, n, k)}, permissive={"empty", "tiny"})


@case("data.TwoViews")
def _(g, n, k):
    return Call(lambda x: data.TwoViews(data.GaussianNoise(0.1))(x), {"x": rnd(g, n, k)}, permissive={"empty", "tiny"})


@case("data.planted_subspace_views")
def _(g, n, k):
    return Call(
        lambda n, d, n_nuisance, noise_std: data.planted_subspace_views(
            n, d, (1.0,), n_nuisance, noise_std=noise_std, generator=torch.Generator().manual_seed(0)
        ),
        {"n": n, "d": 4, "n_nuisance": 1, "noise_std": 0.1},
        permissive={"zero"},
    )


@case("data.downsample")
def _(g, n, k):
    return Call(data.downsample, {"images": torch.rand(n, 8, 8, generator=g), "size": 4})


@case("data.load_digit_images")
def _(g, n, k):  # only the argument checks are fuzzed (a valid call reads a file: test_data_digits.py)
    return Call(data.load_digit_images, {"source": "digits", "size": 4}, skip={"valid", ("size", "none")})


@case("data.affine")
def _(g, n, k):
    return Call(
        data.affine,
        {"x": torch.rand(n, 6, 6, generator=g), "angle": 10.0, "scale": 1.1},
        permissive={"tiny", "huge", "negative", "empty"},
    )


for _name, _kw in [
    ("RandomRotation", {"max_degrees": 20.0}),
    ("RandomShift", {"max_fraction": 0.1}),
    ("RandomAffine", {"max_degrees": 20.0, "max_shift": 0.1}),
]:
    case(f"data.{_name}")(
        lambda g, n, k, _c=getattr(data, _name), _kw=_kw: Call(
            lambda x, **kw: _c(**kw)(x, generator=torch.Generator().manual_seed(0)),
            {"x": torch.rand(n, 6, 6, generator=g), **_kw},
            permissive={"zero", "tiny", "huge", "empty"},
        )
    )


@case("data.style_copies")
def _(g, n, k):
    return Call(
        lambda x: data.style_copies(x, "rotation", (-10.0, 10.0)),
        {"x": torch.rand(n, 6, 6, generator=g)},
        permissive={"tiny", "huge"},
    )


@case("data.hidden_feature_data")
def _(g, n, k):
    return Call(
        lambda n, d, tau, noise: data.hidden_feature_data(n, d, tau, noise, generator=torch.Generator().manual_seed(0)),
        {"n": n, "d": k + 1, "tau": 3.0, "noise": 0.1},
        permissive={"zero", "none"},
    )


@case("data.causal_data")
def _(g, n, k):
    return Call(
        lambda n, k, d_signal, d_detail, signal_noise: data.causal_data(
            n, k, d_signal, d_detail, 2, signal_noise=signal_noise, generator=torch.Generator().manual_seed(0)
        ),
        {"n": n, "k": 2, "d_signal": 2, "d_detail": 2, "signal_noise": 0.5},
        permissive={"zero"},
    )


@case("data.CausalView")
def _(g, n, k):
    q = frame(g, 4, 4).float()
    return Call(
        lambda mixing, x: data.CausalView(mixing, 2, 1, 1)(x, generator=torch.Generator().manual_seed(0)),
        {"mixing": q, "x": rnd(g, n, 4)},
        permissive={"empty", "mixed"},
    )


# objectives -------------------------------------------------------------------------------------


def _predictor_for(k):
    return objectives.predictor("simsiam", k)


for _name in objectives.ALL:
    for _fn in ("loss_terms", "loss"):
        if _name == "simsiam":
            case(f"objectives.{_fn}.{_name}")(
                lambda g, n, k, _f=getattr(objectives, _fn): Call(
                    lambda z1, z2, predictor: _f("simsiam", z1, z2, predictor=predictor),
                    {"z1": rnd(g, n, k), "z2": rnd(g, n, k), "predictor": _predictor_for(k)},
                    kinds={"predictor": "module"},
                )
            )
        else:
            case(f"objectives.{_fn}.{_name}")(
                lambda g, n, k, _f=getattr(objectives, _fn), _n=_name: Call(
                    lambda z1, z2: _f(_n, z1, z2), {"z1": rnd(g, n, k), "z2": rnd(g, n, k)}
                )
            )


@case("objectives.loss_terms.name")
def _(g, n, k):
    z1, z2 = rnd(g, n, k), rnd(g, n, k)
    return Call(lambda name: objectives.loss_terms(name, z1, z2), {"name": "infonce"}, kinds={"name": "str"})


for _name, _params in [
    ("infonce", {"temperature": 0.2}),
    ("barlow_twins", {"lam": 0.05}),
    ("vicreg", {"invariance_weight": 25.0, "variance_weight": 25.0, "covariance_weight": 1.0, "gamma": 1.0}),
]:
    case(f"objectives.loss_terms.{_name}_params")(
        lambda g, n, k, _n=_name, _p=_params: Call(
            lambda z1, z2, **kw: objectives.loss_terms(_n, z1, z2, **kw),
            {"z1": rnd(g, n, k), "z2": rnd(g, n, k), **_p},
            permissive={"zero"},
        )
    )


@case("objectives.needs_predictor")
def _(g, n, k):
    return Call(objectives.needs_predictor, {"name": "simsiam"}, kinds={"name": "str"})


@case("objectives.predictor")
def _(g, n, k):
    return Call(
        objectives.predictor,
        {"name": "simsiam", "k": k, "init": "identity", "dtype": torch.float32},
        kinds={"name": "str", "init": "str", "dtype": "dtype"},
    )


def _sources(n, k):
    gen = torch.Generator().manual_seed(0)
    return {
        "hidden": data.hidden_feature_data(n, k + 1, 3.0, 0.1, generator=gen),
        "pairs": data.SameComponentPairs(torch.randn(3, k, generator=gen), 1.0),
        "planted": data.planted_subspace_views(n, 4, (1.0,), 1, noise_std=0.1, generator=gen),
        "causal": data.causal_data(n, 2, 2, 2, 2, generator=gen),
    }


for _src in ["hidden", "pairs", "planted", "causal"]:
    case(f"objectives.view_pair.{_src}")(
        lambda g, n, k, _s=_src: Call(
            lambda source, n: objectives.view_pair(source, n, generator=torch.Generator().manual_seed(0)),
            {"source": _sources(n, k)[_s], "n": n - 1},
            kinds={"source": "source"},
            permissive=set() if _s == "pairs" else {("n", "none")},
        )
    )


# exercises --------------------------------------------------------------------------------------

_TOY_VALUE = [1.5, -2.0, 3.25]


def _toy_keys() -> str:
    """A key file with one vector exercise (``t-ex-vec``, answer ``_TOY_VALUE``, tol 0.01)."""
    path = Path(tempfile.gettempdir()) / f"sslbook-fuzz-keys-{os.getpid()}.json"
    if not path.exists():
        path.write_text(json.dumps({"t-ex-vec": exercises.make_key("t-ex-vec", "ex_vec", _TOY_VALUE, 0.01)}))
    return str(path)


class _env:
    """Set environment variables for the duration of a call (``None`` unsets)."""

    def __init__(self, **values):
        self.values, self.saved = values, {}

    def __enter__(self):
        for k, v in self.values.items():
            self.saved[k] = os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v


def _check_feedback(label, name, tol, answer):
    """``check`` in a student's notebook: it must never raise; a failed result is turned into a
    ValueError here so that the fuzz contract applies (a wrong call: its message names the argument;
    a wrong answer: feedback on ``answer``). A right result is returned."""
    with _env(SSLBOOK_EXERCISE_KEYS=_toy_keys(), SSLBOOK_CHECKS=None, SSLBOOK_RECORD_ANSWERS=None):
        try:
            r = exercises.check(label, name, tol, namespace={"ex_vec": answer})
        except Exception as err:  # noqa: BLE001
            raise AssertionError(f"check raised {type(err).__name__} in a notebook: {err}") from err
    assert isinstance(r, exercises.CheckResult) and "\n" not in r.message
    if r.passed:
        return r
    if r.kind in ("usage", "no key"):
        raise ValueError(r.message)
    raise ValueError(f"answer: {r.kind}: {r.message}")


def _check_strict(label, name, tol):
    with _env(SSLBOOK_EXERCISE_KEYS=_toy_keys(), SSLBOOK_CHECKS="strict", SSLBOOK_RECORD_ANSWERS=None):
        try:
            return exercises.check(label, name, tol, namespace={"ex_vec": list(_TOY_VALUE)})
        except exercises.ExerciseCheckFailed as err:  # the designed failure under strict: its message
            raise ValueError(str(err)) from None


@case("exercises.check")
def _(g, n, k):
    return Call(
        _check_feedback,
        {"label": "t-ex-vec", "name": "ex_vec", "tol": 0.01, "answer": torch.tensor(_TOY_VALUE)},
        kinds={"label": "str", "name": "str"},
        permissive={("answer", "numpy"), ("answer", "half"), ("tol", "none")},
    )  # None: the key's tolerance


@case("exercises.check.strict")
def _(g, n, k):
    return Call(
        _check_strict,
        {"label": "t-ex-vec", "name": "ex_vec", "tol": 0.01},
        kinds={"label": "str", "name": "str"},
        permissive={("tol", "none")},
    )


@case("exercises.make_key")
def _(g, n, k):
    return Call(
        exercises.make_key,
        {"label": "t-ex", "name": "ex_v", "value": rnd(g, n, k).double().numpy(), "tol": 0.01},
        kinds={"label": "str", "name": "str"},
        permissive={("label", "unknown"), ("name", "unknown")},
    )


@case("exercises.keys")
def _(g, n, k):
    def run(SSLBOOK_EXERCISE_KEYS):  # noqa: N803 - the argument is the environment variable
        with _env(SSLBOOK_EXERCISE_KEYS=SSLBOOK_EXERCISE_KEYS):
            return exercises.keys()

    return Call(run, {"SSLBOOK_EXERCISE_KEYS": _toy_keys()}, kinds={"SSLBOOK_EXERCISE_KEYS": "keyfile"})


@case("exercises.grade_namespace")
def _(g, n, k):
    def run(labels, namespace):
        with _env(SSLBOOK_EXERCISE_KEYS=_toy_keys()):
            return exercises.grade_namespace(labels, namespace)

    return Call(
        run,
        {"labels": ["t-ex-vec"], "namespace": {"ex_vec": list(_TOY_VALUE)}},
        kinds={"labels": "strlist", "namespace": "mapping"},
    )


# --------------------------------------------------------------------------------------------------
# the input classes

TENSOR_CLASSES = [
    "nan",
    "inf",
    "complex",
    "string",
    "none",
    "meta",
    "half",
    "int",
    "ndim",
    "empty",
    "numpy",
    "mixed",
    "tiny",
    "huge",
]
ARRAY_CLASSES = ["nan", "inf", "complex", "string", "none", "meta", "ndim", "empty", "tiny", "huge"]
LABEL_CLASSES = ["fraction", "huge_label", "complex", "string", "length", "negative"]
FLOAT_CLASSES = ["nan", "inf", "negative", "zero", "string", "none", "bool"]
INT_CLASSES = ["negative", "zero", "fraction", "string", "none", "bool", "huge_int"]
#: String choices (objective names, labels, variable names): the other kinds are in ``classes_for``.
STR_CLASSES = ["none", "number", "unknown", "empty"]
#: Input classes for which a finite result is as good as an error (the input is legitimate for some
#: functions): stated per case in ``permissive``; these are always permissive.
ALWAYS_PERMISSIVE = {"tiny", "huge", "empty", "ndim", "mixed"}
#: Arguments for which zero / a negative number is a legitimate value (times, weights, noise levels).
ZERO_OK = {
    "t",
    "t_end",
    "s0",
    "tol",
    "radius",
    "n_points",
    "noise",
    "std",
    "p",
    "redraw",
    "gamma",
    "lam",
    "weight_decay",
    "momentum",
    "n_spikes",
    "spike_var",
    "signal_noise",
    "d_detail",
    "tau",
    "value",
    "default_seed",
    "noise_std",
    "n_nuisance",
    "max_degrees",
    "max_fraction",
    "angle",
    "q",
    "modality_zero",
}
NEGATIVE_OK = {"lam", "angle"}
#: Classes that change a shape: the error may name the argument whose shape no longer matches.
SHAPE_CLASSES = {"empty", "ndim", "length"}


def mutate(value, cls, kind):
    if kind in ("tensor", "array"):
        t = value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value))
        back = (lambda u: u) if kind == "tensor" else (lambda u: u.numpy())
        if cls in ("nan", "inf"):
            u = t.clone(memory_format=torch.contiguous_format)
            u.view(-1)[0] = float(cls)
            return back(u)
        if cls == "complex":
            return back(t.to(torch.complex128 if t.dtype == torch.float64 else torch.complex64))
        if cls == "string":
            return np.full(t.shape, "0.5") if t.ndim else "0.5"
        if cls == "none":
            return None
        if cls == "meta":
            return t.to("meta")
        if cls == "half":
            return t.half()
        if cls == "int":
            return t.long()
        if cls == "ndim":
            return back(t[None])
        if cls == "empty":
            return back(t[:0])
        if cls == "numpy":
            return t.numpy()
        if cls == "mixed":
            return t.to(torch.float32 if t.dtype == torch.float64 else torch.float64)
        if cls == "tiny":
            return back(t * 1e-30)
        if cls == "huge":
            return back(t * 1e30)
    if kind == "labels":
        y = torch.as_tensor(value)
        if cls == "fraction":
            return y.double() + 0.5
        if cls == "huge_label":
            return y.double() * 1e30
        if cls == "complex":
            return y.to(torch.complex64)
        if cls == "string":
            return np.array([str(v) for v in y.tolist()])
        if cls == "length":
            return y[:-1]
        if cls == "negative":
            return y - 5
    if kind == "float":
        return {
            "nan": math.nan,
            "inf": math.inf,
            "negative": -1.0,
            "zero": 0.0,
            "string": "1.0",
            "none": None,
            "bool": True,
        }[cls]
    if kind == "int":
        return {
            "negative": -1,
            "zero": 0,
            "fraction": 2.5,
            "string": "2",
            "none": None,
            "bool": True,
            "huge_int": 10**30,
        }[cls]
    if kind == "str":
        return {"none": None, "number": 3, "unknown": value + "_x", "empty": ""}[cls]
    if kind == "strlist":
        return {"string": value[0], "none": None, "unknown": [value[0] + "-x"], "number": [3]}[cls]
    if kind == "mapping":
        return {"none": None, "list": [("ex_vec", 1.0)], "string": "ex_vec"}[cls]
    if kind == "dtype":
        return {
            "half": torch.float16,
            "int": torch.int64,
            "complex": torch.complex64,
            "string": "float32",
            "none": None,
        }[cls]
    if kind == "module":
        k = value.in_features
        return {
            "string": "linear",
            "none": None,
            "wrong_k": torch.nn.Linear(k + 1, k + 1, bias=False),
            "wrong_dtype": torch.nn.Linear(k, k, bias=False).double(),
            "wrong_output": torch.nn.Linear(k, k + 1, bias=False),
        }[cls]
    if kind == "source":
        return {"none": None, "string": "hidden", "tensor": torch.zeros(4, 2)}[cls]
    if kind == "keyfile":
        folder = Path(tempfile.mkdtemp(prefix="sslbook-fuzz-"))
        texts = {
            "notjson": "{not json",
            "list": "[1, 2]",
            "malformed": json.dumps({"t-ex-vec": {"name": "ex_vec"}}),
            "bad_tol": json.dumps({"t-ex-vec": {**json.loads(Path(value).read_text()), "tol": -1}}),
            "bad_hashes": json.dumps({"t-ex-vec": {**json.loads(Path(value).read_text()), "hashes": ["a"]}}),
        }
        if cls == "missing":
            return str(folder / "missing.json")
        path = folder / "keys.json"
        path.write_text(texts[cls])
        return str(path)
    if kind == "widths":
        return {
            "negative": [value[0], -1, 2],
            "zero": [value[0], 0, 2],
            "fraction": [value[0], 2.5, 2],
            "string": "12",
            "none": None,
            "bool": [True, 2],
            "huge_int": [2],
        }[cls]
    raise AssertionError((cls, kind))


def classes_for(kind):
    return {
        "tensor": TENSOR_CLASSES,
        "array": ARRAY_CLASSES,
        "labels": LABEL_CLASSES,
        "float": FLOAT_CLASSES,
        "int": INT_CLASSES,
        "widths": INT_CLASSES,
        "str": STR_CLASSES,
        "strlist": ["string", "none", "unknown", "number"],
        "mapping": ["none", "list", "string"],
        "dtype": ["half", "int", "complex", "string", "none"],
        "module": ["string", "none", "wrong_k", "wrong_dtype", "wrong_output"],
        "source": ["none", "string", "tensor"],
        "keyfile": ["missing", "notjson", "list", "malformed", "bad_tol", "bad_hashes"],
    }.get(kind, [])


def numbers(out, path="result"):
    """Every float in a result (tensors, arrays, numbers, containers, dataclasses) with its path."""
    if isinstance(out, torch.Tensor):
        if out.is_floating_point():
            yield path, out.detach().double()
    elif isinstance(out, np.ndarray):
        if out.dtype.kind == "f":
            yield path, torch.from_numpy(out.astype(np.float64))
    elif isinstance(out, float):
        yield path, torch.tensor(out, dtype=torch.float64)
    elif isinstance(out, dict):
        for k, v in out.items():
            yield from numbers(v, f"{path}[{k!r}]")
    elif isinstance(out, (list, tuple)):
        for i, v in enumerate(out):
            yield from numbers(v, f"{path}[{i}]")
    elif dataclasses.is_dataclass(out) and not isinstance(out, type):
        for f in dataclasses.fields(out):
            yield from numbers(getattr(out, f.name), f"{path}.{f.name}")


def check_finite(out, what):
    for path, t in numbers(out):
        assert bool(torch.isfinite(t).all()), f"{what}: {path} is not finite (silently wrong result)"


def check_call(name, call, arg, cls, kwargs):
    """The contract: a ValueError/TypeError naming ``arg``, or (when permissive) a finite result."""
    try:
        out = call.fn(**kwargs)
    except (ValueError, TypeError) as err:
        msg = str(err)
        names = set(kwargs) if cls in SHAPE_CLASSES else {arg}
        assert any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(a)}(?![A-Za-z0-9_])", msg) for a in names), (
            f"{name}: {arg} <- {cls}: the error does not name {arg!r}: {type(err).__name__}: {msg}"
        )
        return
    except Exception as err:  # noqa: BLE001 - any other exception breaks the contract
        raise AssertionError(f"{name}: {arg} <- {cls}: raised {type(err).__name__}: {err}") from err
    permissive = (
        cls in ALWAYS_PERMISSIVE
        or cls in call.permissive
        or (arg, cls) in call.permissive
        or (cls == "zero" and arg in ZERO_OK)
        or (cls == "negative" and arg in NEGATIVE_OK)
    )
    assert permissive, f"{name}: {arg} <- {cls}: accepted silently (returned {type(out).__name__})"
    if cls in call.nan_ok or (arg, cls) in call.nan_ok:
        return
    check_finite(out, f"{name}: {arg} <- {cls}")


def run_case(name, g, n, k):
    call = CASES[name](g, n, k)
    if "valid" not in call.skip:
        out = call.fn(**call.kwargs)
        if not call.nan_ok or all(isinstance(c, tuple) for c in call.nan_ok):
            check_finite(out, f"{name} (valid input)")
    for arg, kind in call.kinds.items():
        if arg in call.skip:
            continue
        for cls in classes_for(kind):
            if (arg, cls) in call.skip:
                continue
            call = CASES[name](g, n, k)  # fresh objects: a call may change a model or a generator
            kwargs = dict(call.kwargs)
            kwargs[arg] = mutate(kwargs[arg], cls, kind)
            check_call(name, call, arg, cls, kwargs)


@pytest.mark.parametrize("name", sorted(CASES))
@FUZZ
@given(seed=st.integers(0, 2**16), n=st.integers(4, 7), k=st.integers(2, 4))
def test_bad_input_is_refused_by_name_or_gives_finite_numbers(name, seed, n, k):
    run_case(name, torch.Generator().manual_seed(seed), n, k)


# --------------------------------------------------------------------------------------------------
# coverage: every public function of the concept modules is fuzzed, or listed here with the reason

MODULES = [
    losses,
    models,
    probing,
    spectra,
    hypersphere,
    subspaces,
    coding_rate,
    train,
    umm,
    vae,
    geometry,
    dynamics,
    critical_points,
    config,
    plotting,
    data,
    objectives,
    exercises,
]
#: Public names with no inputs to fuzz, or result containers (frozen dataclasses of computed values).
NOT_FUZZED = {
    "train.History": "a record of the numbers it is given",
    "dynamics.Trajectory": "result container",
    "critical_points.StationaryPoint": "result container",
    "critical_points.InverseFunctionCertificate": "result container",
    "config.Settings": "result container",
    "config.seed": "no argument but an optional default; reads SSLBOOK_SEED (tested in test_models_train)",
    "config.scale": "no argument; reads SSLBOOK_SCALE",
    "config.device": "no argument; reads SSLBOOK_DEVICE",
    "plotting.use_style": "a string choice of seaborn context; no numbers",
    "data.Mixture": "result container",
    "data.PositivePairs": "result container",
    "data.PairedSample": "result container",
    "data.PlantedViews": "result container",
    "data.DigitImages": "result container",
    "data.HiddenFeatureData": "result container",
    "data.CausalData": "result container",
    "exercises.CheckResult": "result container (built by check)",
}


def test_every_public_function_is_fuzzed():
    fuzzed = {name.rsplit(".", 1)[0] if name.count(".") > 1 else name for name in CASES}
    fuzzed |= {name.split(".")[0] + "." + name.split(".")[1] for name in CASES}
    missing = []
    for m in MODULES:
        short = m.__name__.split(".")[-1]
        for n in getattr(m, "__all__", []):
            obj = getattr(m, n)
            if not callable(obj) or inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            key = f"{short}.{n}"
            if key not in fuzzed and key not in NOT_FUZZED:
                missing.append(key)
    assert not missing, f"public functions without a fuzz case: {missing}"
