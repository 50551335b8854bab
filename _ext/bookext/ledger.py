"""Claim checks as readers see them: folded in the chapters, listed in the ledger.

* **Folded checks.** In the HTML of a chapter, every cell that checks claims with
  :func:`sslbook.claims.claim` becomes one collapsed line, "✔ 9 checks hold: 6 reproductions,
  3 identities", which expands to the cell's code and a compact table (kind, statement, measured,
  required, control). Each row has the anchor ``claim-<key>`` and links to its ledger row. The
  records are read from the claims' rich output (``text/html`` carrying the record as JSON).
* **The claims ledger.** While a chapter is read, the claims it checked (the outputs of MIME type
  :data:`sslbook.claims.MIME_TYPE` in its executed notebook) are stored in the build environment.
  The ``{claims-ledger}`` directive renders them, with counts per chapter and kind at the top and
  one row per claim (chapter, kind, statement, measured, threshold, control, margin, seed, scale)
  that links to the claim in its chapter; so the ledger lists only claims that ran in this build
  (or in the cached execution of the unchanged chapter's current source).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.transforms.post_transforms import SphinxPostTransform

from sslbook.claims import KINDS, MIME_TYPE, format_threshold, format_value

PLURAL = {
    "identity": "identities",
    "theorem": "theorem checks",
    "reproduction": "reproductions",
    "breakdown": "breakdowns",
}
SINGULAR = {
    "identity": "identity",
    "theorem": "theorem check",
    "reproduction": "reproduction",
    "breakdown": "breakdown",
}
_MATH = re.compile(r"\$([^$]+)\$")
_CODE = re.compile(r"`([^`]+)`")
_MARKER = re.compile(r'<div class="sslbook-claim" data-claim="([^"]*)"')


def rich_text(text: str) -> str:
    """HTML of a statement: ``$...$`` as inline math for MathJax, backticks as code, the rest escaped."""
    out, pos = [], 0
    for m in _MATH.finditer(text):
        out.append(_code(text[pos : m.start()]))
        out.append(f'<span class="math notranslate nohighlight">\\({html.escape(m.group(1))}\\)</span>')
        pos = m.end()
    out.append(_code(text[pos:]))
    return "".join(out)


def _code(text: str) -> str:
    parts = _CODE.split(text)
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def summary_line(records: list[dict[str, Any]]) -> str:
    """ "✔ 9 checks hold: 6 reproductions, 3 identities" (or how many fail)."""
    counts = {
        k: sum(1 for r in records if r.get("kind") == k) for k in ("reproduction", "theorem", "identity", "breakdown")
    }
    parts = [f"{n} {PLURAL[k] if n != 1 else SINGULAR[k]}" for k, n in counts.items() if n]
    failed = sum(1 for r in records if not r.get("passed"))
    n = len(records)
    head = (
        f"✔ {n} check{'s' if n != 1 else ''} hold{'' if n != 1 else 's'}"
        if not failed
        else f"✘ {failed} of {n} checks FAIL"
    )
    return head + ": " + ", ".join(parts)


def _control_html(r: dict[str, Any]) -> str:
    if r.get("control_value") is None:
        return "–"
    return (
        f'{format_value(r["control_value"])}<br><span class="sslbook-what">{rich_text(r.get("control_what") or "")}'
        "</span>"
    )


def _budgets_html(r: dict[str, Any]) -> str:
    b = r.get("budgets") or {}
    if not b:
        return ""
    return (
        '<br><span class="sslbook-what">budgets: '
        + "; ".join(f"{html.escape(k)}: {rich_text(v)}" for k, v in b.items())
        + "</span>"
    )


def checks_table(records: list[dict[str, Any]], ledger_uri: str | None, chapter: str) -> str:
    """The compact table of one cell's checks."""
    rows = []
    for r in records:
        key = r["key"]
        link = (
            (
                f' <a class="sslbook-ledger-link" href="{html.escape(ledger_uri)}#ledger-{html.escape(chapter)}-'
                f'{html.escape(key)}" title="this claim in the ledger">ledger</a>'
            )
            if ledger_uri
            else ""
        )
        mark = "✔" if r.get("passed") else "✘"
        rows.append(
            f'<tr id="claim-{html.escape(key)}"><td><span class="sslbook-kind sslbook-kind-{html.escape(r.get("kind", ""))}">'
            f"{html.escape(r.get('kind', '?'))}</span></td>"
            f'<td>{rich_text(r["statement"])}<br><span class="sslbook-what">{rich_text(r["quantity"])} · '
            f"<code>{html.escape(key)}</code>{link}</span>{_budgets_html(r)}</td>"
            f"<td>{mark} {format_value(r['value'])}</td><td>{html.escape(format_threshold(r['op'], r['threshold']))}</td>"
            f"<td>{_control_html(r)}</td></tr>"
        )
    return (
        '<table class="sslbook-checks"><thead><tr><th>kind</th><th>statement</th><th>measured</th>'
        "<th>required</th><th>control</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


class claims_fold(nodes.General, nodes.Element):
    """A cell's code and its checks' table, collapsed under one summary line (HTML only)."""


def _visit_fold(self, node) -> None:
    self.body.append(
        f'<details class="sslbook-checks-fold"><summary>{html.escape(node["summary"])}'
        '<span class="sslbook-fold-hint"> (code and table)</span></summary>\n'
    )


def _depart_fold(self, node) -> None:
    self.body.append("</details>\n")


def _pass(self, node) -> None:
    """Other formats show the code and table unfolded (the fold is only made for HTML)."""


def _records_of_output(node: nodes.Element) -> list[dict[str, Any]]:
    """The claim records carried by the raw HTML nodes in ``node`` (``node`` itself included)."""
    found = []
    for raw in node.findall(nodes.raw):
        for m in _MARKER.finditer(raw.astext()):
            found.append(json.loads(html.unescape(m.group(1))))
    return found


class FoldClaimCells(SphinxPostTransform):
    """Fold every cell with claim checks (HTML builders; after myst-nb selected the MIME types,
    before it hides inputs)."""

    default_priority = 198
    formats = ("html",)

    def run(self, **kwargs: Any) -> None:
        docname = self.env.path2doc(self.document["source"]) or ""
        ledger_docs = sorted(getattr(self.env, "sslbook_ledger_docs", set()))
        ledger_uri = self.app.builder.get_relative_uri(docname, ledger_docs[0]) if ledger_docs else None
        chapter = docname.split("/")[-1]
        for cell in list(self.document.findall(nodes.container)):
            if cell.get("nb_element") != "cell_code":
                continue
            records: list[dict[str, Any]] = []
            for raw in list(cell.findall(nodes.raw)):
                found = _records_of_output(raw)
                if not found:
                    continue
                records.extend(found)
                parent = raw.parent
                parent.remove(raw)
                # the output container that held it (myst-nb wraps each output), if now empty
                while (
                    parent is not cell
                    and parent.parent is not None
                    and not parent.children
                    and parent.get("nb_element") != "cell_code_output"
                ):
                    grand = parent.parent
                    grand.remove(parent)
                    parent = grand
            if not records:
                continue
            source = [c for c in cell.children if c.get("nb_element") == "cell_code_source"]
            fold = claims_fold(summary=summary_line(records))
            fold.extend(source)
            fold += nodes.raw("", checks_table(records, ledger_uri, chapter), format="html")
            for c in source:
                cell.remove(c)
            outputs = [c for c in cell.children if c.get("nb_element") == "cell_code_output"]
            for o in outputs:  # drop an output area left empty
                if not any(
                    isinstance(n, (nodes.Text, nodes.image, nodes.raw)) and (not isinstance(n, nodes.Text) or n.strip())
                    for n in o.findall()
                ):
                    cell.remove(o)
            cell.insert(0, fold)


# --------------------------------------------------------------------------- the ledger page


class claims_ledger(nodes.General, nodes.Element):
    """Placeholder replaced by the ledger tables once every chapter has been read."""


class ClaimsLedgerDirective(Directive):
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        env.sslbook_ledger_docs = set(getattr(env, "sslbook_ledger_docs", set())) | {env.docname}
        return [claims_ledger("")]


class execution_status(nodes.General, nodes.Element):
    """Placeholder replaced by the table of the chapters' executions once every chapter has been read."""


class ExecutionStatusDirective(Directive):
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        env.sslbook_status_docs = set(getattr(env, "sslbook_status_docs", set())) | {env.docname}
        return [execution_status("")]


def claims_of(app, docname: str) -> list[dict[str, Any]] | None:
    """The claim records in the executed notebook of ``docname`` (``None`` if it was not executed)."""
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
    found = claims_of(app, env.docname)
    if found:
        env.sslbook_claims[env.docname] = found


def _purge(app, env, docname) -> None:
    if hasattr(env, "sslbook_claims"):
        env.sslbook_claims.pop(docname, None)
    for attr in ("sslbook_ledger_docs", "sslbook_status_docs"):
        if hasattr(env, attr):
            getattr(env, attr).discard(docname)


def _merge(app, env, docnames, other) -> None:
    if not hasattr(env, "sslbook_claims"):
        env.sslbook_claims = {}
    env.sslbook_claims.update({d: c for d, c in getattr(other, "sslbook_claims", {}).items() if d in docnames})
    for attr in ("sslbook_ledger_docs", "sslbook_status_docs"):
        setattr(env, attr, set(getattr(env, attr, set())) | set(getattr(other, attr, set())))


def _outdated(app, env, added, changed, removed):
    # The ledger page must be rewritten whenever any chapter was re-read.
    if added or changed or removed or getattr(env, "sslbook_reexecute", False):
        pages = set(getattr(env, "sslbook_ledger_docs", set())) | set(getattr(env, "sslbook_status_docs", set()))
        return sorted(pages - set(added) - set(changed))
    return []


def ledger_html(app, env, ledger_doc: str, claims: dict[str, list[dict[str, Any]]], order: list[str]) -> str:
    """The ledger: counts per chapter and kind, then one table row per claim."""
    docs = [d for d in order if claims.get(d)]
    total = sum(len(claims[d]) for d in docs)
    failed = sum(1 for d in docs for r in claims[d] if not r.get("passed"))
    out = [
        f'<p class="sslbook-ledger-total">{total} claims checked in this build, in {len(docs)} chapters; '
        f"{total - failed} hold, {failed} fail. Every reproduction is checked against a control that must fail "
        "its threshold.</p>"
    ]
    head = "".join(f"<th>{html.escape(PLURAL[k])}</th>" for k in KINDS)
    count_rows = []
    for d in docs:
        title = env.titles[d].astext() if d in env.titles else d
        cells = "".join(f"<td>{sum(1 for r in claims[d] if r.get('kind') == k)}</td>" for k in KINDS)
        count_rows.append(
            f'<tr><td><a href="#ledger-{html.escape(d.split("/")[-1])}">{html.escape(title)}</a></td>'
            f"{cells}<td>{len(claims[d])}</td></tr>"
        )
    totals = "".join(f"<td>{sum(1 for d in docs for r in claims[d] if r.get('kind') == k)}</td>" for k in KINDS)
    out.append(
        '<table class="sslbook-ledger-counts"><thead><tr><th>chapter</th>' + head + "<th>all</th></tr></thead>"
        "<tbody>" + "".join(count_rows) + f"<tr><td><b>all</b></td>{totals}<td>{total}</td></tr></tbody></table>"
    )
    for d in docs:
        title = env.titles[d].astext() if d in env.titles else d
        chapter = d.split("/")[-1]
        uri = app.builder.get_relative_uri(ledger_doc, d)
        short = chapter.replace("-", " ")
        out.append(
            f'<h2 class="sslbook-ledger-chapter" id="ledger-{html.escape(chapter)}">'
            f'<a href="{html.escape(uri)}">{html.escape(title)}</a></h2>'
        )
        rows = []
        for r in claims[d]:
            key = r["key"]
            margin = r.get("margin")
            rows.append(
                f'<tr id="ledger-{html.escape(chapter)}-{html.escape(key)}">'
                f'<td><a href="{html.escape(uri)}">{html.escape(short)}</a></td>'
                f'<td><span class="sslbook-kind sslbook-kind-{html.escape(r.get("kind", ""))}">{html.escape(r.get("kind", "?"))}'
                f"</span></td>"
                f'<td>{rich_text(r["statement"])}<br><span class="sslbook-what">{rich_text(r["quantity"])} · '
                f'<a href="{html.escape(uri)}#claim-{html.escape(key)}"><code>{html.escape(key)}</code></a></span>'
                f"{_budgets_html(r)}"
                + (
                    f'<br><span class="sslbook-what">threshold from {rich_text(r["source"])}</span>'
                    if r.get("source")
                    else ""
                )
                + f"</td><td>{'✔' if r.get('passed') else '✘'} {format_value(r['value'])}</td>"
                f"<td>{html.escape(format_threshold(r['op'], r['threshold']))}</td><td>{_control_html(r)}</td>"
                f"<td>{format_value(margin) if margin is not None else '–'}</td><td>{r.get('seed')}</td>"
                f"<td>{html.escape(str(r.get('scale')))}</td></tr>"
            )
        out.append(
            '<table class="sslbook-ledger"><thead><tr><th>chapter</th><th>kind</th><th>statement</th><th>measured</th>'
            "<th>threshold</th><th>control</th><th>margin</th><th>seed</th><th>scale</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )
    return "\n".join(out)


def status_html(app, env, status_doc: str, claims: dict[str, list[dict[str, Any]]], order: list[str]) -> str:
    """The readers' execution table: chapter, run time, claims, last executed, result."""
    import datetime

    try:
        from myst_nb.sphinx_ import NbMetadataCollector
    except ImportError:  # pragma: no cover
        return "<p>No execution data.</p>"
    data = NbMetadataCollector.get_doc_data(env)
    rows = []
    for d in order:
        info = data.get(d, {}).get("exec_data") if d in data else None
        if not info:
            continue
        title = env.titles[d].astext() if d in env.titles else d
        recs = claims.get(d, [])
        kinds = ", ".join(
            f"{sum(1 for r in recs if r.get('kind') == k)} {PLURAL[k] if sum(1 for r in recs if r.get('kind') == k) != 1 else SINGULAR[k]}"
            for k in ("reproduction", "theorem", "identity", "breakdown")
            if any(r.get("kind") == k for r in recs)
        )
        when = (
            datetime.datetime.fromtimestamp(info["mtime"], datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
            if info.get("mtime")
            else "–"
        )
        runtime = f"{info['runtime']:.0f} s" if info.get("runtime") is not None else "–"
        ok = "ok" if info.get("succeeded") and all(r.get("passed") for r in recs) else "FAILED"
        uri = app.builder.get_relative_uri(status_doc, d)
        rows.append(
            f'<tr><td><a href="{html.escape(uri)}">{html.escape(title)}</a></td><td>{runtime}</td>'
            f'<td>{len(recs)}<br><span class="sslbook-what">{html.escape(kinds)}</span></td><td>{when}</td>'
            f"<td>{ok}</td></tr>"
        )
    return (
        '<table class="sslbook-ledger-counts sslbook-status"><thead><tr><th>chapter</th><th>run time</th>'
        "<th>claims checked</th><th>last executed</th><th>result</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _doctree_resolved(app, doctree, docname) -> None:
    status_nodes = list(doctree.findall(execution_status))
    nodes_ = list(doctree.findall(claims_ledger))
    if not nodes_ and not status_nodes:
        return
    env = app.env
    claims: dict[str, list] = getattr(env, "sslbook_claims", {})
    from .toc import toc_docnames

    try:
        order = toc_docnames(Path(app.confdir))
    except Exception:  # pragma: no cover - a book without _toc.yml
        order = []
    order += [d for d in sorted(claims) if d not in order]
    for node in status_nodes:
        if app.builder.format == "html":
            node.replace_self(nodes.raw("", status_html(app, env, docname, claims, order), format="html"))
        else:
            node.replace_self(nodes.paragraph(text="See the HTML book for the execution table."))
    for node in nodes_:
        if app.builder.format == "html":
            node.replace_self(nodes.raw("", ledger_html(app, env, docname, claims, order), format="html"))
        else:
            node.replace_self(
                nodes.paragraph(text=f"{sum(len(v) for v in claims.values())} claims; see the HTML ledger.")
            )


def setup(app) -> None:
    app.add_node(claims_fold, html=(_visit_fold, _depart_fold), latex=(_pass, _pass), text=(_pass, _pass))
    app.add_post_transform(FoldClaimCells)
    app.add_node(claims_ledger)
    app.add_directive("claims-ledger", ClaimsLedgerDirective)
    app.add_node(execution_status)
    app.add_directive("execution-status", ExecutionStatusDirective)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("doctree-resolved", _doctree_resolved)
