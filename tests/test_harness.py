"""The chapter harness itself (conftest.py): a chapter without claims, over its budget, with an
unsound claim, or with a failing cell fails; a good one passes."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# {title}

```{{code-cell}} ipython3
{code}
```
"""


def test_harness_enforces_claims_and_budget(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/good\nchapters:\n  - file: book/noclaim\n"
        "  - file: book/slow\n  - file: book/broken\n"
    )
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    shutil.copytree(ROOT / "_ext", tmp_path / "_ext")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = book\naddopts = -p no:cacheprovider\n")
    (book / "good.md").write_text(
        HEADER.format(
            title="Good",
            code=textwrap.dedent("""\
        from sslbook.claims import claim
        claim("two is more than one", 2, ">", 1, quantity="two", key="two", kind="identity")"""),
        )
    )
    (book / "noclaim.md").write_text(HEADER.format(title="No claim", code="x = 1 + 1"))
    (book / "slow.md").write_text(
        HEADER.format(
            title="Slow",
            code=textwrap.dedent("""\
        import time
        from sslbook.claims import claim
        time.sleep(20)
        claim("fine", 1, ">=", 1, quantity="one", key="one", kind="theorem")"""),
        )
    )
    (book / "broken.md").write_text(
        HEADER.format(
            title="Broken",
            code=textwrap.dedent("""\
        from sslbook.claims import Control, claim
        claim("trained beats init", 0.9, ">", 0.5, quantity="acc", key="b", kind="reproduction",
              control=Control(0.8, "at initialisation"), source="text: the text asks for 0.5")"""),
        )
    )
    env = {**os.environ, "SSLBOOK_BUDGET": "15", "SSLBOOK_SCALE": "book"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "checks no claim" in out and "over its budget of 15 s" in out, out
    assert "broken.md:" in out and "ClaimFailed" in out and "also meets" in out, out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith(("good ", "noclaim ", "slow "))}
    assert "ok" in lines["good"] and "FAILED" in lines["noclaim"] and "FAILED" in lines["slow"], out
    assert "4 failed" in out, out  # noclaim, slow: budget and claims; broken: execute and its unsound claim
