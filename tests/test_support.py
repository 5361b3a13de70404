"""The test suite's own rules: an ERROR log a test did not declare fails it (tests/conftest.py),
and the helpers live in tests/support/, never in another test module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

PROBE = '''
import logging

import pytest


def test_undeclared():
    logging.getLogger("engine.write.writer").error("unexpected error writing x.jpg")


@pytest.mark.expect_error_log(r"^unexpected error writing .*\\.jpg$")
def test_declared():
    logging.getLogger("engine.write.writer").error("unexpected error writing x.jpg")


@pytest.mark.expect_error_log(r"^something else$")
def test_declared_otherwise():
    logging.getLogger("metafs").critical("journal: could not apply edits")


def test_warnings_pass():
    logging.getLogger("metafs").warning("a warning is no error")
'''


def test_an_undeclared_error_log_fails_the_test(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text((TESTS / "conftest.py").read_text())
    (tmp_path / "support").symlink_to(TESTS / "support")
    (tmp_path / "test_probe.py").write_text(PROBE)
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA",
         "--strict-markers", "-W", "error", "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    out = res.stdout
    assert "2 failed, 2 passed" in out, out
    assert "FAILED test_probe.py::test_undeclared" in out
    assert "FAILED test_probe.py::test_declared_otherwise" in out
    assert ("engine.write.writer ERROR: unexpected error writing x.jpg" in out)
    assert "metafs CRITICAL: journal: could not apply edits" in out


def test_no_test_module_imports_another() -> None:
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not [n for n in names if n.split(".")[0].startswith(("test_", "conftest"))], (
                f"{path.name}:{node.lineno} imports a test module: move what it needs to "
                "tests/support/")
