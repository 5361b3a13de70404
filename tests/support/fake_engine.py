"""A small stand-in engine for the daemon's unit tests (not a test module).

A "photo" is ``FAKEIMG\\n`` + JSON ``{"tags": {...}}``; writes go through a temp file and a
rename (a new inode, like the real engine) and keep the first original under ``backups``.
Every write call is recorded, so tests can count rewrites.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from engine.errors import CorruptFileError, ReadOnlyTagError, TagValueError, UnknownTagError
from engine.model import Metadata, TagValue
from engine.write.writer import TagSpec, WriteResult
from metafs.photos import EngineFacade

MAGIC = b"FAKEIMG\n"

SPECS = {
    "Make": TagSpec("Make", True, False, "string"),
    "Model": TagSpec("Model", True, False, "string"),
    "Artist": TagSpec("Artist", True, False, "string"),
    "ISO": TagSpec("ISO", True, False, "int"),
    "MakerNote": TagSpec("MakerNote", False, False, "binary"),
    "iptc/Keywords": TagSpec("iptc/Keywords", True, True, "list"),
    "xmp/dc:title": TagSpec("xmp/dc:title", True, False, "lang-alt"),
    "xmp/dc:subject": TagSpec("xmp/dc:subject", True, True, "list"),
}


def make_photo(path: Path, tags: dict[str, object]) -> Path:
    path.write_bytes(MAGIC + json.dumps({"tags": tags}).encode())
    return path


def photo_tags(path: Path) -> dict[str, object]:
    return json.loads(path.read_bytes()[len(MAGIC) :])["tags"]


class FakeEngine:
    def __init__(self) -> None:
        self.writes: list[tuple[str, dict[str, str | None]]] = []
        self.reads = 0
        self.fail_reads = False

    def facade(self) -> EngineFacade:
        return EngineFacade(
            self.read_metadata, self.write_metadata, self.tag_spec, self.check_value, self.can_read
        )

    def can_read(self, path: str) -> bool:
        try:
            with open(path, "rb") as f:
                return f.read(len(MAGIC)) == MAGIC
        except OSError:
            return False

    def read_metadata(self, path: str) -> Metadata:
        self.reads += 1
        if self.fail_reads:
            raise CorruptFileError("fake engine told to fail")
        md = Metadata(path=path, format="FAKE")
        for tag, value in photo_tags(Path(path)).items():
            spec = SPECS.get(tag)
            binary = len(str(value)) if spec is not None and spec.kind == "binary" else None
            shown = f"(Binary data {binary} bytes)" if binary is not None else value
            writable = spec.writable if spec is not None else True
            md.add(TagValue(tag, "Fake", tag.rpartition("/")[2], shown, writable, binary))  # type: ignore[arg-type]
        return md

    def tag_spec(self, tag: str) -> TagSpec:
        spec = SPECS.get(tag)
        if spec is None:
            raise UnknownTagError("no such tag", tag=tag)
        return spec

    def check_value(self, tag: str, text: str) -> None:
        spec = self.tag_spec(tag)
        if not spec.writable:
            raise ReadOnlyTagError("tag is read-only", tag=tag)
        if spec.kind == "int" and not text.strip().isdigit():
            raise TagValueError(f"{text!r} does not fit: expected a whole number", tag=tag)

    def write_metadata(
        self, path: str, changes: dict[str, str | None], *, backups: str | None = None, **_: object
    ) -> WriteResult:
        self.writes.append((os.path.basename(path), dict(changes)))
        for tag, text in changes.items():
            if text is not None:
                self.check_value(tag, text)
        p = Path(path)
        tags = photo_tags(p)
        for tag, text in changes.items():
            if text is None:
                tags.pop(tag, None)
            elif self.tag_spec(tag).is_list:
                tags[tag] = text.split("\n") if text else []
            else:
                tags[tag] = text
        backup = None
        if backups is not None:
            rel = os.path.relpath(path, os.path.dirname(backups))
            dst = Path(backups) / rel
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dst)
            backup = str(dst)
        tmp = p.with_name(p.name + ".fake-tmp")
        make_photo(tmp, tags)
        os.replace(tmp, p)
        return WriteResult(path, backup, dict(changes))
