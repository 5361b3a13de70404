"""The ``metafs`` command: read, write, restore, copy-tags, mount, umount."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Sequence
from types import SimpleNamespace

import engine
from engine.errors import EngineError
from engine.write.changes import COPY_NOTES  # loaded with engine.writer anyway

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    import argparse


def _print_err(msg: str) -> None:
    print(f"metafs: {msg}", file=sys.stderr)


class Progress:
    """A one-line progress bar on a terminal, silent otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.active = total > 1 and sys.stderr.isatty()

    def step(self, name: str) -> None:
        self.done += 1
        if self.active:
            width = 30
            filled = width * self.done // self.total
            bar = "#" * filled + "." * (width - filled)
            sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {name[-40:]:<40}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.active:
            sys.stderr.write("\n")


def _is_image(path: str) -> bool:
    from engine.registry import sniff

    try:
        with open(path, "rb") as f:
            sniff(f.read(64), path)
    except (OSError, EngineError):
        return False
    return True


def _folder_files(folder: str, recursive: bool) -> list[str]:
    """The images in a folder (by content, as the mount shows a .meta for them), and with
    ``recursive`` in its subfolders too; hidden subfolders (``.originals``, the backups)
    are left out, as ``exiftool -r`` does."""
    out: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        _print_err(f"{folder}: cannot list: {e.strerror}")
        return out
    for entry in entries:
        try:
            mode = entry.stat().st_mode  # follows symlinks, as for files given by name
        except OSError:
            continue  # a dangling symlink
        if stat.S_ISDIR(mode):
            if recursive and not entry.name.startswith("."):
                out += _folder_files(entry.path, recursive)
        elif stat.S_ISREG(mode) and _is_image(entry.path):
            out.append(entry.path)
    return out


def _expand(names: Sequence[str], recursive: bool) -> tuple[list[str], bool]:
    """Files to read: a folder stands for the images in it.  Also: whether a folder held
    none (an error: the user expected something to read)."""
    files: list[str] = []
    empty = False
    for name in names:
        if not os.path.isdir(name):
            files.append(name)
            continue
        found = _folder_files(name, recursive)
        if not found:
            hint = "" if recursive else " (use -r to read its subfolders)"
            _print_err(f"{name}: no image files in this folder{hint}")
            empty = True
        files += found
    return files, empty


def cmd_read(args: argparse.Namespace) -> int:
    files, empty = _expand(args.files, args.recursive)
    status = 1 if empty else 0
    results = []
    for f in files:
        try:
            md = engine.read_metadata(f)
        except Exception as e:  # noqa: BLE001 - one bad file must not end a long listing
            msg = str(e) if isinstance(e, EngineError) else f"{f}: {type(e).__name__}: {e}"
            _print_err(msg)
            results.append({"SourceFile": f, "Error": msg})
            status = 1
            continue
        if args.json:
            results.append(md.to_json(exiftool_keys=args.groups))
        else:
            if len(files) > 1:
                print(f"======== {f}")
            for tag in md.tags.values():
                key = f"{tag.group}:{tag.name}" if args.groups else tag.path
                value = tag.value if isinstance(tag.value, str) else ", ".join(tag.value)
                print(f"{key}: {value}")
            for w in md.warnings:
                print(f"Warning: {w}")
    if args.json:
        import json

        json.dump(results, sys.stdout, indent=1, ensure_ascii=False)
        print()
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


def _run_batch(
    files: Sequence[str], op: Callable[[str], object], verb: str
) -> int:
    failed = 0
    bar = Progress(len(files))
    for f in files:
        try:
            result = op(f)
        except EngineError as e:
            failed += 1
            if bar.active:
                sys.stderr.write("\n")
            _print_err(f"{verb} failed: {e}")
        else:
            for note in getattr(result, "notes", ()):
                if note.startswith(COPY_NOTES):  # what was done: EXIF/XMP/IPTC copies
                    print(f"{f}: {note}")
                    continue
                if bar.active:
                    sys.stderr.write("\n")
                _print_err(f"note: {f}: {note}")
        bar.step(f)
    bar.close()
    return 1 if failed else 0


def cmd_write(args: argparse.Namespace) -> int:
    changes = _parse_changes(args)
    if not changes:
        _print_err("nothing to write: give --set TAG=VALUE or --delete TAG")
        return 2
    return _run_batch(
        args.files,
        lambda f: engine.write_metadata(
            f, changes, backup=not args.no_backup, backups=args.backups,
            sync_related=not args.no_sync,
        ),
        "write",
    )


def _when(st: os.stat_result) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime))


def cmd_restore(args: argparse.Namespace) -> int:
    from engine.writer import list_backups

    if args.list:
        status = 0
        for f in args.files:
            try:
                found = list_backups(f, backups=args.backups)
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

    def restore(f: str) -> str:
        used = engine.restore(f, backups=args.backups)
        try:
            when = f", the version of {_when(os.stat(used, follow_symlinks=False))}"
        except OSError:
            when = ""
        print(f"{f}: restored from {used}{when}")
        return used

    return _run_batch(args.files, restore, "restore")


def cmd_copy_tags(args: argparse.Namespace) -> int:
    try:
        changes = engine.template_changes(args.source, args.tags)
    except EngineError as e:
        _print_err(str(e))
        return 1
    if not changes:
        _print_err(f"{args.source}: no writable tags to copy")
        return 1
    return _run_batch(
        args.dest,
        lambda f: engine.write_metadata(
            f, changes, backup=not args.no_backup, backups=args.backups,
            sync_related=not args.no_sync,
        ),
        "copy-tags",
    )


def cmd_mount(args: argparse.Namespace) -> int:
    from metafs.mount import main_mount

    return main_mount(
        args.source, args.mountpoint, foreground=args.foreground,
        debounce_ms=args.debounce, read_only=args.read_only, sync=not args.no_sync,
    )


def cmd_umount(args: argparse.Namespace) -> int:
    from metafs.mount import main_umount

    return main_umount(args.mountpoint)


def _columns() -> int:
    """The terminal's width, as shutil.get_terminal_size finds it."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def build_parser() -> argparse.ArgumentParser:
    import argparse

    class HelpFormatter(argparse.HelpFormatter):
        # given the width: argparse would import shutil to find it (3 ms, and it makes a
        # formatter for every argument added)
        def __init__(self, prog: str) -> None:
            super().__init__(prog, width=_columns() - 2)

    class Parser(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault("formatter_class", HelpFormatter)
            super().__init__(*args, **kwargs)

    ap = Parser(prog="metafs", description="Photo metadata as files, written safely.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "read", help="print the metadata of files (a folder: the images in it)"
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="JSON like exiftool -j")
    p.add_argument("-G", "--groups", action="store_true", help="keys as ExifTool Group:Name")
    p.add_argument(
        "-r", "--recursive", action="store_true", help="FILE folders: read their subfolders too"
    )
    p.set_defaults(func=cmd_read)

    def write_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--no-backup", action="store_true", help="do not keep the original")
        p.add_argument("--backups", metavar="DIR", help="root of the .originals tree")

    p = sub.add_parser("write", help="change tags safely (backup, validate, atomic replace)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--set", action="append", metavar="TAG=VALUE")
    p.add_argument("--delete", action="append", metavar="TAG")
    p.add_argument("--no-sync", action="store_true", help="do not update EXIF/XMP/IPTC copies")
    write_opts(p)
    p.set_defaults(func=cmd_write)

    p = sub.add_parser("restore", help="put the backed-up original back")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--backups", metavar="DIR")
    p.add_argument("--list", action="store_true",
                   help="list the backups kept of each file, restore nothing")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("copy-tags", help="apply one file's metadata to others")
    p.add_argument("source", metavar="SRC")
    p.add_argument("dest", nargs="+", metavar="DST")
    p.add_argument("--tags", nargs="+", metavar="TAG",
                   help="only these tag paths (an XMP structure: all its fields); without it, "
                   "image-structure tags (ImageWidth, Compression...) are not copied")
    p.add_argument("--no-sync", action="store_true", help="do not update EXIF/XMP/IPTC copies")
    write_opts(p)
    p.set_defaults(func=cmd_copy_tags)

    p = sub.add_parser("mount", help="mount a photo directory")
    p.add_argument("source")
    p.add_argument("mountpoint")
    p.add_argument("--foreground", "-f", action="store_true")
    p.add_argument("--debounce", type=int, default=300, metavar="MS")
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--no-sync", action="store_true",
                   help="edits change only the tag written, not its EXIF/XMP/IPTC copies")
    p.set_defaults(func=cmd_mount)

    p = sub.add_parser("umount", help="commit pending edits and unmount")
    p.add_argument("mountpoint")
    p.set_defaults(func=cmd_umount)
    return ap


# ``metafs write FILE... --set TAG=VALUE...``, which scripts run once per photo, is parsed here
# without argparse: importing it and building the parser (gettext, locale) takes 5-6 ms, an
# eighth of such a run.  Only the plain forms are taken; everything else (--help, abbreviated
# or --opt=value options, a value starting with "-", FILEs on both sides of an option, any
# error) goes to argparse.  tests/test_cli_fast_path.py checks that both read the same.
_WRITE_FLAGS = {"--no-sync": "no_sync", "--no-backup": "no_backup"}
_WRITE_VALUES = {"--set": "set", "--delete": "delete", "--backups": "backups"}


def quick_write_args(argv: Sequence[str]) -> SimpleNamespace | None:
    """The parsed arguments of a plain ``write`` command line; None for anything else."""
    if not argv or argv[0] != "write":
        return None
    args = SimpleNamespace(command="write", files=[], set=None, delete=None, no_sync=False,
                           no_backup=False, backups=None, func=cmd_write)
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
    args = quick_write_args(argv) or build_parser().parse_args(argv)
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
