"""Benchmarks of the book: chapter wall times and memory, and a cached rebuild.

::

    python -m tools.bench                     # every chapter at the current scale + a cached rebuild
    python -m tools.bench --chapters foundations memorization --no-rebuild
    python -m tools.bench --compare OLD.json NEW.json   # two results side by side
    python -m tools.bench --markdown RESULT.json        # a result as Markdown (for the status page)
    python -m tools.bench --to-scripts DIR    # write the chapters as plain .py scripts (for a machine
                                                # without Jupyter, e.g. a GPU box), then there:
    python -m tools.bench --scripts DIR       # run those scripts, timing each

Results are printed as a table and written as JSON (``--json``, default
``bench-results/<kind>-<scale>-<commit>.json``) so runs can be compared between commits. This is a
benchmark, not a test: the per-chapter budget is enforced by the test suite. Hot functions of
``sslbook`` are timed by ``pytest-benchmark`` tests outside the default test paths:
``python -m pytest benchmarks/ -o addopts="" -p no:xdist``.

Targets on 2 CPU cores at the ``book`` scale: each chapter at most 90 s (most under 30 s), the whole
book at most 6 minutes, a cached rebuild at most 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))

from bookext.toc import toc_chapters  # noqa: E402
from sslbook.claims import MIME_TYPE  # noqa: E402

BUDGET_S = 90.0
BOOK_TARGET_S = 360.0
REBUILD_TARGET_S = 20.0


def _commit(root: Path) -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# --------------------------------------------------------------------------- chapters


def _run_notebook(path: str) -> dict:
    """Execute one chapter with nbclient in this process' child kernel; report time and peak RSS."""
    import jupytext
    from nbclient import NotebookClient

    from sslbook import config

    nb = jupytext.read(path)
    t0 = time.perf_counter()
    error = None
    timeout = None if config.scale() == "paper" else 1200  # a paper-scale training cell may take an hour on a CPU
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(Path(path).parent)}}
        ).execute()
    except Exception as exc:  # report, do not crash the benchmark
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    found = [
        o["data"][MIME_TYPE]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if MIME_TYPE in (o.get("data") or {})
    ]
    measured = [_measured(json.loads(r) if isinstance(r, str) else r) for r in found]
    return {"seconds": wall, "peak_mib": peak_kib / 1024, "claims": len(found), "error": error, "measured": measured}


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
    from sslbook import claims as _claims

    out["claims"] = len(_claims.records())
    out["claims_failed"] = sum(not r.passed for r in _claims.records())
    out["measured"] = [_measured(asdict(r)) for r in _claims.records()]
    return out


def _child(mode: str, path: Path) -> dict:
    cmd = [sys.executable, "-m", "tools.bench", f"--_{mode}", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{"seconds"')]
    if proc.returncode != 0 or not lines:
        return {
            "seconds": float("nan"),
            "peak_mib": float("nan"),
            "claims": 0,
            "error": (proc.stderr.strip().splitlines() or ["failed"])[-1],
        }
    if mode == "script":
        sys.stdout.write("".join(ln + "\n" for ln in proc.stdout.splitlines() if not ln.startswith('{"seconds"')))
    return json.loads(lines[-1])


def chapter_table(rows: list[dict], budget: float | None) -> str:
    head = f"{'chapter':<22}{'wall s':>9}{'peak MiB':>10}{'budget s':>10}{'ratio':>8}{'claims':>8}  status"
    out = [head, "-" * len(head)]
    for r in rows:
        ratio = r["seconds"] / budget if budget else float("nan")
        status = "ok" if not r.get("error") else "ERROR " + r["error"][:60]
        if budget and r["seconds"] > budget:
            status = "OVER BUDGET"
        out.append(
            f"{r['chapter']:<22}{r['seconds']:9.1f}{r['peak_mib']:10.0f}{(budget or float('nan')):10.0f}"
            f"{ratio:8.2f}{r.get('claims', 0):8d}  {status}"
        )
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

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in toc_chapters(root):
        nb = jupytext.read(path)
        for cell in nb.cells:  # IPython-only syntax would not run as a script
            if cell.cell_type == "code" and any(ln.lstrip().startswith(("%", "!")) for ln in cell.source.splitlines()):
                raise ValueError(f"{path.name} uses IPython magics; it cannot run as a plain script")
        target = out / (path.stem + ".py")
        jupytext.write(nb, target, fmt="py:percent")
        written.append(target)
    return written


# --------------------------------------------------------------------------- comparing runs


def compare(old: dict, new: dict) -> str:
    """A table of two benchmark results (JSON written by this command), row by row, with new / old."""
    lines = [
        f"old: {old.get('meta', {}).get('commit', '?')} ({old.get('meta', {}).get('time', '?')}), "
        f"new: {new.get('meta', {}).get('commit', '?')} ({new.get('meta', {}).get('time', '?')})"
    ]
    for key, label, value in (("chapters", "chapter", "seconds"),):
        if key not in old or key not in new:
            continue
        name = lambda r: r["chapter"]  # noqa: E731
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
    out = [
        f"Commit `{meta.get('commit', '?')}`, {meta.get('time', '?')}, scale `{meta.get('scale', '?')}`, "
        f"{meta.get('cpus', '?')} CPUs, Python {meta.get('python', '?')}.",
        "",
    ]
    if "chapters" in result:
        out += ["| chapter | wall s | peak MiB | budget s | ratio | claims |", "|---|---:|---:|---:|---:|---:|"]
        budget = BUDGET_S if meta.get("scale") == "book" else None
        for r in result["chapters"]:
            ratio = f"{r['seconds'] / budget:.2f}" if budget else ""
            out.append(
                f"| {r['chapter']} | {r['seconds']:.1f} | {r['peak_mib']:.0f} | {f'{budget:.0f}' if budget else ''} | {ratio} | "
                f"{r.get('claims', 0)}{' (error)' if r.get('error') else ''} |"
            )
        out.append(
            f"| **whole book** | **{result['total_s']:.1f}** | | {BOOK_TARGET_S:.0f} | "
            f"{result['total_s'] / BOOK_TARGET_S:.2f} | |"
        )
        if "cached_rebuild_s" in result:
            out += [
                "",
                f"Cached rebuild (`jupyter-book build . --all`, warm execution cache): "
                f"{result['cached_rebuild_s']:.1f} s (target {REBUILD_TARGET_S:.0f} s).",
            ]
    return "\n".join(out)


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description="Benchmarks of the book.")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--chapters", nargs="*", help="chapter file stems (default: all in _toc.yml)")
    parser.add_argument("--no-rebuild", action="store_true", help="skip timing the cached rebuild")
    parser.add_argument("--to-scripts", type=Path, help="write the chapters as .py scripts into this folder and stop")
    parser.add_argument("--scripts", type=Path, help="run the .py chapter scripts in this folder instead of notebooks")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULT",
        help="print a result written by this command as Markdown tables and stop",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("OLD", "NEW"),
        help="compare two results written by this command and stop",
    )
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

    from sslbook import config

    root = args.root.resolve()
    if args.to_scripts:
        for p in to_scripts(root, args.to_scripts):
            print(p)
        return 0
    scale = config.scale()
    budget = BUDGET_S if scale == "book" else None
    meta = {
        "commit": _commit(root),
        "scale": scale,
        "python": platform.python_version(),
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    result: dict = {"meta": meta}
    kind = "chapters"
    if True:
        if args.scripts:
            paths = sorted(args.scripts.glob("*.py"))
            mode = "script"
        else:
            paths = toc_chapters(root)
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
            print(
                f"cached rebuild (jupyter-book build . --all, warm cache): {result['cached_rebuild_s']:.1f} s "
                f"(target {REBUILD_TARGET_S:.0f} s)"
            )
    target = args.json or root / "bench-results" / f"{kind}-{scale}-{meta['commit']}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1))
    print(f"results written to {target}")
    failed = any(r.get("error") for r in result.get("chapters", []))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
