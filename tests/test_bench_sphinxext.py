"""Benchmark helpers and the book's Sphinx extension (MathJax location, claims read from executed notebooks)."""

import json
from types import SimpleNamespace

import pytest

from sslbook import bench, claims, sphinxext

ROW = {"chapter": "foundations", "seconds": 12.0, "peak_mib": 300.0, "claims": 11, "error": None}


def test_chapter_table_flags_budget_and_errors():
    table = bench.chapter_table([ROW, {**ROW, "chapter": "slow", "seconds": 120.0},
                                 {**ROW, "chapter": "broken", "error": "CellExecutionError: boom"}], budget=90.0)
    lines = table.splitlines()
    assert "foundations" in lines[2] and lines[2].rstrip().endswith("ok") and "0.13" in lines[2]
    assert "OVER BUDGET" in lines[3] and "ERROR CellExecutionError" in lines[4]
    assert lines[-1].startswith("total") and "144.0" in lines[-1]


def test_micro_benchmarks_agree_with_the_reference(monkeypatch):
    monkeypatch.setattr(bench, "_timeit", lambda fn, number: (fn(), 1e-3)[1])
    rows = bench.micro(paper=False)  # each case asserts that sslbook and the reference agree
    assert {r["function"] for r in rows} == {"info_nce", "barlow_twins", "vicreg", "coding_rate", "principal_angles",
                                             "linear_probe", "knn", "ridge_probe"}
    assert all(r["ratio"] == pytest.approx(1.0) for r in rows)
    assert "ratio" in bench.micro_table(rows).splitlines()[0]


def test_to_scripts_writes_plain_python(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/a\n")
    (book / "a.md").write_text("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
                               "    format_version: 0.13\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n# A\n\n"
                               "```{code-cell} ipython3\nx = 1\n```\n")
    (path,) = bench.to_scripts(tmp_path, tmp_path / "scripts")
    assert "\nx = 1" in path.read_text() and "# %%" in path.read_text()
    (book / "a.md").write_text((book / "a.md").read_text().replace("x = 1", "%timeit 1"))
    with pytest.raises(ValueError, match="magics"):
        bench.to_scripts(tmp_path, tmp_path / "scripts")


def test_mathjax_is_installed_where_the_extension_looks():
    assert (sphinxext._mathjax_static_dir() / sphinxext.MATHJAX_FILE).exists()


def test_claims_are_read_from_executed_notebooks(tmp_path):
    rec = {"key": "k", "statement": "s", "quantity": "q", "value": 1.0, "op": ">", "threshold": 0.0, "passed": True,
           "seed": 0, "scale": "book", "extra": {}}
    nb = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "display_data",
                                                        "data": {claims.MIME_TYPE: rec, "text/plain": "x"}}]},
                    {"cell_type": "markdown"}]}
    target = tmp_path / "jupyter_execute" / "book" / "ch.ipynb"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(nb))
    app = SimpleNamespace(outdir=str(tmp_path / "html"))
    assert sphinxext._claims_of(app, "book/ch") == [rec]
    assert sphinxext._claims_of(app, "book/missing") is None


def test_compare_two_results():
    old = {"meta": {"commit": "a"}, "chapters": [{**ROW, "chapter": "x", "seconds": 20.0}], "total_s": 20.0}
    new = {"meta": {"commit": "b"}, "chapters": [{**ROW, "chapter": "x", "seconds": 10.0},
                                                 {**ROW, "chapter": "y", "seconds": 5.0}], "total_s": 15.0}
    text = bench.compare(old, new)
    assert "0.50" in text and "0.75" in text  # x halved, the total dropped by a quarter
    assert "y" in text and "nan" in text  # a chapter missing from the old run is shown without a ratio


def test_markdown_of_a_result():
    result = {"meta": {"commit": "abc", "scale": "book"}, "chapters": [ROW], "total_s": 12.0, "cached_rebuild_s": 9.5,
              "micro": [{"function": "info_nce", "size": "n=8", "sslbook_us": 10.0, "reference_us": 9.0, "ratio": 1.11}]}
    text = bench.markdown(result)
    assert "| foundations | 12.0 | 300 | 90 | 0.13 | 11 |" in text
    assert "whole book" in text and "9.5 s" in text and "| `info_nce` | n=8 | 10 | 9 | 1.11 |" in text


def test_execution_cache_is_emptied_when_sslbook_changes(tmp_path):
    cache = tmp_path / ".jupyter_cache"
    digest = sphinxext.package_digest()
    assert len(digest) == 64 and digest == sphinxext.package_digest()
    # A missing cache is fresh: nothing to empty, but the digest is left for the next build.
    assert not sphinxext._refresh_execution_cache(cache, digest)
    assert (cache / sphinxext.SOURCE_STAMP).read_text().strip() == digest
    (cache / "global.db").write_text("entries")
    assert not sphinxext._refresh_execution_cache(cache, digest)  # same sslbook: kept
    assert (cache / "global.db").exists()
    assert sphinxext._refresh_execution_cache(cache, "0" * 64)  # another sslbook: emptied
    assert sorted(p.name for p in cache.iterdir()) == [sphinxext.SOURCE_STAMP]
    # A cache filled before digests were kept counts as stale.
    (cache / sphinxext.SOURCE_STAMP).unlink()
    (cache / "global.db").write_text("entries")
    assert sphinxext._refresh_execution_cache(cache, digest)
    assert not (cache / "global.db").exists()
