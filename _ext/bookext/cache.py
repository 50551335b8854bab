"""An execution cache that knows ``sslbook``.

The execution cache (``execute_notebooks: cache``) is keyed on each chapter's code, so after an
edit of ``sslbook`` alone an incremental build would show outputs, figures and claims computed by
the old package. The cache folder keeps a digest of the package's sources (:data:`SOURCE_STAMP`);
when it differs from the installed ``sslbook``, the cache is emptied and every chapter re-read and
re-executed.

myst-nb 1.4 also writes a cached chapter to ``jupyter_execute`` without its outputs;
:func:`patch_myst_nb_cache` fixes that, so the claims ledger and the notebooks are complete in
builds that reuse the execution cache; and its merging of stream outputs for display no longer
writes the merged text back into the executed notebook (:func:`patch_myst_nb_merge_streams`).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

SOURCE_STAMP = "sslbook-source.sha256"  # in the execution cache: the sslbook its entries were run with


def package_digest() -> str:
    """SHA-256 of the sources of the installed ``sslbook`` (its ``.py`` files, names included)."""
    import importlib.util

    spec = importlib.util.find_spec("sslbook")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("sslbook is not installed: pip install -r requirements.txt")
    root = Path(next(iter(spec.submodule_search_locations))).resolve()
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def refresh_execution_cache(cache: Path, digest: str) -> bool:
    """Empty the execution cache folder ``cache`` unless it was filled with the sslbook whose
    digest is ``digest``; leave the digest in it. Returns whether it was emptied (a missing or
    empty folder counts as fresh; a cache without a digest, as stale)."""
    stamp = cache / SOURCE_STAMP
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest:
        return False
    stale = cache.is_dir() and any(p.name != SOURCE_STAMP for p in cache.iterdir())
    if stale:
        shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n", encoding="utf-8")
    return stale


def patch_myst_nb_cache() -> None:
    """Make myst-nb write the *executed* notebook to ``_build/jupyter_execute`` on a cache hit
    (a no-op where myst-nb does not have the problem)."""
    try:
        from myst_nb.core.execute.cache import NotebookClientCache
    except ImportError:  # pragma: no cover - another myst-nb layout
        return
    original = NotebookClientCache.start_client
    if getattr(original, "_sslbook_patched", False):
        return

    def start_client(self):
        source = getattr(self, "_notebook", None)
        original(self)
        merged = getattr(self, "_notebook", None)
        if source is not None and merged is not None and merged is not source:
            source.clear()
            source.update(merged)
            self._notebook = source

    start_client._sslbook_patched = True
    NotebookClientCache.start_client = start_client


def patch_myst_nb_merge_streams() -> None:
    """Keep the executed notebook's stream outputs intact when myst-nb merges them for display.

    With ``nb_merge_streams``, myst-nb 1.4 appends every later stream's text to the *first* stream
    output object, which is shared with the executed notebook it writes to ``jupyter_execute``
    (the downloadable notebook): a cell that prints, displays a claim and prints again then shows
    its later lines twice there. The merge is made on a copy instead.
    """
    try:
        from myst_nb.core import render
    except ImportError:  # pragma: no cover - another myst-nb layout
        return
    original = render.coalesce_streams
    if getattr(original, "_sslbook_patched", False):
        return

    def coalesce_streams(outputs):
        import copy

        return original(copy.deepcopy(outputs))

    coalesce_streams._sslbook_patched = True
    render.coalesce_streams = coalesce_streams


def _builder_inited(app) -> None:
    """After myst-nb has set up its configuration: drop cached executions made with another sslbook."""
    config = getattr(app.env, "mystnb_config", None)
    app.env.sslbook_reexecute = False
    if config is None or config.execution_mode != "cache" or not config.execution_cache_path:
        return
    if refresh_execution_cache(Path(config.execution_cache_path), package_digest()):
        from sphinx.util import logging

        logging.getLogger(__name__).info("sslbook changed since the chapters were cached: re-executing them")
        app.env.sslbook_reexecute = True


def _outdated(app, env, added, changed, removed):
    if not getattr(env, "sslbook_reexecute", False):
        return []
    from .notebooks import is_notebook_page

    redo = {doc for doc in env.all_docs if doc not in removed and is_notebook_page(app, doc)}
    return sorted(redo - set(added) - set(changed))


def setup(app) -> None:
    patch_myst_nb_cache()
    patch_myst_nb_merge_streams()
    app.connect("builder-inited", _builder_inited, priority=900)  # after myst-nb's (priority 500)
    app.connect("env-get-outdated", _outdated)
    app.connect("build-finished", _build_finished)


EXECUTED_FILE = "executed.json"  # next to html/: each notebook page's execution (runtime, method, success)


def _build_finished(app, exception) -> None:
    """Write ``_build/executed.json``: how each notebook page was executed in this build (or taken from
    the cache), for the tests of the built book (chapter budgets)."""
    if exception is not None:
        return
    import json

    try:
        from myst_nb.sphinx_ import NbMetadataCollector
    except ImportError:  # pragma: no cover
        return
    out = {}
    for doc in sorted(app.env.all_docs):
        data = (
            NbMetadataCollector.get_exec_data(app.env, doc)
            if doc in NbMetadataCollector.get_doc_data(app.env)
            else None
        )
        if data:
            out[doc] = {k: data.get(k) for k in ("mtime", "runtime", "method", "succeeded")}
    (Path(app.outdir).parent / EXECUTED_FILE).write_text(json.dumps(out, indent=1), encoding="utf-8")
