"""The book's Sphinx extension, loaded by ``_config.yml`` (``sphinx: local_extensions``).

Not part of the ``sslbook`` package that readers import: this is tooling of the book, split by
concern:

* :mod:`bookext.offline`: MathJax 3 served from the installed ``django-static-mathjax`` package, a
  clean browser console (inline favicon, deduplicated inline scripts, the theme's ``auto`` mode);
* :mod:`bookext.cache`: an execution cache that knows ``sslbook`` (emptied when the package's
  sources change) and executed notebooks written from the cache;
* :mod:`bookext.notebooks`: the downloadable notebook of every chapter and its launch links;
* :mod:`bookext.ledger`: each cell's claim checks folded into one line with a table, and the
  claims ledger page;
* :mod:`bookext.results`: the list of theorems, propositions and definitions;
* :mod:`bookext.plain`: MyST to plain Markdown for the downloadable notebooks;
* :mod:`bookext.toc`: the one reader of ``_toc.yml`` (used by the tests and the tools too).
"""

from __future__ import annotations


def setup(app):
    from . import cache, ledger, notebooks, offline, results

    for module in (offline, cache, notebooks, ledger, results):
        module.setup(app)
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 2}
