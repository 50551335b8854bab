"""The built book reads offline and with a clean browser console.

* MathJax 3 is served from the installed ``django-static-mathjax`` package (module ``mathjax``):
  its ``static/`` folder is added to ``html_static_path`` and ``mathjax_path`` points into it, so
  the book renders math with no network and nothing is copied into the repository.
* Repeated inline scripts are dropped (sphinx-thebe's ``const`` declared twice is a SyntaxError on
  every page under Sphinx 7.4), the page gets an inline favicon (no request for a missing
  ``/favicon.ico``) and the theme's default mode is ``auto`` (it follows the reader's setting).
"""

from __future__ import annotations

from pathlib import Path

MATHJAX_FILE = "mathjax/es5/tex-chtml.js"
STATIC = Path(__file__).resolve().parent / "static"

# An inline icon, so that browsers do not ask the server for /favicon.ico (a 404 in the console).
FAVICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
    "%3Crect width='16' height='16' rx='3' fill='%23345'/%3E%3Ccircle cx='5.5' cy='8' r='2.5' fill='%23fc6'/%3E"
    "%3Ccircle cx='10.5' cy='8' r='2.5' fill='%236cf'/%3E%3C/svg%3E"
)


def mathjax_static_dir() -> Path:
    """The folder that holds :data:`MATHJAX_FILE` in the installed ``django-static-mathjax``."""
    import mathjax  # provided by the django-static-mathjax package

    path = Path(mathjax.__file__).resolve().parent / "static"
    if not (path / MATHJAX_FILE).exists():
        raise RuntimeError(f"MathJax not found at {path / MATHJAX_FILE}; reinstall django-static-mathjax")
    return path


def _config_inited(app, config) -> None:
    for static in (str(mathjax_static_dir()), str(STATIC)):
        if static not in config.html_static_path:
            config.html_static_path.append(static)
    config.mathjax_path = MATHJAX_FILE
    # The theme follows the reader's light/dark setting; without this its script logs
    # "Got invalid theme mode" to the console on a reader's first visit.
    config.html_context.setdefault("default_mode", "auto")


def _dedupe_scripts(context) -> None:
    """Drop repeated inline scripts (Sphinx 7.4 adds an inline script registered after the builder
    started twice, once as ``None`` and once as ``''``)."""
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
    if app.builder.format != "html":
        return
    _dedupe_scripts(context)
    if not context.get("favicon_url"):
        context["favicon_url"] = FAVICON


def setup(app) -> None:
    app.connect("config-inited", _config_inited)
    app.add_css_file("sslbook.css")  # from static/, added to html_static_path above
    app.connect("html-page-context", _page_context, priority=502)
