"""The built book as a reader sees it, in a real headless Chromium with no network.

Run after a build (``.ci/run`` runs it after the strict build)::

    python -m pytest tests/test_browser.py -p no:xdist -o addopts="" -q

Every HTML page of the build is served on localhost and opened in Chromium, once with the reader's
system in light mode and once in dark mode (``prefers-color-scheme``; the theme follows it). Every
host name except ``localhost`` fails to resolve, so a page that needs the network fails here. On
each page the test waits for MathJax to typeset and checks that

* every math element became rendered math (``mjx-container``), MathJax reported no TeX error, and
  no raw ``$...$``, ``$$``, ``\\(`` or ``\\[`` is left in the text;
* every ``<img>`` loaded, and every figure in the page body is opaque (a transparent figure with
  dark text is unreadable in dark mode);
* the browser console shows no error (a missing file, a script error, a blocked request);
* the theme really is in the requested mode.
* at phone width (390 px, checked once per page), every display equation wider than the screen
  scrolls instead of being cut, and no equation number is drawn over its equation.

It saves a full-page screenshot of each page in each mode, for a human to look at, under
``<html>/../screenshots/{light,dark}/`` (``_build/screenshots/``). A second test downloads each
chapter's notebook and ``.md`` source by clicking the links on its page, and checks the notebook
is a valid ``.ipynb`` with the chapter's code and the Colab/Binder links point at it.

Environment: ``SSLBOOK_HTML`` (the built HTML folder, default ``_build/html``),
``SSLBOOK_SCREENSHOTS`` (where screenshots go), ``SSLBOOK_CHROMIUM`` and ``SSLBOOK_CHROMEDRIVER``
(the browser and its driver, default: found on ``PATH``; Debian's packages ``chromium`` and
``chromium-driver``, installed by ``.ci/browser-setup``). Skipped, with a message, when the book is
not built, or when Chromium, ChromeDriver or selenium cannot be found. The last tests, of the
pieces of the book's extension (``_ext/bookext``) that make the notebooks and links, need neither and always run.
"""

from __future__ import annotations

import base64
import functools
import http.server
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("SSLBOOK_HTML") or ROOT / "_build" / "html").resolve()
SHOTS = Path(os.environ.get("SSLBOOK_SCREENSHOTS") or HTML.parent / "screenshots").resolve()
MODES = ("light", "dark")
SHOT_TILE = 8000  # px; a longer page is saved in several screenshots, one per tile
TYPESET_TIMEOUT = 120  # s; MathJax on a long chapter, on a busy 2-core machine


def _find(env: str, *names: str) -> str | None:
    if os.environ.get(env):
        return os.environ[env] if Path(os.environ[env]).exists() else None
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _find("SSLBOOK_CHROMIUM", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMEDRIVER = _find("SSLBOOK_CHROMEDRIVER", "chromedriver")


def _skip_reason() -> str | None:
    from built_book import stale_build_reason

    stale = stale_build_reason(HTML, ROOT)
    if stale and (not os.environ.get("SSLBOOK_HTML") or not (HTML / "index.html").exists()):
        return stale
    if CHROMIUM is None or CHROMEDRIVER is None:
        return (
            "Chromium or ChromeDriver not found: install Debian's `chromium` and `chromium-driver` "
            "(`bash .ci/browser-setup`) or set SSLBOOK_CHROMIUM / SSLBOOK_CHROMEDRIVER"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -r requirements.txt"
    return None


SKIP = _skip_reason()
needs_browser = pytest.mark.skipif(SKIP is not None, reason=SKIP or "")


def pages() -> list[str]:
    """Every HTML page of the build (relative paths), except the root redirect."""
    if not HTML.exists():
        return []
    skip = {"_static", "_sources", "_notebooks", "_images"}
    found = sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html") if not skip & set(p.relative_to(HTML).parts))
    return [p for p in found if p != "index.html"]


def chapter_pages() -> list[str]:
    """Pages whose source is a jupytext notebook (the chapters): they must link their notebook."""
    out = []
    for page in pages():
        src = HTML / "_sources" / Path(page).with_suffix(".md")
        if src.exists():
            head = src.read_text(encoding="utf-8")[:400]
            if head.lstrip().startswith("---") and "\njupytext:" in head:
                out.append(page)
    return out


# ----------------------------------------------------------------------------------- fixtures


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".ipynb": "application/x-ipynb+json",
        ".md": "text/markdown",
        ".js": "text/javascript",
    }

    def log_message(self, *args):  # keep the test output readable
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def downloads():
    with tempfile.TemporaryDirectory(prefix="sslbook-downloads-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def browser(downloads):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="sslbook-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        "--window-size=1280,900",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        # offline: no host name resolves but localhost (the book is served on 127.0.0.1)
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    opts.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    # The driver is given explicitly, so selenium never tries to download one.
    service = Service(executable_path=CHROMEDRIVER, log_output=os.devnull)
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(TYPESET_TIMEOUT)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


# ----------------------------------------------------------------------------------- helpers


def _console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _open(driver, url: str, mode: str) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": mode}]}
    )
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    for _ in range(200):
        if driver.execute_script("return document.readyState") == "complete":
            return
        time.sleep(0.05)
    raise AssertionError(f"{url} did not finish loading")


_TYPESET_JS = """
const done = arguments[arguments.length - 1];
const start = Date.now();
if (!document.querySelector("script[src*='tex-chtml']")) { done("no-mathjax"); return; }
(function wait() {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    mj.startup.promise.then(() => done("ok")).catch(e => done("error: " + e));
  } else if (Date.now() - start > 20000) {
    done("MathJax script present but never started");
  } else { setTimeout(wait, 100); }
})();
"""

_MATH_JS = r"""
const sources = document.querySelectorAll("span.math, div.math");
const rendered = document.querySelectorAll("mjx-container");
const errors = Array.from(document.querySelectorAll("mjx-merror")).map(e => e.getAttribute("data-mjx-error") || e.textContent);
// TeX that MathJax could not read: an merror, or an undefined macro (shown in red by noundefined)
try {
  for (const item of window.MathJax.startup.document.math) {
    const mml = window.MathJax.startup.toMML(item.root);
    if (/<merror|mathcolor="red"/.test(mml)) errors.push(item.math);
  }
} catch (e) { if (window.MathJax && window.MathJax.startup) errors.push("could not inspect the typeset math: " + e); }
const body = (document.querySelector("main") || document.body).cloneNode(true);
body.querySelectorAll("script, style, pre, code, textarea, mjx-container, .highlight, .headerlink").forEach(e => e.remove());
return {sources: sources.length, rendered: rendered.length, errors: errors, text: body.textContent};
"""

_IMAGES_JS = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(i => { i.loading = "eager"; });
const start = Date.now();
(function wait() {
  if (imgs.every(i => i.complete) || Date.now() - start > 20000) {
    done(imgs.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0,
                          figure: !!i.closest("article") && !i.closest(".only-dark, .only-light, .dark-light")
                                  && !i.classList.contains("only-dark") && !i.classList.contains("only-light")
                                  && !i.classList.contains("dark-light")})));
  } else { setTimeout(wait, 100); }
})();
"""

_OPAQUE_JS = """
// fraction of (partly) transparent pixels of a loaded image, drawn at most 256 px wide
const img = arguments[0];
const w = Math.min(256, img.naturalWidth), h = Math.max(1, Math.round(img.naturalHeight * w / img.naturalWidth));
const c = document.createElement("canvas"); c.width = w; c.height = h;
const ctx = c.getContext("2d"); ctx.drawImage(img, 0, 0, w, h);
const d = ctx.getImageData(0, 0, w, h).data;
let clear = 0; for (let k = 3; k < d.length; k += 4) if (d[k] < 250) clear++;
return clear / (w * h);
"""

RAW_MATH = [
    (re.compile(r"\\\(|\\\)"), r"\( ... \)"),
    (re.compile(r"\\\[|\\\]"), r"\[ ... \]"),
    (re.compile(r"\$\$"), "$$"),
    (re.compile(r"(?<![\w\\$])\$(?=[^\s$])[^$\n]{1,200}?(?<=[^\s\\])\$(?![\w$])"), "$...$"),
    (re.compile(r"\\begin\{"), r"\begin{"),
]


def _screenshot(driver, path: Path) -> list[Path]:
    """Full-page screenshot, in tiles of at most ``SHOT_TILE`` px (``name.png``, ``name.2.png``, ...).

    The viewport is made one tile tall and scrolled tile by tile (Chromium's own
    ``captureBeyondViewport`` draws dark-mode pages shifted sideways), then restored."""
    height = int(driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)"))
    tile = max(900, min(height, SHOT_TILE))
    for old in path.parent.glob(path.stem + ".*png"):
        old.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1280, "height": tile, "deviceScaleFactor": 1, "mobile": False}
    )
    try:
        for k, top in enumerate(range(0, max(height, 1), tile)):
            driver.execute_script("window.scrollTo(0, arguments[0])", top)
            time.sleep(0.3)  # let the theme's sticky header and sidebars settle
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
            target = path if k == 0 else path.with_name(f"{path.stem}.{k + 1}.png")
            target.write_bytes(base64.b64decode(shot["data"]))
            written.append(target)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.execute_script("window.scrollTo(0, 0)")
    return written


PHONE_WIDTH = 390  # px, a common phone in portrait

_PHONE_JS = """
const out = [];
const scrolls = e => e && ["auto", "scroll"].includes(getComputedStyle(e).overflowX);
for (const el of document.querySelectorAll("div.math")) {
  const box = el.getBoundingClientRect();
  if (box.width === 0) continue;  // not displayed (inside a closed dropdown)
  const wrap = el.closest("div.math-wrapper");
  if (el.scrollWidth > el.clientWidth + 1 && !scrolls(el)) {
    out.push("a display equation is cut, not scrollable: " + el.textContent.trim().slice(0, 60));
  }
  if (box.right > window.innerWidth + 1 && !scrolls(el) && !scrolls(wrap)) {
    out.push("a display equation runs off the screen: " + el.textContent.trim().slice(0, 60));
  }
  const no = el.querySelector("span.eqno"), mj = el.querySelector("mjx-container");
  if (no && mj) {
    const a = no.getBoundingClientRect(), b = mj.getBoundingClientRect();
    if (a.width && b.width && a.left < b.right - 1 && b.left < a.right - 1 &&
        a.top < b.bottom - 1 && b.top < a.bottom - 1) {
      out.push("an equation number is drawn over its equation: " + no.textContent.trim());
    }
  }
}
return out;
"""


def _phone_problems(driver) -> list[str]:
    """Display math at phone width: wide equations scroll (never cut), numbers beside, not over."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE_WIDTH, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        time.sleep(0.5)  # let the layout settle at the new width
        return driver.execute_script(_PHONE_JS)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


# ----------------------------------------------------------------------------------- tests


@needs_browser
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("page", pages() or ["<no pages>"])
def test_page_renders_offline(browser, server, page, mode):
    """Math typeset, images loaded and opaque, no console error, the theme in the reader's mode."""
    driver = browser
    _open(driver, f"{server}/{page}", mode)
    problems: list[str] = []

    state = driver.execute_async_script(_TYPESET_JS)
    math = driver.execute_script(_MATH_JS)
    if math["sources"]:
        if state != "ok":
            problems.append(f"{math['sources']} math elements but MathJax did not typeset them: {state}")
        elif math["rendered"] < math["sources"]:
            problems.append(f"only {math['rendered']} of {math['sources']} math elements rendered")
    elif state not in ("ok", "no-mathjax"):
        problems.append(f"MathJax: {state}")
    if math["errors"]:
        problems.append(f"MathJax TeX errors: {math['errors'][:5]}")
    for pattern, what in RAW_MATH:
        hits = [m.group(0) for m in pattern.finditer(math["text"])]
        if hits:
            at = pattern.search(math["text"]).start()
            problems.append(
                f"raw {what} left in the text ({len(hits)}x), e.g. {math['text'][max(0, at - 40) : at + 60]!r}"
            )

    images = driver.execute_async_script(_IMAGES_JS)
    broken = [i["src"][:120] for i in images if not i["ok"]]
    if broken:
        problems.append(f"images that did not load: {broken}")
    if mode == "light":  # the pixels do not depend on the mode; check them once
        elements = driver.find_elements("css selector", "img")
        for info, element in zip(images, elements):
            if info["ok"] and info["figure"]:
                clear = driver.execute_script(_OPAQUE_JS, element)
                if clear > 0.01:
                    problems.append(
                        f"figure with a transparent background ({clear:.0%} of its pixels), "
                        f"unreadable in dark mode: {info['src'][:120]}"
                    )

    theme = driver.execute_script("return document.documentElement.dataset.theme")
    if theme != mode:
        problems.append(f"the theme is in {theme!r} mode while the reader's system asks for {mode!r}")

    errors = _console_errors(driver)
    if errors:
        problems.append(f"console errors: {errors[:5]}")
    if mode == "dark":  # the layout does not depend on the mode; check the phone width once
        problems += [f"at {PHONE_WIDTH} px: {p}" for p in _phone_problems(driver)[:5]]

    _screenshot(driver, SHOTS / mode / (page.replace("/", "__").removesuffix(".html") + ".png"))
    assert not problems, f"{page} ({mode} mode):\n  " + "\n  ".join(problems)


@pytest.mark.skipif(
    SKIP is not None or bool(os.environ.get("SSLBOOK_HTML")),
    reason="checks the book's own build (_build/html) against _toc.yml",
)
def test_every_chapter_of_the_toc_is_checked():
    """The pages tested above are those of the build; every chapter of _toc.yml must be among them."""
    from bookext.toc import toc_chapters

    checked = set(chapter_pages())
    missing = [c.stem for c in toc_chapters(ROOT) if str(c.relative_to(ROOT).with_suffix(".html")) not in checked]
    assert not missing, f"chapters of _toc.yml with no page (or no notebook source) in {HTML}: {missing}"


def _wait_for_download(folder: Path, name: str, timeout: float = 30.0) -> Path:
    target = folder / name
    end = time.time() + timeout
    while time.time() < end:
        if target.exists() and not (folder / (name + ".crdownload")).exists() and target.stat().st_size > 0:
            return target
        time.sleep(0.1)
    raise AssertionError(f"{name} was not downloaded within {timeout:.0f} s (folder has {sorted(os.listdir(folder))})")


@needs_browser
@pytest.mark.parametrize("page", chapter_pages() or ["<no chapters>"])
def test_chapter_notebook_downloads_and_opens(browser, server, downloads, page):
    """Click the page's notebook and source links; the files arrive and the notebook is valid."""
    import jupytext
    import nbformat

    if page == "<no chapters>":
        pytest.skip("no chapter page (a jupytext notebook) in this build")
    driver = browser
    _open(driver, f"{server}/{page}", "light")
    stem = Path(page).stem

    # the notebook: a real .ipynb with the chapter's code, outputs of the build where they exist
    link = driver.find_element("css selector", "a.sslbook-download-ipynb")
    assert link.is_displayed(), "the notebook link is not visible"
    link.click()
    nb_file = _wait_for_download(downloads, stem + ".ipynb")
    nb = nbformat.read(str(nb_file), as_version=4)
    nbformat.validate(nb)
    source = HTML / "_sources" / Path(page).with_suffix(".md")
    expected = [c.source.strip() for c in jupytext.read(source).cells if c.cell_type == "code"]
    mark = "# Solution (part of the exercise's solution above)\n"  # the notebook marks solution cells
    got = [
        c.source.strip().removeprefix(mark)
        for c in nb.cells
        if c.cell_type == "code" and "sslbook-setup" not in c.get("metadata", {}).get("tags", [])
    ]
    assert got == expected, "the downloaded notebook's code cells differ from the chapter's"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    if expected:
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
            "the downloaded notebook carries none of the build's outputs"
        )

    # the .md source, byte for byte the one the page was built from
    link = driver.find_element("css selector", "a.sslbook-download-source")
    link.click()
    md_file = _wait_for_download(downloads, Path(source).name)
    assert md_file.read_bytes() == source.read_bytes()

    # the theme's download menu offers the same notebook
    menu = [a.get_attribute("href") for a in driver.find_elements("css selector", ".dropdown-download-buttons a")]
    assert any(h and h.endswith(f"_notebooks/{Path(page).with_suffix('.ipynb')}") for h in menu), menu

    # Colab and Binder open the notebook (.ipynb), never the .md source
    launch = [
        a.get_attribute("href")
        for a in driver.find_elements(
            "css selector", ".dropdown-launch-buttons a, a.sslbook-launch-colab, a.sslbook-launch-binder"
        )
    ]
    launch = [h for h in launch if h and ("colab" in h or "binder" in h)]
    assert launch, "no Colab/Binder link on the page"
    nb_path = str(Path(page).with_suffix(".ipynb"))
    for href in launch:
        assert href.endswith(nb_path), f"launch link does not open {nb_path}: {href}"
    errors = _console_errors(driver)
    assert not errors, f"console errors: {errors[:5]}"
    for f in (nb_file, md_file):
        f.unlink()


# ------------------------------------------------- the extension's pieces (no build, no browser)


def _app(tmp_path, theme_options):
    from types import SimpleNamespace

    return SimpleNamespace(config=SimpleNamespace(html_theme_options=theme_options), outdir=str(tmp_path / "html"))


OPTIONS = {
    "repository_url": "https://github.com/sslbook/sslbook",
    "repository_branch": "main",
    "path_to_docs": "",
    "launch_buttons": {
        "notebook_branch": "notebooks",
        "notebook_interface": "jupyterlab",
        "colab_url": "https://colab.research.google.com",
        "binderhub_url": "https://mybinder.org",
    },
}


def test_launch_links_open_the_notebook_on_the_notebook_branch(tmp_path):
    from bookext import notebooks as sphinxext

    urls = sphinxext._launch_urls(_app(tmp_path, OPTIONS), "book/foundations")
    assert urls == {
        "Colab": "https://colab.research.google.com/github/sslbook/sslbook/blob/notebooks/book/foundations.ipynb",
        "Binder": "https://mybinder.org/v2/gh/sslbook/sslbook/notebooks?urlpath=lab/tree/book/foundations.ipynb",
    }
    assert sphinxext._launch_urls(_app(tmp_path, {**OPTIONS, "repository_url": ""}), "book/foundations") == {}
    no_branch = {**OPTIONS, "launch_buttons": {**OPTIONS["launch_buttons"], "notebook_branch": ""}}
    assert "/blob/main/book/x.ipynb" in sphinxext._launch_urls(_app(tmp_path, no_branch), "book/x")["Colab"]


def test_outputs_are_merged_by_cell_source_and_a_setup_cell_installs_sslbook(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from bookext import notebooks as sphinxext

    nb = new_notebook(
        cells=[new_markdown_cell("# t"), new_code_cell("a = 1"), new_code_cell("b = 2"), new_code_cell("c")]
    )
    done = new_notebook(
        cells=[
            new_code_cell("a = 1", outputs=[new_output("stream", text="A")], execution_count=1),
            new_code_cell("other"),
            new_code_cell("b = 2\n", outputs=[new_output("stream", text="B")], execution_count=3),
        ]
    )
    assert sphinxext._merge_outputs(nb, done) == 2
    assert [c.get("outputs", [{}])[0].get("text") if c.get("outputs") else None for c in nb.cells] == [
        None,
        "A",
        "B",
        None,
    ]
    assert nb.cells[2].execution_count == 3
    cell = sphinxext._setup_cell(_app(tmp_path, OPTIONS))
    assert sphinxext.SETUP_TAG in cell.metadata["tags"]
    assert "git+https://github.com/sslbook/sslbook@main" in cell.source and 'find_spec("sslbook")' in cell.source
    compile(cell.source, "setup-cell", "exec")
    nbformat.validate(nbformat.v4.new_notebook(cells=[cell]))


def test_repeated_inline_scripts_are_dropped():
    from sphinx.builders.html._assets import _JavaScript

    from bookext import offline as sphinxext

    thebe = "const THEBE_JS_URL = 1"
    context = {
        "script_files": [
            _JavaScript("_static/a.js"),
            _JavaScript(None, body=thebe),
            _JavaScript("", body=thebe),
            _JavaScript("_static/a.js"),
            _JavaScript("", body="var x = 1"),
        ]
    }
    sphinxext._dedupe_scripts(context)
    assert [(js.filename, js.attributes.get("body")) for js in context["script_files"]] == [
        ("_static/a.js", None),
        (None, thebe),
        ("", "var x = 1"),
    ]
