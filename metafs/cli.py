"""The ``metafs`` command: read, write, restore, copy-tags, mount, umount."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from types import SimpleNamespace

import engine
from engine import EngineError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    import argparse


def _print_err(msg: str) -> None:
    print(f"metafs: {msg}", file=sys.stderr)


PROGRESS_AFTER = 1.0  # seconds: shorter runs show no progress bar


class Batch:
    """One command over many files: a progress line on a terminal once the run has taken
    a second, the messages, and ExifTool's summary at the end (on stderr, when more than
    one file was named, unless quiet: a one-file write stays silent, as scripts expect)."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        import time

        self.total, self.quiet = total, quiet
        self.updated = self.unchanged = self.failed = self.done = 0
        self._clock = time.monotonic
        self._start = time.monotonic()
        self._tty = total > 1 and not quiet and sys.stderr.isatty()
        self._shown = False

    def step(self, name: str) -> None:
        self.done += 1
        if not self._tty or self.done == self.total:
            return
        if not self._shown and self._clock() - self._start < PROGRESS_AFTER:
            return
        self._shown = True
        width = 30
        filled = width * self.done // self.total
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {name[-40:]:<40}")
        sys.stderr.flush()

    def _clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")

    def say(self, text: str) -> None:
        """A line on stdout (the progress line, on the same terminal, is cleared first)."""
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        print(text)

    def error(self, msg: str) -> None:
        """A message on stderr (the progress line is cleared first, redrawn at the next
        file)."""
        self._clear()
        _print_err(msg)

    def summary(self, *lines: tuple[int, str, bool]) -> None:
        """``(count, words, always)``: ExifTool's lines, ``    3 image files updated``;
        a line whose count is 0 is left out unless ``always``."""
        self._clear()
        if self.quiet or self.total < 2:
            return
        for count, words, always in lines:
            if count or always:
                print(f"{count:5d} {words}", file=sys.stderr)

    def write_summary(self) -> None:
        self.summary((self.updated, "image files updated", True),
                     (self.unchanged, "image files unchanged", False),
                     (self.failed, "files weren't updated due to errors", False))


def _is_image(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            engine.sniff(f.read(64), path)
    except (OSError, EngineError):
        return False
    return True


def _folder_files(folder: str, recursive: bool, scanned: list[str] | None = None) -> list[str]:
    """The images in a folder (by content, as the mount shows a .meta for them), and with
    ``recursive`` in its subfolders too; hidden subfolders (``.originals``, the backups)
    are left out, as ``exiftool -r`` does.  ``scanned`` gets every folder listed."""
    out: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        _print_err(f"{folder}: cannot list: {e.strerror}")
        return out
    if scanned is not None:
        scanned.append(folder)
    for entry in entries:
        try:
            mode = entry.stat().st_mode  # follows symlinks, as for files given by name
        except OSError:
            continue  # a dangling symlink
        if stat.S_ISDIR(mode):
            if recursive and not entry.name.startswith("."):
                out += _folder_files(entry.path, recursive, scanned)
        elif stat.S_ISREG(mode) and _is_image(entry.path):
            out.append(entry.path)
    return out


def _expand(names: Sequence[str], recursive: bool,
            scanned: list[str] | None = None) -> tuple[list[str], bool]:
    """Files to read: a folder stands for the images in it (``scanned`` gets the folders
    listed).  Also: whether a folder held none (an error: the user expected something)."""
    files: list[str] = []
    empty = False
    for name in names:
        if not os.path.isdir(name):
            files.append(name)
            continue
        found = _folder_files(name, recursive, scanned)
        if not found:
            hint = "" if recursive else " (use -r to read its subfolders)"
            _print_err(f"{name}: no image files in this folder{hint}")
            empty = True
        files += found
    return files, empty


def cmd_read(args: argparse.Namespace) -> int:
    from metafs.table import ReadOutput

    output = ReadOutput(args)  # which parts, tags, keys and values (-a, -TAG, -G, -n, -j)
    scanned: list[str] = []
    files, empty = _expand(args.files, args.recursive, scanned)
    status = 1 if empty else 0
    table = args.json or args.csv
    batch = Batch(len(files), args.quiet or bool(table))  # exiftool -j/-csv: no summary
    results = []
    for f in files:
        try:
            md = engine.read_metadata(f, output.parts)
            if output.unconverted:  # -n: EXIF, XMP and IPTC values as exiftool -n
                md = engine.unconvert(md)
        except Exception as e:  # noqa: BLE001 - one bad file must not end a long listing
            msg = str(e) if isinstance(e, EngineError) else f"{f}: {type(e).__name__}: {e}"
            batch.error(msg)
            batch.failed += 1
            results.append(output.error_row(f, msg))
            status = 1
            continue
        finally:
            batch.step(f)
        batch.updated += 1
        if table:
            results.append(output.row(md))
        else:
            lines = [f"======== {f}"] if len(files) > 1 else []
            lines += [f"{key}: {value}" for key, value in output.text(md)]
            lines += [f"Warning: {w}" for w in md.warnings]
            if lines:
                batch.say("\n".join(lines))
    batch.summary((len(scanned), "directories scanned", False),
                  (batch.updated, "image files read", True),
                  (batch.failed, "files could not be read", False))
    if table:
        output.write(results, sys.stdout)
    return status


def _parse_changes(args: argparse.Namespace) -> dict[str, str | None]:
    changes: dict[str, str | None] = {}
    for item in args.set or []:
        tag, sep, value = item.partition("=")
        if not sep or not tag:
            raise SystemExit(f"metafs: --set wants TAG=VALUE, got {item!r}")
        changes[tag] = value.replace("\\n", "\n")
    for tag in args.delete or []:
        changes[tag] = None
    return changes


BATCH_WORKERS = 4  # files written at once: a write mostly waits for its fsyncs


def _attempt(op: Callable[[str], object], f: str) -> tuple[object, EngineError | None]:
    try:
        return op(f), None
    except EngineError as e:
        return None, e


def _outcomes(files: Sequence[str], op: Callable[[str], object]
              ) -> Iterator[tuple[str, object, EngineError | None]]:
    """``op`` on each file, in the order given.  Several files are worked on at once (each
    write waits on the disk for most of its time, its fsyncs), at most a few files ahead of
    the one reported next; writers of one photo still take turns (the writers' lock)."""
    if len(files) < 2:
        for f in files:
            yield (f, *_attempt(op, f))
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=BATCH_WORKERS) as pool:
        ahead: deque = deque()
        todo = iter(files)
        for f in todo:
            ahead.append((f, pool.submit(_attempt, op, f)))
            if len(ahead) >= 2 * BATCH_WORKERS:
                break
        while ahead:
            f, future = ahead.popleft()
            for nxt in todo:
                ahead.append((nxt, pool.submit(_attempt, op, nxt)))
                break
            yield (f, *future.result())


def _run_batch(
    files: Sequence[str], op: Callable[[str], object], verb: str, quiet: bool = False,
    summary: Callable[[Batch], None] = Batch.write_summary,
) -> int:
    """``op`` on each file; a failing file is reported and the rest go on.  Exit status 0
    only when every file was written or unchanged."""
    batch = Batch(len(files), quiet)
    for f, result, e in _outcomes(files, op):
        if e is not None:
            batch.failed += 1
            batch.error(f"{verb} failed: {e}")
        else:
            if getattr(result, "unchanged", False):
                batch.unchanged += 1
            else:
                batch.updated += 1
            said = getattr(result, "said", None)
            if said:
                batch.say(said)
            for note in getattr(result, "notes", ()):
                if note.startswith(engine.COPY_NOTES):  # what was done: EXIF/XMP/IPTC copies
                    if not quiet:
                        batch.say(f"{f}: {note}")
                    continue
                batch.error(f"note: {f}: {note}")
        batch.step(f)
    summary(batch)
    return 1 if batch.failed else 0


def cmd_write(args: argparse.Namespace) -> int:
    changes = _parse_changes(args)
    if args.csv or args.json:
        if changes:
            _print_err("--csv/--json FILE give the values: no --set or --delete with them")
            return 2
        from metafs.table import import_table

        return import_table(args, _run_batch)
    if not changes:
        _print_err("nothing to write: give --set TAG=VALUE or --delete TAG "
                   "(or --csv/--json FILE)")
        return 2
    repair = {"repair": True} if getattr(args, "repair", False) else {}
    return _write_each(args.files, changes, args, "write", **repair)


def write_options(args: argparse.Namespace) -> dict[str, object]:
    """The keywords of ``engine.write_metadata`` the write commands' options give."""
    return {"backup": not args.no_backup, "backups": args.backups,
            "sync_related": not args.no_sync, "keep_mtime": args.keep_mtime}


def _write_each(files: Sequence[str], changes: dict[str, str | None],
                args: argparse.Namespace, verb: str, **extra: object) -> int:
    """``changes`` written to each file, with the command's write options."""
    options = {**write_options(args), **extra}
    return _run_batch(files, lambda f: engine.write_metadata(f, changes, **options), verb,
                      args.quiet)


def _when(st: os.stat_result) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime))


def cmd_restore(args: argparse.Namespace) -> int:
    if args.list:
        return _list_backups(args.files, args.backups)

    def restore(f: str) -> object:
        used = engine.restore(f, backups=args.backups, keep_mtime=args.keep_mtime)
        try:
            when = f", the version of {_when(os.stat(used, follow_symlinks=False))}"
        except OSError:
            when = ""
        # said by the batch, in the order the files were named (they run several at once)
        return SimpleNamespace(said=f"{f}: restored from {used}{when}")

    def summary(batch: Batch) -> None:
        batch.summary((batch.updated, "image files restored", True),
                      (batch.failed, "files weren't restored due to errors", False))

    return _run_batch(args.files, restore, "restore", args.quiet, summary)


def _list_backups(files: Sequence[str], backups: str | None) -> int:
    """``metafs restore --list``: the backups kept of each file, restoring nothing."""
    status = 0
    for f in files:
        try:
            found = engine.list_backups(f, backups=backups)
        except EngineError as e:
            _print_err(str(e))
            status = 1
            continue
        if not found:
            _print_err(f"{f}: no backup kept")
            status = 1
        for i, (path, st) in enumerate(found):
            kind = "original" if i == 0 else "original of an earlier photo of this name"
            print(f"{f}: {path}  ({kind}, version of {_when(st)}, {st.st_size} bytes)")
    return status


def cmd_copy_tags(args: argparse.Namespace) -> int:
    try:
        changes = engine.template_changes(args.source, args.tags)
    except EngineError as e:
        _print_err(str(e))
        return 1
    if not changes:
        _print_err(f"{args.source}: no writable tags to copy")
        return 1
    return _write_each(args.dest, changes, args, "copy-tags")


def cmd_mount(args: argparse.Namespace) -> int:
    from metafs.mount import main_mount

    return main_mount(
        args.source, args.mountpoint, foreground=args.foreground,
        debounce_ms=args.debounce, read_only=args.read_only, sync=not args.no_sync,
        keep_mtime=args.keep_mtime, index_path=args.index, repair=args.repair,
    )


def cmd_umount(args: argparse.Namespace) -> int:
    from metafs.mount import main_umount

    return main_umount(args.mountpoint)


def cmd_tags(args: argparse.Namespace) -> int:
    from metafs.tagdoc import main_tags

    return main_tags(args.what, args.writable)


def build_parser() -> argparse.ArgumentParser:
    """argparse's parser of every command (metafs.cli_parser: options, help, examples)."""
    from metafs.cli_parser import make_parser

    return make_parser({"read": cmd_read, "write": cmd_write, "restore": cmd_restore,
                        "copy-tags": cmd_copy_tags, "mount": cmd_mount, "umount": cmd_umount,
                        "tags": cmd_tags})


# ``metafs write FILE... --set TAG=VALUE...``, which scripts run once per photo, is parsed here
# without argparse: importing it and building the parser (gettext, locale) takes 5-6 ms, an
# eighth of such a run.  Only the plain forms are taken; everything else (--help, abbreviated
# or --opt=value options, a value starting with "-", FILEs on both sides of an option, any
# error) goes to argparse.  tests/test_cli_fast_path.py checks that both read the same.
_WRITE_FLAGS = {"--no-sync": "no_sync", "--no-backup": "no_backup", "-q": "quiet",
                "--quiet": "quiet", "-P": "keep_mtime", "--keep-mtime": "keep_mtime",
                "--repair": "repair"}
_WRITE_VALUES = {"--set": "set", "--delete": "delete", "--backups": "backups"}


def quick_write_args(argv: Sequence[str]) -> SimpleNamespace | None:
    """The parsed arguments of a plain ``write`` command line; None for anything else."""
    if not argv or argv[0] != "write":
        return None
    args = SimpleNamespace(command="write", files=[], set=None, delete=None, no_sync=False,
                           no_backup=False, backups=None, func=cmd_write, quiet=False,
                           keep_mtime=False, csv=None, json=None, sep=", ", delete_marker="-",
                           repair=False)
    i, files_ended = 1, False
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            if files_ended:
                return None  # argparse takes one run of FILEs
            args.files.append(arg)
        elif arg in _WRITE_FLAGS:
            setattr(args, _WRITE_FLAGS[arg], True)
        elif arg in _WRITE_VALUES and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            i += 1
            dest = _WRITE_VALUES[arg]
            if dest == "backups":
                args.backups = argv[i]
            else:  # action="append"
                setattr(args, dest, [*(getattr(args, dest) or []), argv[i]])
        else:
            return None
        files_ended = bool(args.files) and arg.startswith("-")
        i += 1
    return args if args.files else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    tags: list[str] = []
    if argv[:1] == ["read"]:  # ExifTool's -TAG arguments, which argparse cannot take
        from metafs.cli_parser import tag_selection

        argv, tags = tag_selection(argv)
    args = quick_write_args(argv) or build_parser().parse_args(argv)
    if tags:
        args.tags = tags
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def run() -> None:
    """The ``metafs`` command: ``main()``, then exit without tearing the interpreter down.

    Module teardown and the final garbage collection cost 4-6 ms, an eighth of a one-tag
    ``metafs write``; by the time main() returns every file it wrote is synced, renamed and
    closed, and only the standard streams need flushing.  (Errors that end in SystemExit,
    such as a usage error, and uncaught exceptions take the ordinary way out.)"""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # the reader went away; the stream is closed
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
