"""The downloadable notebook of every chapter, and its launch links.

Every page whose source is a notebook (a jupytext ``.md`` with a kernelspec, or an ``.ipynb``) gets
a real notebook, written at build time next to the HTML as ``_notebooks/<docname>.ipynb``: the
source converted with jupytext, carrying the outputs of this build's execution
(``_build/jupyter_execute``) and, as its first cell, a set-up cell that installs ``sslbook`` when
it is missing (Colab, a fresh Jupyter). The page gets a line of links under its title (download
the ``.ipynb``, download the ``.md`` source, open in Colab / Binder), the theme's download menu
offers that notebook, and the theme's Colab / Binder buttons, which would open the ``.md`` source,
are pointed at ``<docname>.ipynb`` on the branch named by ``launch_buttons.notebook_branch`` in
``_config.yml``; the publishing workflow (``.github/workflows/pages.yml``) pushes the same
notebooks to that branch.
"""

from __future__ import annotations

import html
from pathlib import Path

NOTEBOOK_DIR = "_notebooks"  # the chapters' notebooks, under the HTML output folder
SETUP_TAG = "sslbook-setup"  # tag of the set-up cell prepended to every downloadable notebook


def is_notebook_page(app, pagename: str) -> bool:
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
        'if importlib.util.find_spec("sslbook") is None:\n'
        f'    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", {target!r}], check=True)\n'
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


def resolver(app, pagename: str):
    """How a cross-reference of ``pagename`` reads in a plain notebook, and the URL of its target
    in the published HTML book (``html.baseurl`` in ``_config.yml``)."""
    from posixpath import dirname, join, normpath

    base = (app.config.html_baseurl or "").rstrip("/") + "/"
    std = app.env.domaindata.get("std", {})
    labels, anon, objects = std.get("labels", {}), std.get("anonlabels", {}), std.get("objects", {})

    def url(docname: str, anchor: str = "") -> str:
        return base + docname + ".html" + (f"#{anchor}" if anchor else "")

    def resolve(role: str, target: str) -> tuple[str, str | None]:
        if role == "doc":
            if not target:
                return "HTML book", url(pagename)
            doc = normpath(join(dirname(pagename), target)) if not target.startswith("/") else target.lstrip("/")
            title = app.env.titles[doc].astext() if doc in app.env.titles else target
            return title, url(doc)
        if role == "term":
            for (kind, name), value in objects.items():
                if kind == "term" and name.lower() == target.lower():
                    return target, url(value[0], value[1])
            return target, None
        if role == "eq":
            hit = anon.get(target) or anon.get(f"equation-{target}")
            return target, url(hit[0], f"equation-{target}") if hit else None
        if target in labels:
            doc, anchor, title = labels[target]
            return title or target, url(doc, anchor)
        if target in anon:
            doc, anchor = anon[target]
            return target.split("-", 1)[-1].replace("-", " "), url(doc, anchor)
        return target, None

    return resolve


def plain_notebook(app, pagename: str, nb) -> None:
    """Rewrite the notebook's Markdown cells from MyST to plain Markdown + LaTeX (:mod:`bookext.plain`),
    with links into the published book, and fold the code of exercise solutions."""
    from .plain import bib_citer, plain_cells

    bibs = [Path(app.confdir) / b for b in (getattr(app.config, "bibtex_bibfiles", None) or [])]
    cite = bib_citer(bibs[0]) if bibs and bibs[0].exists() else None
    plain_cells(nb, resolver(app, pagename), cite)


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
    plain_notebook(app, pagename, nb)
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


def _page_context(app, pagename, templatename, context, doctree) -> None:
    """After the theme's buttons (priority 501): write the notebook, fix the buttons, add the links."""
    if app.builder.format != "html":
        return
    if doctree is None or not is_notebook_page(app, pagename):
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
                buttons.insert(
                    0,
                    {
                        "type": "link",
                        "url": nb_url,
                        "text": ".ipynb",
                        "icon": "fas fa-code",
                        "tooltip": "Download notebook file",
                        "label": "download-notebook-button",
                    },
                )
        elif group.get("label") == "launch-buttons":
            for button in group["buttons"]:
                if button.get("text") in launch:
                    button["url"] = launch[button["text"]]
    name = pagename.split("/")[-1]
    links = [
        f'<a class="reference download sslbook-download-ipynb" href="{html.escape(nb_url)}" '
        f'download="{html.escape(name)}.ipynb">notebook (.ipynb)</a>'
    ]
    if src_url:
        links.append(
            f'<a class="reference download sslbook-download-source" href="{html.escape(src_url)}" '
            f'download="{html.escape(Path(context["sourcename"]).name)}">source (.md)</a>'
        )
    for text, url in launch.items():
        links.append(
            f'<a class="reference external sslbook-launch-{text.lower()}" href="{html.escape(url)}" '
            f'rel="noopener">open in {text}</a>'
        )
    bar = (
        '<p class="sslbook-notebook-links"><span class="fa-solid fa-download" aria-hidden="true"></span> '
        "Run this page yourself: " + " · ".join(links) + "</p>"
    )
    body = context.get("body", "")
    at = body.find("</h1>")
    context["body"] = body[: at + 5] + "\n" + bar + body[at + 5 :] if at >= 0 else bar + body


EDITIONS_DIR = "_downloads/editions"  # under the HTML output folder: student.zip and instructor.zip


def _write_editions(app, exception) -> None:
    """The student and instructor notebook editions (``tools/editions.py``) as downloads of the site."""
    if exception is not None or app.builder.format != "html":
        return
    import sys

    root = str(Path(app.confdir))
    if root not in sys.path:
        sys.path.insert(0, root)
    from tools.editions import zip_editions

    zip_editions(Path(app.confdir), Path(app.outdir) / EDITIONS_DIR)


def setup(app) -> None:
    app.connect("html-page-context", _page_context, priority=502)
    app.connect("build-finished", _write_editions)
