"""Sphinx extension of the book (listed in ``_config.yml``; not needed to run chapters).

* **Offline MathJax.** Serves MathJax 3 from the installed ``django-static-mathjax`` package
  (module ``mathjax``): its ``static/`` folder is added to ``html_static_path`` and
  ``mathjax_path`` points into it, so the built book renders math with no network and nothing
  is copied into the repository.
* **Claims ledger.** While a chapter is read, the claims it checked (the outputs of MIME type
  :data:`sslbook.claims.MIME_TYPE` in its executed notebook) are stored in the build
  environment. The ``{claims-ledger}`` directive renders them as tables, chapter by chapter, so
  the ledger can list only claims that ran in this build (or in the cached execution of the
  unchanged chapter's current source).
* **Notebooks and launch links.** Every page whose source is a notebook (a jupytext ``.md`` with
  a kernelspec, or an ``.ipynb``) gets a real notebook, written at build time next to the HTML as
  ``_notebooks/<docname>.ipynb``: the source converted with jupytext, carrying the outputs of this
  build's execution (``_build/jupyter_execute``) and, as its first cell, a set-up cell that
  installs ``sslbook`` when it is missing (Colab, a fresh Jupyter). The page gets a line of links
  under its title (download the ``.ipynb``, download the ``.md`` source, open in Colab / Binder),
  the theme's download menu offers that notebook, and the theme's Colab / Binder buttons, which
  would open the ``.md`` source, are pointed at ``<docname>.ipynb`` on the branch named by
  ``launch_buttons.notebook_branch`` in ``_config.yml``; the publishing workflow
  (``.github/workflows/pages.yml``) pushes the same notebooks to that branch.
* **A clean browser console** (checked by ``tests/test_browser.py``): repeated inline scripts are
  dropped (sphinx-thebe's ``const`` declared twice is a SyntaxError on every page under Sphinx
  7.4), the page gets an inline favicon (no request for a missing ``/favicon.ico``) and the
  theme's default mode is ``auto`` (it follows the reader's light/dark setting).
* **A cache that knows sslbook.** The execution cache (``execute_notebooks: cache``) is keyed on
  each chapter's code, so after an edit of ``sslbook`` alone an incremental build would show
  outputs, figures and claims computed by the old package. The cache folder keeps a digest of the
  package's sources (:data:`SOURCE_STAMP`); when it differs from the installed ``sslbook``, the
  cache is emptied and every chapter re-read and re-executed (:func:`_refresh_execution_cache`).
* **Executed notebooks from the cache.** myst-nb 1.4 writes a cached chapter to
  ``jupyter_execute`` without its outputs; :func:`_patch_myst_nb_cache` fixes that, so the
  claims ledger and the notebooks are complete in builds that reuse the execution cache.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive

from .claims import MIME_TYPE, format_threshold as _op_text, format_value as _fmt

MATHJAX_FILE = "mathjax/es5/tex-chtml.js"
NOTEBOOK_DIR = "_notebooks"  # the chapters' notebooks, under the HTML output folder
SETUP_TAG = "sslbook-setup"  # tag of the set-up cell prepended to every downloadable notebook
SOURCE_STAMP = "sslbook-source.sha256"  # in the execution cache: the sslbook its entries were run with


def _mathjax_static_dir() -> Path:
    import mathjax  # provided by the django-static-mathjax package

    path = Path(mathjax.__file__).resolve().parent / "static"
    if not (path / MATHJAX_FILE).exists():
        raise RuntimeError(f"MathJax not found at {path / MATHJAX_FILE}; reinstall django-static-mathjax")
    return path


def _config_inited(app, config) -> None:
    for static in (str(_mathjax_static_dir()), str(Path(__file__).resolve().parent / "_static")):
        if static not in config.html_static_path:
            config.html_static_path.append(static)
    config.mathjax_path = MATHJAX_FILE
    # The theme follows the reader's light/dark setting; without this its script logs
    # "Got invalid theme mode" to the console on a reader's first visit.
    config.html_context.setdefault("default_mode", "auto")


def _patch_myst_nb_cache() -> None:
    """Make myst-nb write the *executed* notebook to ``_build/jupyter_execute`` on a cache hit.

    In myst-nb 1.4, a chapter whose outputs come from the jupyter cache is rendered from a merged
    copy of the notebook, but the notebook written to ``jupyter_execute`` is the original one,
    with no outputs; the claims ledger and the downloadable notebook, which read that file, then
    come out empty on every build that reuses the cache. This copies the merge back into the
    original notebook object (a no-op where myst-nb does not have the problem).
    """
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


class claims_ledger(nodes.General, nodes.Element):
    """Placeholder replaced by the ledger tables once every chapter has been read."""


class ClaimsLedgerDirective(Directive):
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        env.sslbook_ledger_docs = set(getattr(env, "sslbook_ledger_docs", set())) | {env.docname}
        return [claims_ledger("")]


def _claims_of(app, docname: str) -> list[dict[str, Any]] | None:
    ipynb = Path(app.outdir).parent / "jupyter_execute" / (docname + ".ipynb")
    if not ipynb.exists():
        return None
    nb = json.loads(ipynb.read_text(encoding="utf-8"))
    found = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            rec = (out.get("data") or {}).get(MIME_TYPE)
            if rec is not None:
                found.append(json.loads(rec) if isinstance(rec, str) else rec)
    return found


def _doctree_read(app, doctree) -> None:
    env = app.env
    if not hasattr(env, "sslbook_claims"):
        env.sslbook_claims = {}
    env.sslbook_claims.pop(env.docname, None)
    if Path(env.doc2path(env.docname)).suffix not in (".md", ".ipynb"):
        return
    found = _claims_of(app, env.docname)
    if found:
        env.sslbook_claims[env.docname] = found


def _purge(app, env, docname) -> None:
    if hasattr(env, "sslbook_claims"):
        env.sslbook_claims.pop(docname, None)
    if hasattr(env, "sslbook_ledger_docs"):
        env.sslbook_ledger_docs.discard(docname)


def _merge(app, env, docnames, other) -> None:
    if not hasattr(env, "sslbook_claims"):
        env.sslbook_claims = {}
    env.sslbook_claims.update({d: c for d, c in getattr(other, "sslbook_claims", {}).items() if d in docnames})
    env.sslbook_ledger_docs = set(getattr(env, "sslbook_ledger_docs", set())) | set(getattr(other, "sslbook_ledger_docs", set()))


# Modules of the package that chapters do not run: changing them does not change a chapter's outputs.
TOOL_MODULES = ("bench.py", "editions.py", "pytest_plugin.py", "sphinxext.py")


def package_digest() -> str:
    """SHA-256 of the sources of ``sslbook`` that chapters run (its ``.py`` files, names included,
    less :data:`TOOL_MODULES`)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*.py") if p.relative_to(root).as_posix() not in TOOL_MODULES):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _refresh_execution_cache(cache: Path, digest: str) -> bool:
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


def _builder_inited(app) -> None:
    """After myst-nb has set up its configuration: drop cached executions made with another sslbook."""
    config = getattr(app.env, "mystnb_config", None)
    app.env.sslbook_reexecute = False
    if config is None or config.execution_mode != "cache" or not config.execution_cache_path:
        return
    if _refresh_execution_cache(Path(config.execution_cache_path), package_digest()):
        from sphinx.util import logging

        logging.getLogger(__name__).info("sslbook changed since the chapters were cached: re-executing them")
        app.env.sslbook_reexecute = True


def _outdated(app, env, added, changed, removed):
    redo = set()
    if getattr(env, "sslbook_reexecute", False):  # the cache was emptied: re-read every notebook
        redo = {doc for doc in env.all_docs if doc not in removed and _is_notebook_page(app, doc)}
    # The ledger page must be rewritten whenever any chapter was re-read.
    if added or changed or removed or redo:
        redo |= getattr(env, "sslbook_ledger_docs", set())
    return sorted(redo - set(added) - set(changed))


def _table(rows: list[list[str]], header: list[str], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["sslbook-claims"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    thead = nodes.thead()
    group += thead
    hrow = nodes.row()
    for h in header:
        hrow += nodes.entry("", nodes.paragraph(text=h))
    thead += hrow
    tbody = nodes.tbody()
    group += tbody
    for r in rows:
        row = nodes.row()
        for cell in r:
            row += nodes.entry("", nodes.paragraph(text=cell))
        tbody += row
    return table


def _doctree_resolved(app, doctree, docname) -> None:
    env = app.env
    claims: dict[str, list] = getattr(env, "sslbook_claims", {})
    order = [d for d in env.toctree_includes.get(env.config.root_doc, [])]
    for d in sorted(claims):
        if d not in order:
            order.append(d)
    for node in list(doctree.findall(claims_ledger)):
        out: list[nodes.Node] = []
        total = sum(len(claims.get(d, [])) for d in order)
        failed = sum(1 for d in order for r in claims.get(d, []) if not r.get("passed"))
        out.append(nodes.paragraph(text=f"{total} claims checked in this build, in {sum(1 for d in order if claims.get(d))} "
                                        f"chapters; {total - failed} hold, {failed} fail."))
        for d in order:
            recs = claims.get(d)
            if not recs:
                continue
            title = env.titles[d].astext() if d in env.titles else d
            sec = nodes.rubric(text=title, ids=["ledger-" + d.split("/")[-1]])
            out.append(sec)
            rows = []
            for r in recs:
                rows.append([r["key"], r["statement"], r["quantity"], _op_text(r["op"], r["threshold"]),
                             _fmt(float(r["value"])), str(r["seed"]), "pass" if r["passed"] else "FAIL"])
            out.append(_table(rows, ["key", "claim (paper)", "measured quantity", "threshold", "value", "seed", "result"],
                              [10, 30, 26, 10, 8, 5, 6]))
        node.replace_self(out)


# --------------------------------------------------------------------------- notebooks and links

def _is_notebook_page(app, pagename: str) -> bool:
    if pagename not in app.env.all_docs:
        return False
    suffix = Path(app.env.doc2path(pagename)).suffix
    return suffix == ".ipynb" or (suffix == ".md" and "kernelspec" in app.env.metadata.get(pagename, {}))


def _repository(app) -> tuple[str, str, str, str] | None:
    """(org, repo, branch of the notebooks, path of the book in the repository) or None."""
    opts = app.config.html_theme_options or {}
    url = str(opts.get("repository_url", "")).strip("/")
    if "github.com/" not in url:
        return None
    org, repo = url.split("github.com/")[-1].split("/")[:2]
    launch = opts.get("launch_buttons") or {}
    branch = str(launch.get("notebook_branch") or opts.get("repository_branch") or "main")
    book = str(opts.get("path_to_docs", "")).strip("/")
    return org, repo, branch, (book + "/" if book else "")


def _setup_cell(app):
    import nbformat

    repo = _repository(app)
    opts = app.config.html_theme_options or {}
    if repo is None:
        target = "sslbook"
    else:
        org, name, _, _ = repo
        target = f"sslbook @ git+https://github.com/{org}/{name}@{opts.get('repository_branch') or 'main'}"
    source = (
        "# Set-up for a notebook opened outside a clone of the book's repository (Colab, a fresh Jupyter):\n"
        "# install the book's helper package `sslbook` if it is missing; does nothing otherwise.\n"
        "import importlib, importlib.util, subprocess, sys\n"
        "if importlib.util.find_spec(\"sslbook\") is None:\n"
        f"    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"--quiet\", {target!r}], check=True)\n"
        "    importlib.invalidate_caches()"
    )
    return nbformat.v4.new_code_cell(source, metadata={"tags": [SETUP_TAG]})


def _merge_outputs(nb, executed) -> int:
    """Copy outputs of ``executed`` into the code cells of ``nb`` with the same source, in order."""
    done = [c for c in executed.cells if c.cell_type == "code"]
    i = merged = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for j in range(i, len(done)):
            if done[j].source.strip() == cell.source.strip():
                cell.outputs = done[j].get("outputs", [])
                cell.execution_count = done[j].get("execution_count")
                i, merged = j + 1, merged + 1
                break
    return merged


def write_notebook(app, pagename: str) -> Path:
    """Write ``_notebooks/<pagename>.ipynb`` under the HTML output folder and return its path."""
    import jupytext
    import nbformat

    src = Path(app.env.doc2path(pagename))
    nb = jupytext.read(src) if src.suffix == ".md" else nbformat.read(src, as_version=4)
    executed = Path(app.outdir).parent / "jupyter_execute" / (pagename + ".ipynb")
    if executed.exists():
        _merge_outputs(nb, nbformat.read(executed, as_version=4))
    if not (nb.cells and SETUP_TAG in nb.cells[0].get("metadata", {}).get("tags", [])):
        nb.cells.insert(0, _setup_cell(app))
    nb.metadata.pop("jupytext", None)  # a plain notebook, not paired with a text file
    nb.metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"})
    out = Path(app.outdir) / NOTEBOOK_DIR / (pagename + ".ipynb")
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, str(out))
    return out


def _launch_urls(app, pagename: str) -> dict[str, str]:
    """Colab and Binder URLs that open this page's notebook on the notebook branch."""
    repo = _repository(app)
    if repo is None:
        return {}
    org, name, branch, book = repo
    launch = (app.config.html_theme_options or {}).get("launch_buttons") or {}
    path = f"{book}{pagename}.ipynb"
    ui = {"classic": "tree", "jupyterlab": "lab/tree"}.get(launch.get("notebook_interface", "classic"), "tree")
    urls = {}
    if launch.get("colab_url"):
        urls["Colab"] = f"{launch['colab_url'].strip('/')}/github/{org}/{name}/blob/{branch}/{path}"
    if launch.get("binderhub_url"):
        urls["Binder"] = f"{launch['binderhub_url'].strip('/')}/v2/gh/{org}/{name}/{branch}?urlpath={ui}/{path}"
    return urls


# An inline icon, so that browsers do not ask the server for /favicon.ico (a 404 in the console).
FAVICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
           "%3Crect width='16' height='16' rx='3' fill='%23345'/%3E%3Ccircle cx='5.5' cy='8' r='2.5' fill='%23fc6'/%3E"
           "%3Ccircle cx='10.5' cy='8' r='2.5' fill='%236cf'/%3E%3C/svg%3E")


def _dedupe_scripts(context) -> None:
    """Drop repeated inline scripts (Sphinx 7.4 adds an inline script registered after the builder
    started twice, once as ``None`` and once as ``''``; sphinx-thebe's ``const THEBE_JS_URL``
    declared twice is a SyntaxError in every page's console)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        key = (str(getattr(js, "filename", js) or ""), getattr(js, "priority", 0), tuple(sorted(attrs.items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def _page_context(app, pagename, templatename, context, doctree) -> None:
    """After the theme's buttons (priority 501): write the notebook, fix the buttons, add the links."""
    if app.builder.format != "html":
        return
    _dedupe_scripts(context)
    if not context.get("favicon_url"):
        context["favicon_url"] = FAVICON
    if doctree is None or not _is_notebook_page(app, pagename):
        return
    write_notebook(app, pagename)
    pathto = context["pathto"]
    nb_url = pathto(f"{NOTEBOOK_DIR}/{pagename}.ipynb", 1)
    src_url = f"{pathto('_sources', 1)}/{context['sourcename']}" if context.get("sourcename") else None
    launch = _launch_urls(app, pagename)
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            buttons = group["buttons"]
            nb_buttons = [b for b in buttons if b.get("label") == "download-notebook-button"]
            if nb_buttons:
                nb_buttons[0]["url"] = nb_url
            else:
                buttons.insert(0, {"type": "link", "url": nb_url, "text": ".ipynb", "icon": "fas fa-code",
                                   "tooltip": "Download notebook file", "label": "download-notebook-button"})
        elif group.get("label") == "launch-buttons":
            for button in group["buttons"]:
                if button.get("text") in launch:
                    button["url"] = launch[button["text"]]
    name = pagename.split("/")[-1]
    links = [f'<a class="reference download sslbook-download-ipynb" href="{html.escape(nb_url)}" '
             f'download="{html.escape(name)}.ipynb">notebook (.ipynb)</a>']
    if src_url:
        links.append(f'<a class="reference download sslbook-download-source" href="{html.escape(src_url)}" '
                     f'download="{html.escape(Path(context["sourcename"]).name)}">source (.md)</a>')
    for text, url in launch.items():
        links.append(f'<a class="reference external sslbook-launch-{text.lower()}" href="{html.escape(url)}" '
                     f'rel="noopener">open in {text}</a>')
    bar = ('<p class="sslbook-notebook-links"><span class="fa-solid fa-download" aria-hidden="true"></span> '
           "Run this page yourself: " + " · ".join(links) + "</p>")
    body = context.get("body", "")
    at = body.find("</h1>")
    context["body"] = body[: at + 5] + "\n" + bar + body[at + 5:] if at >= 0 else bar + body


def setup(app):
    _patch_myst_nb_cache()
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited, priority=900)  # after myst-nb's (priority 500)
    app.add_css_file("sslbook.css")  # from sslbook/_static, added to html_static_path above
    app.connect("html-page-context", _page_context, priority=502)
    app.add_node(claims_ledger)
    app.add_directive("claims-ledger", ClaimsLedgerDirective)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("doctree-resolved", _doctree_resolved)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
