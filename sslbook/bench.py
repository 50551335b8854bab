"""Benchmarks of the book: chapter wall times and memory, a cached rebuild, and hot functions.

::

    python -m sslbook.bench                     # every chapter at the current scale + a cached rebuild
    python -m sslbook.bench --chapters foundations memorization --no-rebuild
    python -m sslbook.bench --micro             # sslbook's hot functions vs the best vectorised form
    python -m sslbook.bench --compare OLD.json NEW.json   # two results side by side
    python -m sslbook.bench --markdown RESULT.json        # a result as Markdown (for the status page)
    python -m sslbook.bench --to-scripts DIR    # write the chapters as plain .py scripts (for a machine
                                                # without Jupyter, e.g. a GPU box), then there:
    python -m sslbook.bench --scripts DIR       # run those scripts, timing each

Results are printed as a table and written as JSON (``--json``, default
``bench-results/<kind>-<scale>-<commit>.json``) so runs can be compared between commits. This is a
benchmark, not a test: the per-chapter budget is enforced by the test suite.

Targets on 2 CPU cores at the ``book`` scale: each chapter at most 90 s (most under 30 s), the whole
book at most 6 minutes, a cached rebuild at most 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from .claims import MIME_TYPE

BUDGET_S = 90.0
BOOK_TARGET_S = 360.0
REBUILD_TARGET_S = 20.0


def _commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# --------------------------------------------------------------------------- chapters

def _run_notebook(path: str) -> dict:
    """Execute one chapter with nbclient in this process' child kernel; report time and peak RSS."""
    import jupytext
    from nbclient import NotebookClient

    from . import config

    nb = jupytext.read(path)
    t0 = time.perf_counter()
    error = None
    timeout = None if config.scale() == "paper" else 1200  # a paper-scale training cell may take an hour on a CPU
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    except Exception as exc:  # report, do not crash the benchmark
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    found = [o["data"][MIME_TYPE] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if MIME_TYPE in (o.get("data") or {})]
    measured = [_measured(json.loads(r) if isinstance(r, str) else r) for r in found]
    return {"seconds": wall, "peak_mib": peak_kib / 1024, "claims": len(found), "error": error,
            "measured": measured}


def _measured(record: dict) -> dict:
    """What a run keeps of a checked claim: its key, the measured value and the check."""
    return {k: record.get(k) for k in ("key", "value", "op", "threshold", "passed")}


def _run_script(path: str) -> dict:
    """Run a chapter converted to a plain script in this process; report time, peak RSS and GPU memory."""
    import runpy

    import matplotlib

    matplotlib.use("Agg")
    t0 = time.perf_counter()
    error = None
    cwd = os.getcwd()
    try:
        os.chdir(Path(path).parent)
        runpy.run_path(path, run_name="__main__")
    except BaseException as exc:  # noqa: BLE001 - a failed chapter is a result
        error = f"{type(exc).__name__}: {exc}"
    finally:
        os.chdir(cwd)
    wall = time.perf_counter() - t0
    out = {"seconds": wall, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "error": error}
    try:
        import torch

        if torch.cuda.is_available():
            out["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
            out["gpu"] = torch.cuda.get_device_name()
    except ImportError:
        pass
    from . import claims as _claims

    out["claims"] = len(_claims.records())
    out["claims_failed"] = sum(not r.passed for r in _claims.records())
    out["measured"] = [_measured(asdict(r)) for r in _claims.records()]
    return out


def _child(mode: str, path: Path) -> dict:
    cmd = [sys.executable, "-m", "sslbook.bench", f"--_{mode}", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{\"seconds\"")]
    if proc.returncode != 0 or not lines:
        return {"seconds": float("nan"), "peak_mib": float("nan"), "claims": 0,
                "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    if mode == "script":
        sys.stdout.write("".join(ln + "\n" for ln in proc.stdout.splitlines() if not ln.startswith("{\"seconds\"")))
    return json.loads(lines[-1])


def chapter_table(rows: list[dict], budget: float | None) -> str:
    head = f"{'chapter':<22}{'wall s':>9}{'peak MiB':>10}{'budget s':>10}{'ratio':>8}{'claims':>8}  status"
    out = [head, "-" * len(head)]
    for r in rows:
        ratio = r["seconds"] / budget if budget else float("nan")
        status = "ok" if not r.get("error") else "ERROR " + r["error"][:60]
        if budget and r["seconds"] > budget:
            status = "OVER BUDGET"
        out.append(f"{r['chapter']:<22}{r['seconds']:9.1f}{r['peak_mib']:10.0f}{(budget or float('nan')):10.0f}"
                   f"{ratio:8.2f}{r.get('claims', 0):8d}  {status}")
    total = sum(r["seconds"] for r in rows)
    out.append("-" * len(head))
    out.append(f"{'total':<22}{total:9.1f}{'':10}{BOOK_TARGET_S if budget else float('nan'):10.0f}")
    return "\n".join(out)


def time_rebuild(root: Path) -> dict:
    """Time ``jupyter-book build . --all`` with a warm execution cache.

    A first, incremental build brings the cache up to date (it executes only the chapters whose code
    changed since they were cached, all of them on a fresh clone); the second, timed build re-reads
    and re-renders every page from the cache, which is what a reader or a CI job pays after editing
    prose.
    """
    t0 = time.perf_counter()
    subprocess.run(["jupyter-book", "build", "."], cwd=root, capture_output=True, check=False)
    result = {"warm_up_build_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    proc = subprocess.run(["jupyter-book", "build", ".", "--all"], cwd=root, capture_output=True, text=True)
    result["cached_rebuild_s"] = time.perf_counter() - t0
    result["rebuild_ok"] = proc.returncode == 0
    return result


def to_scripts(root: Path, out: Path) -> list[Path]:
    """Write every chapter of ``_toc.yml`` as a plain Python script (code cells only)."""
    import jupytext

    from .editions import chapters

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in chapters(root):
        nb = jupytext.read(path)
        for cell in nb.cells:  # IPython-only syntax would not run as a script
            if cell.cell_type == "code" and any(ln.lstrip().startswith(("%", "!")) for ln in cell.source.splitlines()):
                raise ValueError(f"{path.name} uses IPython magics; it cannot run as a plain script")
        target = out / (path.stem + ".py")
        jupytext.write(nb, target, fmt="py:percent")
        written.append(target)
    return written


# --------------------------------------------------------------------------- micro-benchmarks

def _timeit(fn: Callable[[], object], number: int) -> float:
    """CPU seconds of this thread per call of ``fn``, averaged over ``number`` back-to-back calls.

    Thread CPU time rather than wall time: on a virtual machine the time the hypervisor gives to
    other guests (steal) and other processes' time slices are not counted. Functions are timed
    single-threaded (:func:`sslbook.config.set_threads`), so this is all the work they do.
    """
    t0 = time.thread_time()
    for _ in range(number):
        fn()
    return (time.thread_time() - t0) / number


def _compare(ours: Callable[[], object], ref: Callable[[], object], rounds: int = 30,
             window: float = 0.01) -> tuple[float, float, float]:
    """Median seconds per call of ``ours`` and ``ref`` and the median of their paired ratios.

    The two are timed in adjacent windows of about ``window`` seconds, alternating which goes
    first, and each round gives one ratio. A shared or virtual machine drifts by tens of percent
    within seconds; a ratio of adjacent windows cancels that drift, and the median over rounds
    discards the rounds that another process interrupted.
    """
    once = _timeit(ours, 1)  # also a warm-up
    number = max(1, int(window / max(once, 1e-7)))
    _timeit(ref, number)
    t_ours, t_ref, ratios = [], [], []
    for i in range(rounds):
        if i % 2:
            a = _timeit(ours, number)
            b = _timeit(ref, number)
        else:
            b = _timeit(ref, number)
            a = _timeit(ours, number)
        t_ours.append(a)
        t_ref.append(b)
        ratios.append(a / b)
    return statistics.median(t_ours), statistics.median(t_ref), statistics.median(ratios)


def micro(paper: bool = False) -> list[dict]:
    """Time sslbook's hot functions against a reference: the fastest vectorised form of the same
    computation we could write, without input validation. Sizes are those the chapters use (and the
    papers' with ``paper=True``). Each pair is first checked to return the same value. Returns rows
    with the ratio sslbook / reference; the target is at most 1.1."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from sklearn.linear_model import LogisticRegression

    from . import config, losses, metrics, probing

    config.set_threads()  # as in the chapters
    rows: list[dict] = []

    def case(name: str, size: str, ours: Callable[[], object], ref: Callable[[], object], rtol: float = 1e-6) -> None:
        a, b = ours(), ref()
        a = a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=float)
        b = b.detach().cpu().double().numpy() if isinstance(b, torch.Tensor) else np.asarray(b, dtype=float)
        if not np.allclose(a, b, rtol=rtol, atol=1e-8):
            raise AssertionError(f"{name} ({size}): sslbook gives {a}, the reference {b}")
        t_ours, t_ref, ratio = _compare(ours, ref)
        rows.append({"function": name, "size": size, "sslbook_us": t_ours * 1e6, "reference_us": t_ref * 1e6,
                     "ratio": ratio})

    gen = torch.Generator().manual_seed(0)
    for n, k in [(256, 8), (512, 32)] + ([(4096, 128)] if paper else []):
        z1, z2 = torch.randn(n, k, generator=gen), torch.randn(n, k, generator=gen)
        size = f"n={n}, k={k}"

        def ref_info_nce(z1=z1, z2=z2, n=n):
            s = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / 0.5
            t = torch.arange(n)
            return 0.5 * (F.cross_entropy(s, t) + F.cross_entropy(s.T, t))

        def ref_barlow(z1=z1, z2=z2, n=n):
            a = (z1 - z1.mean(0)) / (z1.std(0, unbiased=False) + 1e-5)
            b = (z2 - z2.mean(0)) / (z2.std(0, unbiased=False) + 1e-5)
            c = a.T @ b / n
            d = torch.diagonal(c)
            return (1 - d).pow(2).sum() + 5e-3 * (c.pow(2).sum() - d.pow(2).sum())

        def ref_vicreg(z1=z1, z2=z2, n=n, k=k):
            out = 25 * F.mse_loss(z1, z2)
            for z in (z1, z2):
                out = out + 25 * F.relu(1 - torch.sqrt(z.var(0) + 1e-4)).mean()
                zc = z - z.mean(0)
                cm = zc.T @ zc / (n - 1)
                out = out + (cm.pow(2).sum() - torch.diagonal(cm).pow(2).sum()) / k
            return out


        case("info_nce", size, lambda z1=z1, z2=z2: losses.info_nce(z1, z2), ref_info_nce, rtol=1e-5)
        case("barlow_twins", size, lambda z1=z1, z2=z2: losses.barlow_twins(z1, z2), ref_barlow, rtol=1e-5)
        case("vicreg", size, lambda z1=z1, z2=z2: losses.vicreg(z1, z2), ref_vicreg, rtol=1e-5)

    # Coding rates as the memorisation chapter computes them: 128-dim features of 200 to 2000 samples.
    for n, k in [(200, 128), (1000, 128)] + ([(4096, 512)] if paper else []):
        zd = torch.randn(n, k, generator=gen, dtype=torch.float64)

        def ref_coding_rate(zd=zd, n=n, k=k):
            m = torch.eye(k, dtype=zd.dtype) + (k / (n * 0.25)) * (zd.T @ zd)
            return torch.log(torch.diagonal(torch.linalg.cholesky(m))).sum()

        case("coding_rate", f"n={n}, k={k}", lambda zd=zd: metrics.coding_rate(zd, 0.5), ref_coding_rate)

    rng = np.random.default_rng(0)
    for d, p in [(64, 8)] + ([(1024, 64)] if paper else []):
        a, b = rng.standard_normal((d, p)), rng.standard_normal((d, p))

        def ref_angles(a=a, b=b):
            qa, qb = np.linalg.qr(a)[0], np.linalg.qr(b)[0]
            m = qa.T @ qb
            cos = np.clip(np.linalg.svd(m, compute_uv=False), 0, 1)
            sin = np.clip(np.sort(np.linalg.svd(qb - qa @ m, compute_uv=False)), 0, 1)
            return np.where(cos**2 < 0.5, np.arccos(cos), np.arcsin(sin))

        case("principal_angles", f"d={d}, p={p}", lambda a=a, b=b: metrics.principal_angles(a, b), ref_angles, rtol=1e-9)

    # Probes on class-structured features: 10 classes, Gaussian blobs.
    for n, k in [(600, 32)] + ([(3500, 128)] if paper else []):
        means = 1.5 * rng.standard_normal((10, k))
        ytr, yte = np.arange(n) % 10, np.arange(n // 2) % 10
        ztr = means[ytr] + rng.standard_normal((n, k))
        zte = means[yte] + rng.standard_normal((n // 2, k))
        size = f"n={n}, k={k}"

        def ref_logistic(ztr=ztr, zte=zte, ytr=ytr, yte=yte):
            mu, sd = ztr.mean(0), ztr.std(0)
            clf = LogisticRegression(C=1.0, max_iter=2000).fit((ztr - mu) / sd, ytr)
            return (clf.predict((zte - mu) / sd) == yte).mean()

        def ref_knn(ztr=torch.from_numpy(ztr), zte=torch.from_numpy(zte), ytr=torch.from_numpy(ytr), yte=yte):
            sim = F.normalize(zte, dim=1) @ F.normalize(ztr, dim=1).T
            votes = ytr[sim.topk(5, dim=1).indices]
            return (F.one_hot(votes, 10).sum(1).argmax(1).numpy() == yte).mean()

        case("linear_probe", size, lambda: metrics.linear_probe_accuracy(ztr, ytr, zte, yte), ref_logistic)
        case("knn", size, lambda: metrics.knn_accuracy(ztr, ytr, zte, yte, k=5), ref_knn)

    for n, width, n_test in [(200, 128, 2000)] + ([(1000, 512, 5000)] if paper else []):
        layers = 6
        ftr = [torch.randn(n, width, generator=gen, dtype=torch.float64) for _ in range(layers)]
        fte = [torch.randn(n_test, width, generator=gen, dtype=torch.float64) for _ in range(layers)]
        ytr, yte = torch.arange(n) % 10, torch.arange(n_test) % 10
        ftr = [f + 0.5 * F.one_hot(ytr, width).double() for f in ftr]
        fte = [f + 0.5 * F.one_hot(yte, width).double() for f in fte]

        def ref_ridge(ftr=ftr, fte=fte, ytr=ytr, yte=yte, n=n):
            t = F.one_hot(ytr, 10).double()
            out = []
            for a, b in zip(ftr, fte):
                mu, sd = a.mean(0), a.std(0)
                a, b = (a - mu) / sd, (b - mu) / sd
                p = a.shape[1]
                if p < n:
                    w = torch.cholesky_solve(a.T @ t, torch.linalg.cholesky(a.T @ a + p * torch.eye(p, dtype=a.dtype)))
                else:
                    w = a.T @ torch.cholesky_solve(t, torch.linalg.cholesky(a @ a.T + p * torch.eye(n, dtype=a.dtype)))
                out.append(((b @ w).argmax(1) == yte).double().mean())
            return torch.stack(out)

        case("ridge_probe", f"{layers} layers, n={n}, width={width}",
             lambda ftr=ftr, fte=fte, ytr=ytr, yte=yte: probing.ridge_probe_accuracy(ftr, ytr, fte, yte), ref_ridge)
    return rows


def micro_table(rows: list[dict]) -> str:
    head = f"{'function':<18}{'size':<30}{'sslbook us':>12}{'reference us':>14}{'ratio':>8}"
    out = [head, "-" * len(head)]
    for r in rows:
        flag = "" if r["ratio"] <= 1.1 else "  (> 1.1)"
        out.append(f"{r['function']:<18}{r['size']:<30}{r['sslbook_us']:12.1f}{r['reference_us']:14.1f}{r['ratio']:8.2f}{flag}")
    return "\n".join(out)


# --------------------------------------------------------------------------- comparing runs

def compare(old: dict, new: dict) -> str:
    """A table of two benchmark results (JSON written by this command), row by row, with new / old."""
    lines = [f"old: {old.get('meta', {}).get('commit', '?')} ({old.get('meta', {}).get('time', '?')}), "
             f"new: {new.get('meta', {}).get('commit', '?')} ({new.get('meta', {}).get('time', '?')})"]
    for key, label, value in (("chapters", "chapter", "seconds"), ("micro", "function", "sslbook_us")):
        if key not in old or key not in new:
            continue
        name = (lambda r: r["chapter"]) if key == "chapters" else (lambda r: f"{r['function']} {r['size']}")
        before = {name(r): r[value] for r in old[key]}
        head = f"{label:<44}{'old':>12}{'new':>12}{'new/old':>9}"
        lines += ["", head, "-" * len(head)]
        for r in new[key]:
            o = before.get(name(r))
            ratio = f"{r[value] / o:9.2f}" if o else f"{'':>9}"
            lines.append(f"{name(r):<44}{(o if o is not None else float('nan')):12.1f}{r[value]:12.1f}{ratio}")
    for key in ("total_s", "cached_rebuild_s"):
        if key in old and key in new:
            lines.append(f"{key:<44}{old[key]:12.1f}{new[key]:12.1f}{new[key] / old[key]:9.2f}")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """A result (JSON written by this command) as Markdown tables, for the status page."""
    meta = result.get("meta", {})
    out = [f"Commit `{meta.get('commit', '?')}`, {meta.get('time', '?')}, scale `{meta.get('scale', '?')}`, "
           f"{meta.get('cpus', '?')} CPUs, Python {meta.get('python', '?')}.", ""]
    if "chapters" in result:
        out += ["| chapter | wall s | peak MiB | budget s | ratio | claims |", "|---|---:|---:|---:|---:|---:|"]
        budget = BUDGET_S if meta.get("scale") == "book" else None
        for r in result["chapters"]:
            ratio = f"{r['seconds'] / budget:.2f}" if budget else ""
            out.append(f"| {r['chapter']} | {r['seconds']:.1f} | {r['peak_mib']:.0f} | {f'{budget:.0f}' if budget else ''} | {ratio} | "
                       f"{r.get('claims', 0)}{' (error)' if r.get('error') else ''} |")
        out.append(f"| **whole book** | **{result['total_s']:.1f}** | | {BOOK_TARGET_S:.0f} | "
                   f"{result['total_s'] / BOOK_TARGET_S:.2f} | |")
        if "cached_rebuild_s" in result:
            out += ["", f"Cached rebuild (`jupyter-book build . --all`, warm execution cache): "
                        f"{result['cached_rebuild_s']:.1f} s (target {REBUILD_TARGET_S:.0f} s)."]
    if "micro" in result:
        out += ["| function | size | sslbook µs | reference µs | ratio |", "|---|---|---:|---:|---:|"]
        out += [f"| `{r['function']}` | {r['size']} | {r['sslbook_us']:.0f} | {r['reference_us']:.0f} | {r['ratio']:.2f} |"
                for r in result["micro"]]
    return "\n".join(out)


# --------------------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sslbook.bench", description="Benchmarks of the book.")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--chapters", nargs="*", help="chapter file stems (default: all in _toc.yml)")
    parser.add_argument("--no-rebuild", action="store_true", help="skip timing the cached rebuild")
    parser.add_argument("--micro", action="store_true", help="micro-benchmarks of hot functions")
    parser.add_argument("--to-scripts", type=Path, help="write the chapters as .py scripts into this folder and stop")
    parser.add_argument("--scripts", type=Path, help="run the .py chapter scripts in this folder instead of notebooks")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument("--markdown", type=Path, metavar="RESULT",
                        help="print a result written by this command as Markdown tables and stop")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"),
                        help="compare two results written by this command and stop")
    parser.add_argument("--_notebook", help=argparse.SUPPRESS)
    parser.add_argument("--_script", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._notebook:
        print(json.dumps(_run_notebook(args._notebook)))
        return 0
    if args._script:
        print(json.dumps(_run_script(args._script)))
        return 0

    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    if args.compare:
        old, new = (json.loads(p.read_text()) for p in args.compare)
        print(compare(old, new))
        return 0

    from . import config

    root = args.root.resolve()
    if args.to_scripts:
        for p in to_scripts(root, args.to_scripts):
            print(p)
        return 0
    scale = config.scale()
    budget = BUDGET_S if scale == "book" else None
    meta = {"commit": _commit(root), "scale": scale, "python": platform.python_version(), "machine": platform.node(),
            "cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    result: dict = {"meta": meta}
    kind = "micro" if args.micro else "chapters"
    if args.micro:
        rows = micro(paper=scale == "paper")
        print(micro_table(rows))
        result["micro"] = rows
    else:
        if args.scripts:
            paths = sorted(args.scripts.glob("*.py"))
            mode = "script"
        else:
            from .editions import chapters

            paths = chapters(root)
            mode = "notebook"
        if args.chapters:
            paths = [p for p in paths if p.stem in args.chapters]
        rows = []
        for p in paths:
            print(f"running {p.stem} ...", flush=True)
            r = _child(mode, p)
            r["chapter"] = p.stem
            rows.append(r)
        print(chapter_table(rows, budget))
        result["chapters"] = rows
        result["total_s"] = sum(r["seconds"] for r in rows)
        if not args.no_rebuild and not args.scripts:
            result.update(time_rebuild(root))
            print(f"cached rebuild (jupyter-book build . --all, warm cache): {result['cached_rebuild_s']:.1f} s "
                  f"(target {REBUILD_TARGET_S:.0f} s)")
    target = args.json or root / "bench-results" / f"{kind}-{scale}-{meta['commit']}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1))
    print(f"results written to {target}")
    failed = any(r.get("error") for r in result.get("chapters", []))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
