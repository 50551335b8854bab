"""The one reader of the book's table of contents (``_toc.yml``), on ``sphinx_external_toc``'s parser.

Used by the chapter harness (``conftest.py``), the tools (``tools/``) and the tests of the built book.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["toc_docnames", "toc_chapters", "is_chapter_source"]


def toc_docnames(root: Path) -> list[str]:
    """Every document of ``root/_toc.yml`` (docnames such as ``book/foundations``), in reading order."""
    from sphinx_external_toc.parsing import parse_toc_yaml

    site = parse_toc_yaml(Path(root) / "_toc.yml")
    order: list[str] = []

    def walk(docname: str) -> None:
        if docname in order:
            return
        order.append(docname)
        doc = site[docname]
        for tree in getattr(doc, "subtrees", []) or []:
            for item in tree.items:
                if isinstance(item, str):
                    walk(item)

    walk(site.root.docname)
    return order


def is_chapter_source(path: Path) -> bool:
    """Whether ``path`` is a jupytext MyST notebook (front matter with ``jupytext`` and a kernelspec)."""
    if not path.is_file() or path.suffix != ".md":
        return False
    head = path.read_text(encoding="utf-8")[:600]
    return head.lstrip().startswith("---") and "\njupytext:" in head and "kernelspec:" in head


def toc_chapters(root: Path) -> list[Path]:
    """Paths of the pages of ``_toc.yml`` that are executable chapters (jupytext notebooks), in order."""
    root = Path(root)
    paths = [root / (name + ".md") for name in toc_docnames(root)]
    return [p for p in paths if is_chapter_source(p)]
