"""Property tests (Hypothesis) over the parsers a merge request feeds: the tar index reader, the
requirements and Procfile linters, and the `.dive-ci` reader.

For any input: an answer or boxwise's own one-line error (UserError) or findings, never another
exception, never a hang; for well-formed input, the answer the reference (Python's tarfile, the
format's own rules) gives. Each runs on a fixed budget: a bounded number of examples, each with a
deadline, no shrinking past a few seconds, and no example database written into the repo.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boxwise.errors import UserError

BUDGET = settings(
    max_examples=60,
    deadline=2000,  # ms per example
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_NAME_PART = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-é", min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..")
)
_PATH = st.lists(_NAME_PART, min_size=1, max_size=6).map("/".join)


def _tar(entries: list[tuple[str, int, bool]], fmt: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for path, size, is_dir in entries:
            info = tarfile.TarInfo(path)
            if is_dir:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = size
                tar.addfile(info, io.BytesIO(b"x" * size))
    return buffer.getvalue()


@BUDGET
@given(
    entries=st.lists(st.tuples(_PATH, st.integers(0, 3000), st.booleans()), max_size=20),
    fmt=st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]),
)
def test_the_tar_index_reads_what_tarfile_wrote(entries, fmt) -> None:
    from boxwise.image.streams import file_reader
    from boxwise.image.tarindex import read_index

    data = _tar(entries, fmt)
    index = read_index(file_reader(io.BytesIO(data)), "property")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        expected = [(m.name.rstrip("/"), m.size if m.isreg() else 0) for m in tar.getmembers()]
    assert [(e.path, e.size if e.typeflag != "5" else 0) for e in index] == expected


@BUDGET
@given(prefix=st.binary(max_size=600), noise=st.binary(max_size=2048), cut=st.integers(0, 4096))
def test_the_tar_index_answers_any_bytes_with_entries_or_one_error(prefix, noise, cut) -> None:
    from boxwise.image.streams import file_reader
    from boxwise.image.tarindex import read_index

    good = _tar([("a/b", 700, False), ("c", 0, True)], tarfile.PAX_FORMAT)
    for data in (prefix + noise, good[:cut] + noise, noise + good):
        try:
            index = read_index(file_reader(io.BytesIO(data)), "property")
        except UserError as exc:
            assert "\n" not in str(exc)
        else:
            assert all(entry.size >= 0 and not entry.path.startswith(("/", "../")) for entry in index)


_LINE = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ["-r other.txt", "-c ../c.txt", "-r /etc/passwd", "flask==3.0.0", "x @ https://h/x.whl", "-e .",
         "--hash=sha256:00", "a[b]>=1; python_version<'3'", "# c", "\\", "pkg==1 --hash x"]
    ),
)  # fmt: skip


def _lines(lines: list[str]) -> str:
    return "\n".join(line.replace("\r", "") for line in lines) + "\n"


@BUDGET
@given(lines=st.lists(_LINE, max_size=25), other=st.lists(_LINE, max_size=5))
def test_the_requirements_linter_answers_any_file_with_findings(lines, other) -> None:
    from boxwise.lint.requirements import lint_requirements

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        app = root / "app"
        app.mkdir()
        (app / "requirements.txt").write_text(_lines(lines), encoding="utf-8", errors="surrogatepass")
        (app / "other.txt").write_text(_lines(other), encoding="utf-8", errors="surrogatepass")
        findings = lint_requirements(app / "requirements.txt", root, app)
    for item in findings:  # only the two files of the repo are ever read, whatever -r says
        assert item.path in ("app/requirements.txt", "app/other.txt")
        assert item.line is None or item.line >= 1
        assert "\n" not in item.message


_PROCESS = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)


@BUDGET
@given(
    lines=st.lists(st.one_of(st.text(max_size=60), _PROCESS.map(lambda n: f"{n}: python -m x")), max_size=20)
)
def test_the_procfile_linter_answers_any_file_with_findings(lines) -> None:
    from boxwise.lint.procfile import lint_procfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Procfile"
        path.write_text(_lines(lines), encoding="utf-8", errors="surrogatepass")
        findings = lint_procfile(path, "Procfile")
    assert all(item.path == "Procfile" and "\n" not in item.message for item in findings)


@BUDGET
@given(names=st.lists(_PROCESS, min_size=1, max_size=8, unique=True))
def test_a_well_formed_procfile_has_no_syntax_finding(names) -> None:
    from boxwise.lint.procfile import lint_procfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Procfile"
        path.write_text("".join(f"{name}: python -m {name.lower()}\n" for name in names))
        findings = lint_procfile(path, "Procfile")
    syntax = {"procfile-syntax", "procfile-duplicate", "procfile-empty-command"}
    assert not [item for item in findings if item.rule in syntax]


_DIVE_VALUE = st.one_of(
    st.sampled_from(["0.9", "disabled", "20MB", "0.1", "1.5", "-1", "abc", "", "~", "'0.5'", "[]", "{}"]),
    st.text(max_size=20),
)
_DIVE_KEY = st.sampled_from(
    [
        "lowestEfficiency",
        "highestWastedBytes",
        "highestUserWastedPercent",
        "highestImageBytes",
        "other",
        "RULES",
    ]
)


@BUDGET
@given(
    pairs=st.lists(st.tuples(_DIVE_KEY, _DIVE_VALUE), max_size=6),
    header=st.sampled_from(["rules:\n", "Rules:\n", "", "rules: 3\n", "- x\n"]),
    noise=st.text(max_size=60),
)
def test_the_dive_ci_reader_answers_rules_or_one_error(pairs, header, noise) -> None:
    from boxwise.gate import load_rules

    text = header + "".join(f"  {key}: {value}\n" for key, value in pairs) + noise
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ".dive-ci"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            rules = load_rules(None, path, {})
        except UserError as exc:
            assert "\n" not in str(exc)
        else:
            assert {rule.name for rule in rules.rules} == {
                "lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent", "highestImageBytes"
            }  # fmt: skip
