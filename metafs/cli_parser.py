"""``metafs``'s command line for argparse: each command's options, help and examples.

``metafs.cli`` runs the commands; it builds this parser only for what its fast path (a
plain ``metafs write``) does not take, since importing argparse costs milliseconds.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

Command = Callable[[argparse.Namespace], int]


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


TAG_PATHS = """\
tag paths: EXIF tags by name (Artist, DateTimeOriginal, GPSLatitude), XMP as
xmp/PREFIX:NAME (xmp/dc:title, xmp/Iptc4xmpCore:CreatorContactInfo/Iptc4xmpCore:CiAdrCity),
IPTC as iptc/NAME (iptc/Keywords, iptc/City).  `metafs tags` lists them, `metafs tags NAME`
says what one accepts."""

EXIT = """\
exit status: 0 when every file was written or already held the values, 1 when a file
failed (the others are still done; each failure is one line on stderr), 2 for a usage
error.  With more than one file a summary follows on stderr, in ExifTool's words
("    3 image files updated", "    1 files weren't updated due to errors"); -q drops it."""

EPILOGS = {
    "read": """\
examples:
  metafs read photo.jpg                     every tag, one "path: value" per line
  metafs read -r --json Pictures/ > all.json  a folder and its subfolders, as exiftool -j
  metafs read --csv *.jpg > tags.csv        a spreadsheet: SourceFile, one column per tag
  metafs read -G photo.jpg                  keys as ExifTool's Group:Name
  metafs read -j -Make -LensID *.jpg        only these tags (-GROUP:all, --TAG: as exiftool)

lists (iptc/Keywords, xmp/dc:subject) print joined with ", " (--sep to change it).
--json keys are ExifTool's (tag names; Group:Name with -G/-G1), --csv and the text
output use tag paths.  -a or a tag selection adds the groups only read on request.
exit status: 0 when every file was read, 1 otherwise.
""" + TAG_PATHS,
    "write": """\
examples:
  metafs write photo.jpg --set Artist="Jane Doe"
  metafs write *.jpg --set xmp/dc:title="Harbour at dusk" --delete iptc/City
  metafs write photo.jpg --set iptc/Keywords="sunset\\nbay"   a list: one item per \\n
  metafs write -P *.jpg --set Copyright="(c) 2024 J. Doe"   keep each file's mtime
  metafs write --csv tags.csv *.jpg       the values of a `metafs read --csv` spreadsheet
  metafs write --json all.json Pictures/  the values of a `metafs read --json` listing

Each file is written safely: the original is kept under .originals/ (first write only),
the new file is checked before it replaces the old one (`metafs restore` puts it back).
A tag with copies in EXIF, XMP and IPTC is kept in step (Artist also sets xmp/dc:creator,
and iptc/By-line when the photo has IPTC), as ExifTool's MWG rules do; stdout says which
copies were set.  --no-sync writes only the tags named.
--csv/--json: a row per file (SourceFile, as `metafs read` prints it; FILE arguments
choose which rows apply, a folder stands for its images); an empty cell leaves the tag
alone, a cell holding the delete marker ("-") deletes it, a cell equal to the file's
value is skipped; list cells are split at the --sep separator.  A bad row refuses
that file only.

""" + TAG_PATHS + "\n\n" + EXIT,
    "restore": """\
examples:
  metafs restore photo.jpg            put the original (kept at the first write) back
  metafs restore --list photo.jpg     what backups there are, restore nothing
  metafs restore -P *.jpg             keep each photo's current mtime

""" + EXIT.replace("written", "restored"),
    "copy-tags": """\
examples:
  metafs copy-tags best.jpg *.jpg                 every writable tag of best.jpg
  metafs copy-tags best.jpg a.jpg b.jpg --tags Artist Copyright xmp/dc:rights
  metafs copy-tags best.jpg a.jpg --tags xmp/Iptc4xmpCore:CreatorContactInfo

""" + TAG_PATHS + "\n\n" + EXIT,
    "mount": """\
examples:
  metafs mount ~/Pictures /mnt/meta
  cat /mnt/meta/photo.jpg.meta/Make
  echo "Jane Doe" > /mnt/meta/photo.jpg.meta/Artist    written a moment later, safely
  ls /mnt/meta/photo.jpg.meta/xmp/                      XMP properties as files
  metafs umount /mnt/meta                               commit pending edits, unmount

An emptied tag file deletes the tag; rm deletes it too.  Edits are journalled, written
with a backup under SOURCE/.originals/ and checked; .metafs/status says how they went.""",
    "umount": """\
example:
  metafs umount /mnt/meta""",
    "tags": """\
examples:
  metafs tags                    every known tag path, its kind and accepted forms
  metafs tags --writable xmp     the writable XMP properties
  metafs tags iptc               the IPTC datasets
  metafs tags Orientation        one tag: what it accepts, an example, its values""",
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    # given the width: argparse would import shutil to find it (3 ms, and it makes a
    # formatter for every argument added)
    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_columns() - 2)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def make_parser(commands: dict[str, Command]) -> argparse.ArgumentParser:
    """The parser of every command; ``commands`` names the function each one runs
    (``args.func``)."""
    ap = _Parser(prog="metafs", description="Photo metadata as files, written safely.",
                 epilog="`metafs COMMAND --help` shows examples.\n\n" + TAG_PATHS)
    sub = ap.add_subparsers(dest="command", required=True)
    for name, help, add_options in _COMMANDS:
        p = sub.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                           epilog=EPILOGS[name])
        add_options(p)
        p.set_defaults(func=commands[name])
    return ap


def _quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no summary, no progress bar, no list of the copies made "
                   "(failures and warnings are still reported)")


def _keep_mtime(p: argparse.ArgumentParser) -> None:
    p.add_argument("-P", "--keep-mtime", action="store_true",
                   help="the photo keeps its modification time (exiftool -P)")


def _write_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-backup", action="store_true", help="do not keep the original")
    p.add_argument("--backups", metavar="DIR", help="root of the .originals tree")
    _keep_mtime(p)
    _quiet(p)


def _read(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-j", "--json", action="store_true",
                   help="JSON as exiftool -j prints it (its keys, numbers as numbers)")
    p.add_argument("--csv", action="store_true",
                   help="CSV like exiftool -csv: SourceFile, then one column per tag")
    p.add_argument("--sep", default=", ", metavar="STR",
                   help="--csv: between the items of a list (default: ', ')")
    p.add_argument("-G", "-G0", "--groups", action="store_const", const="0", dest="groups",
                   help="keys as ExifTool's family-0 Group:Name (EXIF:Make, XMP:Title)")
    p.add_argument("-G1", action="store_const", const="1", dest="groups",
                   help="keys as ExifTool's family-1 Group:Name (IFD0:Make, XMP-dc:Title)")
    p.add_argument("-a", "--all", action="store_true",
                   help="every group ExifTool reads: maker notes, File, Composite, ICC...")
    p.add_argument("-n", action="store_true", dest="unconverted",
                   help="EXIF, XMP and IPTC values without their print conversion, as "
                        "exiftool -n shows them (other groups keep their printed values)")
    p.add_argument(
        "-r", "--recursive", action="store_true", help="FILE folders: read their subfolders too"
    )
    _quiet(p)


def tag_selection(argv: list[str]) -> tuple[list[str], list[str]]:
    """``metafs read``'s arguments split into argparse's and ExifTool's tag selection
    (``-Make``, ``-EXIF:all``, ``--LensID``), which argparse cannot take (``-GPSLatitude``
    would read as ``-G``)."""
    options = {"-G0", "-G1"}
    rest: list[str] = []
    tags: list[str] = []
    after_sep = False
    for arg in argv:
        name = arg[2:] if arg.startswith("--") else arg[1:]
        if after_sep or not arg.startswith("-") or arg in options or not name:
            rest.append(arg)
        elif arg.startswith("--") and not (name[0].isupper() or ":" in name):
            rest.append(arg)  # a long option (ExifTool's tag names start upper case)
        elif not arg.startswith("--") and len(arg) <= 2:
            rest.append(arg)  # -r, -j, -G...
        else:
            tags.append(arg)
        after_sep = arg == "--sep"
    return rest, tags


def _write(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--set", action="append", metavar="TAG=VALUE",
                   help="give TAG this value (\\n between the items of a list)")
    p.add_argument("--delete", action="append", metavar="TAG", help="remove TAG")
    p.add_argument("--csv", metavar="CSVFILE", help="the values of a CSV file (exiftool -csv=)")
    p.add_argument("--json", metavar="JSONFILE",
                   help="the values of a JSON file as `metafs read --json` prints")
    p.add_argument("--sep", default=", ", metavar="STR",
                   help="--csv: splits the cells of list tags (default: ', ')")
    p.add_argument("--delete-marker", default="-", metavar="STR",
                   help="--csv/--json: a cell holding this deletes the tag (default: '-')")
    p.add_argument("--no-sync", action="store_true", help="do not update EXIF/XMP/IPTC copies")
    p.add_argument("--repair", action="store_true",
                   help="repair the EXIF damage a write would refuse (entries out of sequence "
                   "or unreadable, multi-segment EXIF...) as ExifTool does; says what changed")
    _write_opts(p)


def _restore(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--backups", metavar="DIR")
    p.add_argument("--list", action="store_true",
                   help="list the backups kept of each file, restore nothing")
    _keep_mtime(p)
    _quiet(p)


def _copy_tags(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SRC")
    p.add_argument("dest", nargs="+", metavar="DST")
    p.add_argument("--tags", nargs="+", metavar="TAG",
                   help="only these tag paths (an XMP structure: all its fields); without it, "
                   "image-structure tags (ImageWidth, Compression...) are not copied")
    p.add_argument("--no-sync", action="store_true", help="do not update EXIF/XMP/IPTC copies")
    _write_opts(p)


def _mount(p: argparse.ArgumentParser) -> None:
    p.add_argument("source")
    p.add_argument("mountpoint")
    p.add_argument("--foreground", "-f", action="store_true")
    p.add_argument("--debounce", type=int, default=300, metavar="MS",
                   help="an edit is written this long after the last change (default 300)")
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--no-sync", action="store_true",
                   help="edits change only the tag written, not its EXIF/XMP/IPTC copies")
    _keep_mtime(p)
    p.add_argument("--repair", action="store_true",
                   help="repair the EXIF damage a write would refuse, as metafs write --repair")
    p.add_argument("--index", metavar="PATH",
                   help="the metadata index (default: SOURCE/.originals/.journal/index.sqlite, "
                        "or $XDG_CACHE_HOME/metafs/ for a read-only SOURCE)")


def _umount(p: argparse.ArgumentParser) -> None:
    p.add_argument("mountpoint")


def _tags(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", nargs="?", metavar="GROUP|NAME",
                   help="exif, xmp, xmp/PREFIX, iptc; or one tag path")
    p.add_argument("--writable", action="store_true", help="only the tags metafs can write")


# (command, help, its options), in the order --help lists them
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None]]] = [
    ("read", "print the metadata of files (a folder: the images in it)", _read),
    ("write", "change tags safely (backup, validate, atomic replace)", _write),
    ("restore", "put the backed-up original back", _restore),
    ("copy-tags", "apply one file's metadata to others", _copy_tags),
    ("mount", "mount a photo directory", _mount),
    ("umount", "commit pending edits and unmount", _umount),
    ("tags", "list the tag paths metafs knows (exiftool -list, -listw)", _tags),
]
