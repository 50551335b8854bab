"""MyST Markdown to plain Markdown and LaTeX, for notebooks that read anywhere.

The chapters are written in MyST: ``sphinx-proof`` theorem boxes, ``{cite:p}`` citations,
``{term}`` glossary links, gated exercise solutions. Jupyter, Colab and GitHub render CommonMark
with ``$...$`` math and show all of that as raw text. :func:`to_plain` rewrites one Markdown cell:

* theorem-like directives become bold-headed paragraphs ("**Theorem (Title).** ...") and a proof
  becomes "*Proof.* ... ∎";
* notes and admonitions become block quotes with a bold title; ``{math}`` becomes ``$$...$$``;
* exercises become "**Exercise.**" headings and solutions are folded in ``<details>``;
* citations become author-year text; ``{term}``, ``{doc}``, ``{ref}``, ``{prf:ref}`` and ``{eq}``
  become links to the HTML book (through ``resolve``);
* targets ``(label)=``, comments and ``:label:``/``:class:`` options are dropped.

:func:`leftover_myst` finds any MyST syntax left in a text (used by the tests).
"""

from __future__ import annotations

import re
from collections.abc import Callable

PROOF_TITLES = {
    "theorem": "Theorem",
    "proposition": "Proposition",
    "lemma": "Lemma",
    "corollary": "Corollary",
    "definition": "Definition",
    "remark": "Remark",
    "example": "Example",
    "conjecture": "Conjecture",
    "assumption": "Assumption",
    "axiom": "Axiom",
    "criterion": "Criterion",
    "algorithm": "Algorithm",
    "observation": "Observation",
    "property": "Property",
}
_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z][\w:-]*)\}\s*(?P<arg>.*)$")
_ROLE = re.compile(r"\{(?P<role>[a-z][\w:-]*)\}`(?P<body>[^`]*)`")
_MYST_LEFT = re.compile(r"\{[a-z][\w:-]*\}`|^[`:]{3,}\{[a-z][\w:-]*\}|^\([\w-]+\)=\s*$|^:label:", re.M)

# resolve(role, target) -> (text, url or None): how a cross-reference reads, and where it points
Resolver = Callable[[str, str], tuple[str, str | None]]


def _default_resolve(role: str, target: str) -> tuple[str, str | None]:
    return target, None


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def _roles(line: str, resolve: Resolver, cite: Callable[[str, str], str]) -> str:
    def sub(m: re.Match) -> str:
        role, body = m.group("role"), m.group("body")
        explicit = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", body, re.S)
        text, target = (explicit.group("text"), explicit.group("target")) if explicit else (None, body)
        if role in ("cite:p", "cite:t", "cite", "cite:ps", "cite:ts"):
            return cite(role, target)
        if role == "math":
            return f"${body}$"
        if role in ("term", "doc", "ref", "prf:ref", "numref", "eq", "download"):
            shown, url = resolve(role, target.strip())
            if role == "eq":
                return _link(f"({shown})", url)
            return _link(text or shown, url)
        return text or target  # an unknown role: its text

    return _ROLE.sub(sub, line)


def _blockquote(lines: list[str]) -> list[str]:
    return [("> " + ln) if ln.strip() else ">" for ln in lines]


def to_plain(text: str, resolve: Resolver | None = None, cite: Callable[[str, str], str] | None = None) -> str:
    """One Markdown cell of a MyST chapter as plain Markdown + LaTeX (see the module docstring)."""
    resolve = resolve or _default_resolve
    cite = cite or (lambda role, keys: ", ".join(k.strip() for k in keys.split(",")))
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _FENCE.match(line)
        if m is None:
            if re.match(r"^\([\w-]+\)=\s*$", line) or re.match(r"^%( |$)", line):
                i += 1
                continue
            out.append(_roles(line, resolve, cite))
            i += 1
            continue
        fence, name, arg = m.group("fence"), m.group("name"), m.group("arg").strip()
        # the directive's body, up to its closing fence (nested fences must be longer, as in MyST)
        j, body = i + 1, []
        while j < len(lines) and lines[j].rstrip() != fence:
            body.append(lines[j])
            j += 1
        options = {}
        while body and re.match(r"^:[\w-]+:", body[0]):
            key, _, value = body.pop(0)[1:].partition(":")
            options[key.strip()] = value.strip()
        while body and not body[0].strip():
            body.pop(0)
        if name == "code-cell":  # code is code: kept as it is (a whole chapter's text may pass through)
            out += lines[i : j + 1]
            i = j + 1
            continue
        inner = to_plain("\n".join(body), resolve, cite).split("\n") if body else []
        if name in ("exercise-start", "exercise-end", "solution-start", "solution-end"):
            # gated directives: their fences are empty; the content follows in later lines/cells
            if name == "exercise-start":
                out.append("**Exercise" + (f" ({_roles(arg, resolve, cite)})" if arg else "") + ".**")
            elif name == "solution-start":
                out += ["<details>", "<summary><b>Solution</b> (click to show)</summary>", ""]
            elif name == "solution-end":
                out += ["", "</details>"]
            i = j + 1
            continue
        if name.startswith("prf:"):
            kind = name[4:]
            if kind == "proof":
                out += [f"*Proof.* {inner[0] if inner else ''}".rstrip(), *inner[1:]]
                out[-1] = out[-1] + " ∎"
            else:
                title = PROOF_TITLES.get(kind, kind.capitalize())
                head = f"**{title}" + (f" ({_roles(arg, resolve, cite)})" if arg else "") + ".**"
                out += [f"{head} {inner[0] if inner else ''}".rstrip(), *inner[1:]]
        elif name == "math":
            out += ["$$", *body, "$$"]
        elif name in (
            "note",
            "tip",
            "warning",
            "important",
            "caution",
            "attention",
            "hint",
            "seealso",
            "admonition",
            "dropdown",
            "danger",
            "error",
        ):
            title = _roles(arg, resolve, cite) if arg else name.capitalize()
            out += _blockquote([f"**{title}.**", "", *inner])
        elif name in ("code-block", "code", "sourcecode"):
            out += [f"```{arg}", *body, "```"]
        elif name in ("figure", "image"):
            out.append(f"![{' '.join(inner).strip()}]({arg})")
        else:  # tableofcontents, glossary, bibliography, eval-rst, ...: a pointer to the HTML book
            shown, url = resolve("doc", "")
            out.append(f"*(This part is shown in the {_link('HTML book', url)}.)*")
        i = j + 1
    return "\n".join(out)


def plain_cells(nb, resolve: Resolver | None = None, cite: Callable[[str, str], str] | None = None) -> None:
    """Rewrite a notebook's Markdown cells with :func:`to_plain`, and fold the code cells of exercise
    solutions (``jupyter.source_hidden``, tag ``solution``, a first comment line saying so)."""
    in_solution = False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            opens, closes = cell.source.count("{solution-start}"), cell.source.count("{solution-end}")
            cell.source = to_plain(cell.source, resolve, cite)
            if opens > closes:
                in_solution = True
            elif closes > opens:
                in_solution = False
        elif cell.cell_type == "code" and in_solution:
            cell.metadata.setdefault("jupyter", {}).update({"source_hidden": True})
            cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {"solution"})
            if not cell.source.startswith("# Solution"):
                cell.source = "# Solution (part of the exercise's solution above)\n" + cell.source


def url_resolver(base_url: str, docname: str) -> Resolver:
    """A resolver that needs no Sphinx build: ``{doc}`` links point at the published pages; labels,
    terms and equations read as their names and point at the chapter's page."""
    from posixpath import dirname, join, normpath

    base = base_url.rstrip("/") + "/"

    def resolve(role: str, target: str) -> tuple[str, str | None]:
        if role == "doc":
            doc = normpath(join(dirname(docname), target)) if target else docname
            return (target or "HTML book"), base + doc + ".html"
        if role == "term":
            return target, base + "book/glossary.html"
        return target.split("-", 1)[-1].replace("-", " "), base + docname + ".html#" + target

    return resolve


def leftover_myst(text: str) -> list[str]:
    """MyST roles, directives, targets or options left in ``text`` (empty when it is plain)."""
    return [m.group(0) for m in _MYST_LEFT.finditer(text)]


def bib_citer(bibfile) -> Callable[[str, str], str]:
    """A function that writes ``{cite:p}``/``{cite:t}`` citations as author-year text from a BibTeX
    file: "Bansal et al. (2024)" and "(Bansal et al., 2024; Yang et al., 2023)"."""
    from pybtex.database import parse_file

    entries = parse_file(str(bibfile)).entries

    def short(key: str) -> tuple[str, str]:
        e = entries.get(key)
        if e is None:
            return key, ""
        people = e.persons.get("author") or e.persons.get("editor") or []
        names = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
        who = (
            (names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al.")
            if names
            else key
        )
        return who, e.fields.get("year", "")

    def cite(role: str, keys: str) -> str:
        parts = [short(k.strip()) for k in keys.split(",") if k.strip()]
        if role.startswith("cite:t"):
            return "; ".join(f"{who} ({year})" for who, year in parts)
        return "(" + "; ".join(f"{who}, {year}" for who, year in parts) + ")"

    return cite
