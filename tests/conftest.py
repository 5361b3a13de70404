"""Shared test fixtures and paths (no test logic here)."""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.files import FIXTURES, REPO, copy_fixture

if TYPE_CHECKING:
    from support.mount import Mount
    from support.ops_env import Env

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
def mount(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Mount]:
    """A real mount of a fresh SOURCE (``support.mount.Mount``), unmounted at the end even
    when the test fails.  ``@pytest.mark.mount_args(60_000, "--keep-mtime")`` (on a test or
    a module) passes another debounce (ms) and options."""
    from support.mount import Mount

    marker = request.node.get_closest_marker("mount_args")
    m = Mount(tmp_path, *(marker.args if marker else ()))
    try:
        yield m
    finally:
        m.close()


@pytest.fixture
def env(tmp_path: Path) -> Env:
    """The daemon's Operations over a fresh SOURCE with a fake engine (``support.ops_env``)."""
    from support.ops_env import Env

    return Env(tmp_path)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A copy of fixtures/photo.jpg (EXIF, XMP and IPTC) in this test's tmp_path; test
    modules that need another file define their own ``photo``."""
    return copy_fixture(tmp_path, "photo.jpg")


class _ErrorRecords(logging.Handler):
    """Collects the ERROR (and worse) records logged while one test runs, and tells those the
    test did not declare (``expect_error_log`` patterns, searched in each message)."""

    def __init__(self, allowed: list[re.Pattern[str]]) -> None:
        super().__init__(logging.ERROR)
        self.allowed = allowed
        self.records: list[logging.LogRecord] = []
        self.reported = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def fail_on_unexpected(self) -> None:
        """pytest.fail() naming the undeclared records logged since the last call."""
        new, self.reported = self.records[self.reported:], len(self.records)
        bad = [r for r in new if not any(a.search(r.getMessage()) for a in self.allowed)]
        if bad:
            pytest.fail("unexpected ERROR log record(s):\n" + "\n".join(
                f"{r.name} {r.levelname}: {r.getMessage()}"
                + (f" ({r.exc_info[0].__name__}: {r.exc_info[1]})"
                   if r.exc_info and r.exc_info[0] else "") for r in bad), pytrace=False)


_ERROR_RECORDS = pytest.StashKey[_ErrorRecords]()


@pytest.fixture(autouse=True)
def _no_unexpected_error_log(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test when code it runs logs an ERROR it did not declare: an internal bug
    (``unexpected error writing ...``) must not pass for the refusal a test expects.  A test
    that provokes one on purpose says so: ``@pytest.mark.expect_error_log("regex", ...)``.
    Records from the test's body fail the test itself (``pytest_runtest_call`` below), those
    from fixtures' teardown fail the teardown.  (Daemons in other processes log to their own
    files; this sees what runs in the test's process, threads included.)"""
    handler = _ErrorRecords([re.compile(p) for m in request.node.iter_markers("expect_error_log")
                             for p in m.args])
    request.node.stash[_ERROR_RECORDS] = handler
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    handler.fail_on_unexpected()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    handler = item.stash.get(_ERROR_RECORDS, None)
    if handler is not None:
        handler.fail_on_unexpected()
    return result


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
    "mount": ("metafs.mount", "fusermount", "Mount(", "support.mount"),
    "exiftool": ('"exiftool"', "exiftool_compat", "write_compat", "support.mount",
                 "oracles import exiftool"),
    "corpus": ("CORPUS", "corpus_dir"),
}
SLOW_MODULES = {
    "test_corpus_read", "test_corpus_write_jpeg", "test_corpus_write_tiff", "test_fuzz",
    "test_mount_stress", "test_xmp_complexity", "test_writer_fuzz_exiftool", "test_deleted_gone",
    "test_values_typed", "test_restore_identity", "test_mount_trust", "test_security",
    "test_mount_lifecycle", "test_mount_oddities", "test_mount", "test_mount_cache",
    "test_mount_scale",
}
# Single tests as slow as a slow module (a whole corpus, or hundreds of kills).
SLOW_TESTS = {"test_corpus_heif_writes", "test_corpus_png_webp_none_damaged",
              "test_sigkill_at_random_moments"}
_module_marks: dict[str, list[str]] = {}


def pytest_configure(config: pytest.Config) -> None:
    for name, what in (
        ("mount", "mounts a real FUSE file system (root, /dev/fuse)"),
        ("exiftool", "runs ExifTool as the outside judge"),
        ("corpus", "reads the real-camera corpus (skipped when it is absent)"),
        ("slow", "among the slowest modules of a full run"),
        ("expect_error_log(*patterns)", "the test logs these ERROR records on purpose"),
        ("mount_args(debounce_ms, *options)", "how the ``mount`` fixture starts the daemon"),
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
        if getattr(item, "originalname", item.name) in SLOW_TESTS and "slow" not in marks:
            item.add_marker("slow")
        if "mount" in getattr(item, "fixturenames", ()) and "mount" not in marks:
            item.add_marker("mount")
