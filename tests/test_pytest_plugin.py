"""The chapter harness itself: a chapter without claims, or over its budget, fails; a good one passes."""

import os
import subprocess
import sys
import textwrap

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
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/good\nchapters:\n  - file: book/noclaim\n  - file: book/slow\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["sslbook.pytest_plugin"]\n')
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = book\naddopts = -p no:cacheprovider\n")
    (book / "good.md").write_text(HEADER.format(title="Good", code=textwrap.dedent("""\
        from sslbook.claims import claim
        claim("two is more than one", 2, ">", 1, quantity="two", key="two")""")))
    (book / "noclaim.md").write_text(HEADER.format(title="No claim", code="x = 1 + 1"))
    (book / "slow.md").write_text(HEADER.format(title="Slow", code=textwrap.dedent("""\
        import time
        from sslbook.claims import claim
        time.sleep(20)
        claim("fine", 1, ">=", 1, quantity="one", key="one")""")))
    env = {**os.environ, "SSLBOOK_BUDGET": "15", "SSLBOOK_SCALE": "book"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "checks no claim" in out and "over its budget of 15 s" in out, out
    assert "book/good.md::budget and claims PASSED" in out or "1 failed" not in out
    lines = [ln for ln in out.splitlines() if ln.startswith(("good ", "noclaim ", "slow "))]
    assert len(lines) == 3 and "ok" in lines[0] and "FAILED" in lines[1] and "FAILED" in lines[2], out
    assert "2 failed" in out, out
