"""Self-checking exercises (issue 22.1): the checker's feedback, the keys, the editions, the grader."""

import csv
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from sslbook import exercises
from sslbook.exercises import ExerciseCheckFailed, check, make_key
from tools import editions, exercise_keys, grade

ROOT = Path(__file__).resolve().parents[1]
MIN_CHECKED = 25


@pytest.fixture
def toy_keys(tmp_path, monkeypatch):
    table = {
        "t-ex-vec": make_key("t-ex-vec", "ex_vec", [1.5, -2.0, 3.25], 0.01),
        "t-ex-mat": make_key("t-ex-mat", "ex_mat", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], 0.01),
        "t-ex-num": make_key("t-ex-num", "ex_num", 0.3, 0.01),
        "t-ex-word": make_key("t-ex-word", "ex_word", "Yes", None),
    }
    for k in table.values():
        k["chapter"] = "toy"
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(table))
    monkeypatch.setenv("SSLBOOK_EXERCISE_KEYS", str(path))
    monkeypatch.delenv("SSLBOOK_CHECKS", raising=False)
    monkeypatch.delenv("SSLBOOK_RECORD_ANSWERS", raising=False)
    return path


@pytest.mark.parametrize(
    "label, name, value, kind",
    [
        ("t-ex-vec", "ex_vec", [1.5, -2.0, 3.25], "right"),
        ("t-ex-vec", "ex_vec", [1.509, -1.991, 3.259], "right"),  # within the tolerance
        ("t-ex-vec", "ex_vec", [1.9, -2.0, 3.25], "entries"),
        ("t-ex-vec", "ex_vec", [-1.5, 2.0, -3.25], "sign"),
        ("t-ex-vec", "ex_vec", [3.0, -4.0, 6.5], "factor"),
        ("t-ex-vec", "ex_vec", [-2.0, 1.5, 3.25], "order"),
        ("t-ex-vec", "ex_vec", [1.5, np.nan, 3.25], "not finite"),
        ("t-ex-vec", "ex_vec", [1.5, -2.0], "shape"),
        ("t-ex-vec", "ex_vec", "1.5", "type"),
        ("t-ex-mat", "ex_mat", [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]], "transposed"),
        ("t-ex-mat", "ex_mat", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "shape"),
        ("t-ex-num", "ex_num", 0.35, "close"),
        ("t-ex-num", "ex_num", 7.0, "wrong"),
        ("t-ex-word", "ex_word", " yes", "right"),
        ("t-ex-word", "ex_word", "no", "wrong"),
    ],
)
def test_feedback_names_the_kind_of_wrong(toy_keys, label, name, value, kind):
    tol = None if label == "t-ex-word" else 0.01
    result = check(label, name, tol, namespace={name: value})
    assert result.kind == kind, result.message
    assert result.passed == (kind == "right")
    assert "\n" not in result.message and label in result.message
    if kind == "right":
        assert result.message.startswith("✓")
    else:
        assert result.message.startswith("✗") and "Traceback" not in result.message


def test_tolerance_is_honoured(toy_keys):
    rng = np.random.default_rng(0)
    for dx in rng.uniform(-0.01, 0.01, 200):  # within tol: always right
        assert check("t-ex-num", "ex_num", 0.01, namespace={"ex_num": 0.3 + dx}).passed
    for dx in rng.uniform(0.0201, 0.5, 200) * rng.choice([-1, 1], 200):  # beyond 2 tol: never
        assert not check("t-ex-num", "ex_num", 0.01, namespace={"ex_num": 0.3 + dx}).passed


def test_missing_answer_and_strict_mode(toy_keys, monkeypatch):
    result = check("t-ex-num", "ex_num", 0.01, namespace={})
    assert result.kind == "missing" and "assign your answer to `ex_num`" in result.message
    bundle = result._repr_mimebundle_()
    assert bundle[exercises.MIME]["passed"] is False and bundle["text/plain"] == result.message
    assert check("t-ex-num", "ex_num", 0.02, namespace={"ex_num": 0.3}).kind == "no key"  # stated tol differs
    monkeypatch.setenv("SSLBOOK_CHECKS", "strict")
    with pytest.raises(ExerciseCheckFailed, match="t-ex-num"):
        check("t-ex-num", "ex_num", 0.01, namespace={})
    with pytest.raises(ValueError, match="name"):
        check("t-ex-num", 3)
    with pytest.raises(ValueError, match="tol"):
        make_key("t", "x", 1.0, -1.0)


def test_recording_mode(toy_keys, tmp_path, monkeypatch):
    rec = tmp_path / "answers.jsonl"
    monkeypatch.setenv("SSLBOOK_RECORD_ANSWERS", str(rec))
    assert check("t-ex-num", "ex_num", 0.01, namespace={"ex_num": np.float64(0.25)}).passed
    assert json.loads(rec.read_text()) == {"label": "t-ex-num", "name": "ex_num", "tol": 0.01, "value": 0.25}


def test_keys_match_the_book_and_hold_no_values():
    calls = exercise_keys.check_calls(ROOT)
    table = exercises.keys()
    assert sorted(calls) == sorted(table), "keys out of date: python -m tools.exercise_keys"
    for label, (chapter, name) in calls.items():
        assert table[label]["name"] == name and table[label]["chapter"] == chapter
        assert set(table[label]) <= {"name", "type", "tol", "shape", "hashes", "hash", "chapter"}
    per_chapter = {}
    for chapter, _ in calls.values():
        per_chapter[chapter] = per_chapter.get(chapter, 0) + 1
    print("self-checking exercises per chapter:", per_chapter)
    assert len(calls) >= MIN_CHECKED, f"{len(calls)} self-checking exercises, the course needs {MIN_CHECKED}"


def test_student_edition_keeps_checks_and_hides_answers(tmp_path):
    calls = exercise_keys.check_calls(ROOT)
    chapters = sorted({c for c, _ in calls.values()} & {p.stem for p in editions.chapters(ROOT)})
    written = editions.write_editions(ROOT, tmp_path, only=chapters)
    for path in written["student"]:
        code = "\n".join(c.source for c in nbformat.read(path, 4).cells if c.cell_type == "code")
        for label, (chapter, name) in calls.items():
            if chapter != path.stem:
                continue
            assert f'check("{label}", "{name}"' in code, f"{label}: no check cell in the student edition"
            assert not re.search(rf"^\s*{name}\s*=", code, re.M), f"{label}: the student edition assigns `{name}`"


def _toy_notebook(path: Path, answer: str | None):
    cells = [nbformat.v4.new_markdown_cell("**Exercise.** Compute the vector.")]
    if answer is not None:
        cells.append(nbformat.v4.new_code_cell(answer))
    cells.append(
        nbformat.v4.new_code_cell('from sslbook.exercises import check\ncheck("t-ex-vec", "ex_vec", tol=0.01)')
    )
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"sslbook": {"edition": "student", "source": "book/toy.md"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_grade_command_scores_solved_and_blank(toy_keys, tmp_path):
    folder = tmp_path / "returned"
    _toy_notebook(
        folder / "ada" / "toy.ipynb", "import numpy as np\nex_vec = np.array([1.5, -2.0, 3.25])\nex_word = 'yes'"
    )
    _toy_notebook(folder / "bob" / "toy.ipynb", None)
    _toy_notebook(folder / "cy" / "toy.ipynb", "ex_vec = [1.5, 2.0, 3.25]\nraise RuntimeError('oops')")
    out = tmp_path / "scores.csv"
    assert grade.main([str(folder), "--out", str(out), "--timeout", "120"]) == 0
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert rows["ada"]["t-ex-vec"] == "1" and rows["ada"]["total"] == "2" and rows["ada"]["out_of"] == "4"
    assert rows["bob"]["total"] == "0" and rows["bob"]["out_of"] == "4"
    assert rows["cy"]["t-ex-vec"] == "0" and rows["cy"]["total"] == "0"
    feedback = list(csv.DictReader(out.with_suffix(".feedback.csv").open()))
    assert any(f["student"] == "cy" and f["kind"] == "entries" for f in feedback)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .ipynb"):
        grade.grade_folder(tmp_path / "empty", out)


def _checked_chapters():
    return sorted({c for c, _ in exercise_keys.check_calls(ROOT).values()} & {p.stem for p in editions.chapters(ROOT)})


def _execute(path, env=None):
    from nbclient import NotebookClient

    nb = nbformat.read(path, 4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "book")}}
    ).execute()
    return nb


def _check_outputs(nb):
    found = {}
    for c in nb.cells:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            if exercises.MIME in data:
                found[data[exercises.MIME]["label"]] = (data[exercises.MIME], data.get("text/plain", ""))
    return found


@pytest.mark.chapter
@pytest.mark.parametrize("chapter", _checked_chapters())
def test_editions_pass_and_fail_every_check(chapter, tmp_path, request, monkeypatch):
    """The instructor edition passes every check (strict mode: a failure stops it); a blank student
    notebook fails each one with a one-line message; the grader gives them full and zero marks."""
    if request.config.getoption("--chapters") == "none":
        pytest.skip("--chapters=none: chapters are not executed")
    labels = [lab for lab, (c, _) in exercise_keys.check_calls(ROOT).items() if c == chapter]
    editions.write_editions(ROOT, tmp_path, only=[chapter])
    monkeypatch.setenv("SSLBOOK_CHECKS", "strict")
    found = _check_outputs(_execute(tmp_path / "instructor" / f"{chapter}.ipynb"))
    assert sorted(found) == sorted(labels) and all(v[0]["passed"] for v in found.values())
    monkeypatch.delenv("SSLBOOK_CHECKS")
    found = _check_outputs(_execute(tmp_path / "student" / f"{chapter}.ipynb"))
    assert sorted(found) == sorted(labels)
    for _label, (result, text) in found.items():
        assert not result["passed"] and result["kind"] == "missing", text
        assert text.startswith("✗") and "\n" not in text


@pytest.mark.chapter
def test_grade_command_on_a_real_chapter(tmp_path, request, monkeypatch):
    """The grader gives the instructor edition of a chapter full marks and its blank student edition zero."""
    if request.config.getoption("--chapters") == "none":
        pytest.skip("--chapters=none: chapters are not executed")
    monkeypatch.delenv("SSLBOOK_EXERCISE_KEYS", raising=False)
    chapter = "hidden-features"
    written = editions.write_editions(ROOT, tmp_path / "editions", only=[chapter])
    folder = tmp_path / "returned"
    for student, edition in (("solved", "instructor"), ("blank", "student")):
        (folder / student).mkdir(parents=True)
        (folder / student / f"{chapter}.ipynb").write_bytes(written[edition][0].read_bytes())
    out = tmp_path / "scores.csv"
    assert grade.main([str(folder), "--out", str(out)]) == 0
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    n = len([c for c, _ in exercise_keys.check_calls(ROOT).values() if c == chapter])
    assert rows["solved"]["total"] == rows["solved"]["out_of"] == str(n)
    assert rows["blank"]["total"] == "0" and rows["blank"]["out_of"] == str(n)


@pytest.mark.parametrize(
    "value, kind",
    [
        (np.array([1.5 + 3j, -2.0, 3.25]), "type"),  # the imaginary part used to be dropped: "right"
        (np.array(["1.5", "-2", "3.25"]), "type"),  # strings used to be parsed: "right"
        (None, "type"),  # used to read as NaN: "not finite"
        ([1e308, -2.0, 3.25], "entries"),  # x / tol used to overflow: OverflowError
        ([torch.tensor(1.5, requires_grad=True)] * 3, "type"),  # numpy() of a tensor with grad: RuntimeError
    ],
)
def test_answers_that_used_to_be_misjudged_or_raise(toy_keys, value, kind):
    result = check("t-ex-vec", "ex_vec", 0.01, namespace={"ex_vec": value})
    assert result.kind == kind and not result.passed, result.message


def test_a_wrong_call_is_feedback_in_a_notebook_and_an_error_under_strict(toy_keys, monkeypatch):
    for args, arg in [
        ((None, "ex_vec", 0.01), "label"),
        (("t-ex-vec", "1x", 0.01), "name"),
        (("t-ex-vec", "ex_vec", True), "tol"),
        (("t-ex-vec", "ex_vec", -1.0), "tol"),
    ]:
        result = check(*args, namespace={})
        assert result.kind == "usage" and not result.passed and arg in result.message
        monkeypatch.setenv("SSLBOOK_CHECKS", "strict")
        with pytest.raises((TypeError, ValueError), match=arg):
            check(*args, namespace={})
        monkeypatch.delenv("SSLBOOK_CHECKS")
    assert check("t-ex-vec", "ex_vec", 0.01, namespace=[]).kind == "usage"


def test_helpers_validate_by_name(toy_keys, tmp_path, monkeypatch):
    for args, err, arg in [
        (("t", "x", [1.0], True), TypeError, "tol"),
        (("t", "x", [np.nan], 0.1), ValueError, "value"),
        (("t", "x", [], 0.1), ValueError, "value"),
        (("t", "x", [1e300], 1e-10), ValueError, "tol"),
        (("t", "x", np.array([1 + 2j]), 0.1), TypeError, "value"),
    ]:
        with pytest.raises(err, match=arg):
            make_key(*args)
    with pytest.raises(TypeError, match="labels"):
        exercises.grade_namespace("t-ex-vec", {})
    with pytest.raises(ValueError, match="labels"):
        exercises.grade_namespace(["t-ex-none"], {})
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    monkeypatch.setenv("SSLBOOK_EXERCISE_KEYS", str(bad))
    with pytest.raises(ValueError, match="SSLBOOK_EXERCISE_KEYS"):
        exercises.keys()
    result = check("t-ex-vec", "ex_vec", 0.01, namespace={"ex_vec": 1.0})  # never raises in a notebook
    assert result.kind == "no key" and "SSLBOOK_EXERCISE_KEYS" in result.message
