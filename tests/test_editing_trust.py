"""The daemon's side of issue #11, called directly (no mount, fake engine): a journal that
cannot record an edit fails the call that made it, a commit judges each edit on its own,
fsync reports a refused tag, and the scratch-name rule.  The same through a real mount:
tests/test_mount_trust.py."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pyfuse3
import pytest
from support.fake_engine import photo_tags
from support.ops_env import Env, W, create_file, errno_of, ops_with, walk, write_file

from engine.errors import CorruptFileError, TagValueError, ValidationError
from metafs.fs import Operations
from metafs.landing import land
from metafs.tagfiles import decode, is_scratch_name

NO_SPACE = "not written: no space left on SOURCE; free space and write again"


def full_journal(env: Env) -> None:
    async def append(photo: str, changes: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    env.journal.append = append  # type: ignore[method-assign]


def test_a_full_journal_fails_write_for_a_line_and_close_for_the_rest(env: Env) -> None:
    full_journal(env)

    async def t(ops: Operations) -> None:
        # One complete line (echo): refused at write(), which the shell reports.
        fi = await ops.open(await walk(ops, "photo.jpg.meta/Make"), W | os.O_TRUNC, None)
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.write(fi.fh, 0, b"Pentax\n")
        assert errno_of(e) == errno.ENOSPC
        await ops.flush(fi.fh)  # nothing was written: nothing to hand on
        await ops.release(fi.fh)
        # Items of a list written in pieces: refused at close().
        with pytest.raises(pyfuse3.FUSEError) as e:
            await write_file(ops, "photo.jpg.meta/iptc/Keywords", b"x\ny\n")
        assert errno_of(e) == errno.ENOSPC
        assert ops.batcher.pending_photos() == {}

    env.run(t)
    status = env.ops.status_text().decode()
    # Once: the file opened with O_TRUNC is not taken for emptied (`: > Make`) at release.
    assert status.count(f"photo.jpg.meta/Make: {NO_SPACE}") == 1
    assert f"photo.jpg.meta/iptc/Keywords: {NO_SPACE}" in status
    assert env.engine.writes == []


def test_a_value_journaled_at_write_stands_when_a_later_write_is_refused(env: Env) -> None:
    async def t(ops: Operations) -> None:
        fi = await ops.open(await walk(ops, "photo.jpg.meta/ISO"), W | os.O_TRUNC, None)
        assert await ops.write(fi.fh, 0, b"400\n") == 4
        with pytest.raises(pyfuse3.FUSEError):
            await ops.write(fi.fh, 0, b"abc\n")  # no ISO: refused, "400" stays
        await ops.flush(fi.fh)
        await ops.release(fi.fh)

    env.run(t)
    assert photo_tags(env.photo)["ISO"] == "400"


def write_refusing(bad: dict[str, Exception]) -> tuple[list[dict[str, Any]], Any]:
    """A write function that fails while any tag of ``bad`` is in the batch."""
    calls: list[dict[str, Any]] = []

    def write(todo: dict[str, Any]) -> Any:
        calls.append(dict(todo))
        for tag, e in bad.items():
            if tag in todo:
                raise e
        return todo

    return calls, write


def test_land_leaves_out_the_edit_whose_copy_is_refused() -> None:
    err = TagValueError("character U+0000 cannot be stored", tag="xmp/dc:description")
    calls, write = write_refusing({"ImageDescription": err})
    partners = {"ImageDescription": ("xmp/dc:description", "iptc/Caption-Abstract")}
    changes = {"Artist": "Jane", "ImageDescription": "a\0b", "Make": "X"}
    result, refused = land(write, changes, lambda t: partners.get(t, ()))
    assert result == {"Artist": "Jane", "Make": "X"}
    assert refused == {"ImageDescription": err}
    assert len(calls) == 2


def test_land_splits_a_failure_that_names_no_tag() -> None:
    err = ValidationError("tag Model reads back as 'x'; nothing was written")
    changes = {f"Tag{i:02}": str(i) for i in range(64)}
    calls, write = write_refusing({"Tag37": err})
    result, refused = land(write, changes)
    assert refused == {"Tag37": err}
    landed = set().union(*(call for call in calls if "Tag37" not in call))
    assert landed == set(changes) - {"Tag37"}
    assert len(calls) <= 2 * 7 + 1  # halves down to the one edit, not one write per edit


def test_land_raises_what_is_the_photo_s_or_the_disk_s() -> None:
    for err in (CorruptFileError("no image data"), OSError(errno.ENOSPC, "full")):
        calls, write = write_refusing({"Make": err})
        with pytest.raises(type(err)):
            land(write, {"Make": "A", "Model": "B"})
        assert len(calls) == 1


def test_fsync_of_a_refused_tag_fails_while_the_others_land(tmp_path: Path) -> None:
    env = Env(tmp_path)
    real = env.engine.write_metadata

    def write(path: str, changes: dict[str, Any], **kw: Any) -> Any:
        if "Model" in changes:
            raise ValidationError("tag Model does not read back after writing it", path=path)
        return real(path, changes, **kw)

    env.ops = ops_with(env, write_metadata=write)

    async def t(ops: Operations) -> None:
        await write_file(ops, "photo.jpg.meta/Make", b"Nikon\n")
        await create_file(ops, "photo.jpg.meta/Model", b"D1\n")
        with pytest.raises(pyfuse3.FUSEError) as e:
            await write_file(ops, "photo.jpg.meta/Model", b"D1\n", fsync=True)
        assert errno_of(e) == errno.EIO
        await write_file(ops, "photo.jpg.meta/Make", b"Nikon\n", fsync=True)

    env.run(t)
    assert photo_tags(env.photo)["Make"] == "Nikon"
    status = env.ops.status_text().decode()
    assert ("photo.jpg.meta/Model: not written: tag Model does not read back after writing "
            "it; the photo's other edits were written") in status
    assert "cannot write this photo" not in status


def test_scratch_names_and_misspelt_tags(env: Env) -> None:
    for name in ("XXkNGakZ", "Artist.XXXX", "tmp8x7k2", "tmp.AbCdEf1234", "Make.tmp",
                 "dc:title.swp", "sedAb12Cd", ".Make.swp", "4913", "Make~", "#Make#"):
        assert is_scratch_name(name), name
    for name in ("Make", "Modle", "ISO", "dc:title", "Caption-Abstract", "By-line",
                 "xmpMM:History[1]", "GPSLatitude"):
        assert not is_scratch_name(name), name
    with pytest.raises(TagValueError, match="a NUL byte at byte 3"):
        decode(b"abc\0def\n")

    async def t(ops: Operations) -> None:
        meta = await walk(ops, "photo.jpg.meta")
        for name, code in ((b"model", errno.EINVAL), (b"Modle", errno.EINVAL)):
            with pytest.raises(pyfuse3.FUSEError) as e:
                await ops.create(meta, name, 0o644, W | os.O_CREAT | os.O_EXCL, None)
            assert errno_of(e) == code
        fi, _ = await ops.create(meta, b"XXkNGakZ", 0o600, W | os.O_CREAT | os.O_EXCL, None)
        await ops.write(fi.fh, 0, b"Perl\n")
        await ops.release(fi.fh)
        await ops.rename(meta, b"XXkNGakZ", meta, b"Make", 0, None)

    env.run(t)
    assert photo_tags(env.photo)["Make"] == "Perl"
