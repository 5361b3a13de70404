"""Shared test fixtures and paths (no test logic here)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
# The real-camera corpus lives beside the repository (never copied into it).
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session", autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Daemons started by tests keep their state (logs) in a temporary $XDG_STATE_HOME, not
    in the home folder of whoever runs the suite."""
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state-home"))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The committed sample images (read only: copy before changing, see ``tmp_copy``)."""
    return FIXTURES


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared real-camera corpus; the test is skipped when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus absent: {CORPUS}")
    return CORPUS


@pytest.fixture
def tmp_copy(tmp_path: Path) -> Callable[[str | Path], Path]:
    """``tmp_copy(path)`` copies a file into this test's tmp_path and returns the copy.
    A bare name is taken from ``fixtures/`` (``tmp_copy("exif_le.jpg")``)."""

    def copy(path: str | Path) -> Path:
        src = Path(path)
        if not src.is_absolute() and not src.exists():
            src = FIXTURES / src
        dst = tmp_path / src.name
        n = 1
        while dst.exists():  # two copies of one file in the same test
            n += 1
            dst = tmp_path / f"{src.stem}-{n}{src.suffix}"
        shutil.copy2(src, dst)
        return dst

    return copy


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A copy of fixtures/photo.jpg (EXIF, XMP and IPTC) in this test's tmp_path; test
    modules that need another file define their own ``photo``."""
    dst = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", dst)
    return dst


# Corpus tests record their figures as a "summary" property; print them at the end of every
# run (works under xdist: user properties travel with the reports to the controller).
_SUMMARIES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _SUMMARIES.extend(str(v) for k, v in report.user_properties if k == "summary")


def pytest_terminal_summary(terminalreporter) -> None:
    if _SUMMARIES:
        terminalreporter.section("corpus figures")
        for s in _SUMMARIES:
            terminalreporter.write_line(s)


# Markers, so that `scripts/test -m "not slow"` is a fast inner loop and `-m mount`,
# `-m "not corpus"`... pick what a change needs.  A module is marked by what it uses (read
# once per module); `slow` names the modules that take the most time in a full run.
_MARKERS = {
    "mount": ("metafs.mount", "fusermount", "Mount("),
    "exiftool": ('"exiftool"', "exiftool_compat", "write_compat"),
    "corpus": ("CORPUS", "corpus_dir"),
}
SLOW_MODULES = {
    "test_corpus_read", "test_corpus_write_jpeg", "test_corpus_write_tiff", "test_fuzz",
    "test_mount_stress", "test_xmp_complexity", "test_writer_fuzz_exiftool", "test_deleted_gone",
    "test_values_typed", "test_restore_identity", "test_mount_trust", "test_security",
    "test_mount_lifecycle", "test_mount_oddities",
}
_module_marks: dict[str, list[str]] = {}


def pytest_configure(config: pytest.Config) -> None:
    for name, what in (
        ("mount", "mounts a real FUSE file system (root, /dev/fuse)"),
        ("exiftool", "runs ExifTool as the outside judge"),
        ("corpus", "reads the real-camera corpus (skipped when it is absent)"),
        ("slow", "among the slowest modules of a full run"),
    ):
        config.addinivalue_line("markers", f"{name}: {what}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        marks = _module_marks.get(str(path))
        if marks is None:
            text = path.read_text(errors="replace")
            marks = [m for m, needles in _MARKERS.items() if any(n in text for n in needles)]
            if path.stem in SLOW_MODULES:
                marks.append("slow")
            _module_marks[str(path)] = marks
        for m in marks:
            item.add_marker(m)
