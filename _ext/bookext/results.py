"""The list of results: every theorem, proposition, lemma, corollary and definition of the book.

``{results-list}`` renders, chapter by chapter in the order of ``_toc.yml``, one line per
``sphinx-proof`` result: its numbered reference ("Theorem 3.2", resolved by sphinx-proof itself, so
it links to the result) and its title. Collected while each chapter is read; the references are
made in a post-transform that runs before Sphinx resolves references.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

LISTED = ("theorem", "proposition", "lemma", "corollary", "definition")


def _title_nodes(title: str) -> list[nodes.Node]:
    """A result's title as text and inline math (``$...$`` becomes a math node, typeset by MathJax)."""
    out: list[nodes.Node] = []
    for i, piece in enumerate(re.split(r"\$([^$]+)\$", title)):
        if piece:
            out.append(nodes.math(piece, piece) if i % 2 else nodes.Text(piece))
    return out


class results_list(nodes.General, nodes.Element):
    """Placeholder for the list of results."""


class ResultsListDirective(Directive):
    has_content = False

    def run(self):
        return [results_list("")]


def _doctree_read(app, doctree) -> None:
    env = app.env
    if not hasattr(env, "sslbook_results"):
        env.sslbook_results = {}
    found = []
    for node in doctree.findall(nodes.Element):
        if node.get("realtype") in LISTED and node.get("label") and "nonumber" not in node.get("classes", []):
            title = str(node.get("title", "")).strip().strip("()").strip()
            found.append((node["label"], node["realtype"], title))
    if found:
        env.sslbook_results[env.docname] = found
    else:
        env.sslbook_results.pop(env.docname, None)


def _purge(app, env, docname) -> None:
    getattr(env, "sslbook_results", {}).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    env.sslbook_results = {
        **getattr(env, "sslbook_results", {}),
        **{d: v for d, v in getattr(other, "sslbook_results", {}).items() if d in docnames},
    }


class FillResultsList(SphinxPostTransform):
    default_priority = 5  # before the references are resolved (priority 10)

    def run(self, **kwargs) -> None:
        placeholders = list(self.document.findall(results_list))
        if not placeholders:
            return
        from .toc import toc_docnames

        results = getattr(self.env, "sslbook_results", {})
        order = toc_docnames(Path(self.app.confdir)) + sorted(
            d for d in results if d not in toc_docnames(Path(self.app.confdir))
        )
        here = self.env.path2doc(self.document["source"]) or ""
        out: list[nodes.Node] = []
        for doc in order:
            if doc not in results:
                continue
            title = self.env.titles[doc].astext() if doc in self.env.titles else doc
            out.append(nodes.rubric(text=title))
            items = nodes.bullet_list()
            for label, _kind, name in results[doc]:
                ref = addnodes.pending_xref(
                    "",
                    nodes.inline("", label),
                    refdomain="prf",
                    reftype="ref",
                    reftarget=label,
                    refdoc=here,
                    refexplicit=False,
                    refwarn=True,
                )
                para = nodes.paragraph("", "", ref)
                if name:
                    para += nodes.Text(": ")
                    para.extend(_title_nodes(name))
                items += nodes.list_item("", para)
            out.append(items)
        for node in placeholders:
            node.replace_self(out or [nodes.paragraph(text="No results.")])
        if any(True for _ in self.document.findall(nodes.math)):
            # math in titles is added after reading, when Sphinx has already decided which pages
            # load MathJax: say this page has math, so that it loads it too
            self.env.get_domain("math").data["has_equations"][self.env.docname] = True


def setup(app) -> None:
    app.add_node(results_list)
    app.add_directive("results-list", ResultsListDirective)
    app.add_post_transform(FillResultsList)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
