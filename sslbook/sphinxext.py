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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive

from .claims import MIME_TYPE, _fmt, _op_text

MATHJAX_FILE = "mathjax/es5/tex-chtml.js"


def _mathjax_static_dir() -> Path:
    import mathjax  # provided by the django-static-mathjax package

    path = Path(mathjax.__file__).resolve().parent / "static"
    if not (path / MATHJAX_FILE).exists():
        raise RuntimeError(f"MathJax not found at {path / MATHJAX_FILE}; reinstall django-static-mathjax")
    return path


def _config_inited(app, config) -> None:
    static = str(_mathjax_static_dir())
    if static not in config.html_static_path:
        config.html_static_path.append(static)
    config.mathjax_path = MATHJAX_FILE


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


def _outdated(app, env, added, changed, removed):
    # The ledger page must be rewritten whenever any chapter was re-read.
    if added or changed or removed:
        return sorted(getattr(env, "sslbook_ledger_docs", set()) - set(added) - set(changed))
    return []


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


def setup(app):
    app.connect("config-inited", _config_inited)
    app.add_node(claims_ledger)
    app.add_directive("claims-ledger", ClaimsLedgerDirective)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("doctree-resolved", _doctree_resolved)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
