"""Book tooling: the benchmark command, and the book's Sphinx extension (MathJax location, claims read
from executed notebooks, the execution cache, folded checks and the ledger)."""

import json
from types import SimpleNamespace

import pytest

from bookext import cache as bookcache
from bookext import ledger, offline
from sslbook import claims
from tools import bench

ROW = {"chapter": "foundations", "seconds": 12.0, "peak_mib": 300.0, "claims": 11, "error": None}


def test_chapter_table_flags_budget_and_errors():
    table = bench.chapter_table(
        [
            ROW,
            {**ROW, "chapter": "slow", "seconds": 120.0},
            {**ROW, "chapter": "broken", "error": "CellExecutionError: boom"},
        ],
        budget=90.0,
    )
    lines = table.splitlines()
    assert "foundations" in lines[2] and lines[2].rstrip().endswith("ok") and "0.13" in lines[2]
    assert "OVER BUDGET" in lines[3] and "ERROR CellExecutionError" in lines[4]
    assert lines[-1].startswith("total") and "144.0" in lines[-1]


def test_to_scripts_writes_plain_python(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/a\n")
    (book / "a.md").write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "    format_version: 0.13\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n# A\n\n"
        "```{code-cell} ipython3\nx = 1\n```\n"
    )
    (path,) = bench.to_scripts(tmp_path, tmp_path / "scripts")
    assert "\nx = 1" in path.read_text() and "# %%" in path.read_text()
    (book / "a.md").write_text((book / "a.md").read_text().replace("x = 1", "%timeit 1"))
    with pytest.raises(ValueError, match="magics"):
        bench.to_scripts(tmp_path, tmp_path / "scripts")


def test_mathjax_is_installed_where_the_extension_looks():
    assert (offline.mathjax_static_dir() / offline.MATHJAX_FILE).exists()


def test_claims_are_read_from_executed_notebooks(tmp_path):
    rec = {
        "key": "k",
        "statement": "s",
        "quantity": "q",
        "value": 1.0,
        "op": ">",
        "threshold": 0.0,
        "passed": True,
        "seed": 0,
        "scale": "book",
        "extra": {},
    }
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "outputs": [{"output_type": "display_data", "data": {claims.MIME_TYPE: rec, "text/plain": "x"}}],
            },
            {"cell_type": "markdown"},
        ]
    }
    target = tmp_path / "jupyter_execute" / "book" / "ch.ipynb"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(nb))
    app = SimpleNamespace(outdir=str(tmp_path / "html"))
    assert ledger.claims_of(app, "book/ch") == [rec]
    assert ledger.claims_of(app, "book/missing") is None


def test_compare_two_results():
    old = {"meta": {"commit": "a"}, "chapters": [{**ROW, "chapter": "x", "seconds": 20.0}], "total_s": 20.0}
    new = {
        "meta": {"commit": "b"},
        "chapters": [{**ROW, "chapter": "x", "seconds": 10.0}, {**ROW, "chapter": "y", "seconds": 5.0}],
        "total_s": 15.0,
    }
    text = bench.compare(old, new)
    assert "0.50" in text and "0.75" in text  # x halved, the total dropped by a quarter
    assert "y" in text and "nan" in text  # a chapter missing from the old run is shown without a ratio


def test_markdown_of_a_result():
    result = {"meta": {"commit": "abc", "scale": "book"}, "chapters": [ROW], "total_s": 12.0, "cached_rebuild_s": 9.5}
    text = bench.markdown(result)
    assert "| foundations | 12.0 | 300 | 90 | 0.13 | 11 |" in text
    assert "whole book" in text and "9.5 s" in text


def test_execution_cache_is_emptied_when_sslbook_changes(tmp_path):
    cache = tmp_path / ".jupyter_cache"
    digest = bookcache.package_digest()
    assert len(digest) == 64 and digest == bookcache.package_digest()
    # A missing cache is fresh: nothing to empty, but the digest is left for the next build.
    assert not bookcache.refresh_execution_cache(cache, digest)
    assert (cache / bookcache.SOURCE_STAMP).read_text().strip() == digest
    (cache / "global.db").write_text("entries")
    assert not bookcache.refresh_execution_cache(cache, digest)  # same sslbook: kept
    assert (cache / "global.db").exists()
    assert bookcache.refresh_execution_cache(cache, "0" * 64)  # another sslbook: emptied
    assert sorted(p.name for p in cache.iterdir()) == [bookcache.SOURCE_STAMP]
    # A cache filled before digests were kept counts as stale.
    (cache / bookcache.SOURCE_STAMP).unlink()
    (cache / "global.db").write_text("entries")
    assert bookcache.refresh_execution_cache(cache, digest)
    assert not (cache / "global.db").exists()


def test_statements_render_math_and_code():
    html = ledger.rich_text("the angle $\\theta < 1$ of `W` & more")
    assert '<span class="math notranslate nohighlight">\\(\\theta &lt; 1\\)</span>' in html
    assert "<code>W</code>" in html and "&amp; more" in html


def test_fold_summary_counts_kinds():
    recs = [{"kind": "reproduction", "passed": True}] * 6 + [{"kind": "identity", "passed": True}] * 3
    assert ledger.summary_line(recs) == "✔ 9 checks hold: 6 reproductions, 3 identities"
    assert ledger.summary_line([{"kind": "theorem", "passed": True}]) == "✔ 1 check holds: 1 theorem check"
    assert ledger.summary_line(recs + [{"kind": "breakdown", "passed": False}]).startswith("✘ 1 of 10 checks FAIL")


def test_a_claim_output_carries_its_record_for_the_fold():
    claims.clear()
    rec = claims.claim(
        "a $x$",
        1.0,
        ">",
        0.5,
        quantity="q",
        key="k",
        kind="reproduction",
        control=claims.Control(0.1, "init"),
        source="text: 0.5",
    )
    from docutils import nodes

    node = nodes.container()
    node += nodes.raw("", rec.html(), format="html")
    (found,) = ledger._records_of_output(node)
    assert found["key"] == "k" and found["control_value"] == 0.1 and found["statement"] == "a $x$"
    table = ledger.checks_table([found], "claims.html", "ch")
    assert 'id="claim-k"' in table and 'href="claims.html#ledger-ch-k"' in table and "init" in table


def test_import_sslbook_loads_no_book_tooling():
    import subprocess
    import sys

    code = (
        "import sys, sslbook; print(','.join(m for m in ('docutils', 'sphinx', 'pytest', 'nbval', 'nbclient', "
        "'jupytext', 'myst_nb', 'bookext', 'tools') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "", f"import sslbook imports book tooling: {out.stdout.strip()}"


def test_merging_streams_leaves_the_executed_notebook_alone():
    import nbformat
    from myst_nb.core import render

    bookcache.patch_myst_nb_merge_streams()
    outs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "x"}),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
    ]
    merged = render.coalesce_streams(outs)
    assert "".join(o.get("text", "") for o in merged).count("b") == 1
    assert outs[0]["text"] == "a\n" and outs[2]["text"] == "b\n"  # the notebook's own outputs unchanged


def test_myst_becomes_plain_markdown():
    from bookext.plain import leftover_myst, to_plain

    src = """(sec-x)=
Text with {cite:t}`a2024` and {term}`linear probe <probe>`, see {prf:ref}`xx-thm`, {eq}`xx-eq`.

```{prf:theorem} Big result
:label: xx-thm

If $a$ then $b$.
```

````{prf:proof}
Nested:

```{note}
A note.
```
Done.
````

```{math}
:label: xx-eq
a = b
```

```{exercise-start}
:label: xx-ex
```
Do it.
```{exercise-end}
```

```{solution-start} xx-ex
:class: dropdown
```
The answer.
```{solution-end}
```
% a comment
"""
    links = {
        "probe": ("probe", "https://b/glossary.html#term-probe"),
        "xx-thm": ("big result", "https://b/x.html#xx-thm"),
    }
    out = to_plain(src, lambda role, t: links.get(t, (t, None)), lambda role, keys: f"Author ({keys})")
    assert leftover_myst(out) == [], out
    assert "Author (a2024)" in out and "[linear probe](https://b/glossary.html#term-probe)" in out
    assert "**Theorem (Big result).** If $a$ then $b$." in out and "[big result](https://b/x.html#xx-thm)" in out
    assert "*Proof.* Nested:" in out and "> **Note.**" in out and "Done. ∎" in out
    assert "$$\na = b\n$$" in out and "(xx-eq)" in out
    assert "**Exercise.**" in out and "<details>" in out and "</details>" in out and "a comment" not in out
    assert leftover_myst("see {doc}`x` and\n```{note}\n") == ["{doc}`", "```{note}"]


def test_citations_read_author_year():
    from built_book import ROOT

    from bookext.plain import bib_citer

    cite = bib_citer(ROOT / "book" / "references.bib")
    assert cite("cite:t", "qiang2024memorization").startswith("Qiang et al. (2024)")
    assert cite("cite:p", "qiang2024memorization").startswith("(Qiang et al., 2024")
