"""The Operations class and its parts called directly (no mount): tag encoding, errno
mapping, the batcher, the journal, refusals, modes, listings.  See also test_fs_ops.py."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyfuse3
import pytest
import trio
from support.fake_engine import make_photo, photo_tags
from support.ops_env import (
    Env,
    W,
    create_file,
    disk_full,
    errno_of,
    ops_with,
    walk,
    write_file,
)

from engine.errors import CorruptFileError, WriteError
from metafs import passthrough as pt
from metafs.config import SessionFeatures
from metafs.fs import Operations
from metafs.journal import Journal

# -- what the mount shows -----------------------------------------------------------------




def test_tag_content_encoding() -> None:
    from metafs.tagfiles import complete_line, decode, encode_value, is_scratch_name

    assert encode_value("Canon") == b"Canon\n"
    assert encode_value(["a", "b"]) == b"a\nb\n"
    assert decode(b"x\n") == "x" and decode(b"x\n\n") == "x\n" and decode(b"a\r\n") == "a"
    assert complete_line(b"400\n") == "400"
    assert complete_line(b"40") is None and complete_line(b"a\nb\n") is None
    for name in (
        ".Make.swp",
        "4913",
        "Make~",
        "sedAb12Cd",
        ".Make.Xy12Zq",
        "#Make#",
        "tmpab12cd_x",
    ):
        assert is_scratch_name(name), name
    for name in ("Make", "ISO", "dc:title", "Keywords", "GPSLatitude"):
        assert not is_scratch_name(name), name


def test_errno_mapping() -> None:
    from engine.errors import (
        ReadOnlyTagError,
        TagValueError,
        UnknownTagError,
        UnsupportedFormatError,
    )
    from metafs.errors import errno_for

    assert errno_for(UnknownTagError("x")) == errno.ENOENT
    assert errno_for(UnknownTagError("x"), unknown_tag=errno.EINVAL) == errno.EINVAL
    assert errno_for(TagValueError("x")) == errno.EINVAL
    assert errno_for(ReadOnlyTagError("x")) == errno.EACCES
    assert errno_for(WriteError("x")) == errno.EIO
    full = WriteError("no space left on the device while writing the temporary file")
    full.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert errno_for(full) == errno.ENOSPC
    assert errno_for(UnsupportedFormatError("writing Canon CR3 files is not supported")) == \
        errno.EOPNOTSUPP
    assert errno_for(CorruptFileError("x")) == errno.EIO
    assert errno_for(PermissionError(errno.EPERM, "x")) == errno.EPERM
    assert errno_for(ValueError("a bug")) == errno.EIO


def test_batcher_debounce_and_failures() -> None:
    from metafs.batcher import Batcher, CommitFailed

    calls: list[tuple[str, dict[str, str | None]]] = []

    def commit(photo: str, changes: dict[str, str | None]) -> None:
        calls.append((photo, dict(changes)))
        if "bad" in changes:
            raise ValueError("refused")

    async def main() -> None:
        b = Batcher(commit, debounce=0.05, max_delay=10)
        async with trio.open_nursery() as n:
            b.start(n)
            for i in range(5):
                b.submit("a.jpg", {f"T{i}": str(i)})
                await trio.sleep(0.01)
            b.submit("b.jpg", {"X": "1"})
            assert b.overlay("a.jpg")["T4"] == "4"
            await trio.sleep(0.2)
            assert sorted(p for p, _ in calls) == ["a.jpg", "b.jpg"]
            assert b.overlay("a.jpg") == {} and not b.busy()
            b.submit("a.jpg", {"bad": "x"})
            with pytest.raises(CommitFailed):
                await b.commit_now("a.jpg")
            assert b.failures == 1
            await b.commit_now("nothing-pending.jpg")

    trio.run(main)
    assert len(calls) == 3


def test_journal_done_truncates_and_torn_line_is_skipped(tmp_path: Path) -> None:
    with Journal(tmp_path / "j") as j:
        s1 = j.append_sync("a.jpg", {"Make": "X"})
        j.append_sync("b.jpg", {"Make": None})
        j.done_sync("a.jpg", s1)
        assert j.load() == {"b.jpg": {"Make": None}}
        with open(j.path, "ab") as f:
            f.write(b'{"seq": 99, "photo": "c.jp')  # a crash in the middle of a record
        assert j.load() == {"b.jpg": {"Make": None}}
        j.done_sync("b.jpg", 99)
        assert j.path.read_bytes().strip(b"\0") == b""  # zeroed; the reserve is kept
    with Journal(tmp_path / "j"):
        with pytest.raises(OSError, match="another metafs daemon"):
            Journal(tmp_path / "j").open()


def test_append_to_single_value_tag_refused(env: Env) -> None:
    async def t(ops: Operations) -> None:
        with pytest.raises(pyfuse3.FUSEError) as e:  # `echo x >> Make`
            await ops.open(await walk(ops, "photo.jpg.meta/Make"), W | os.O_APPEND, None)
        assert errno_of(e) == errno.EINVAL
        await write_file(ops, "photo.jpg.meta/iptc/Keywords", b"c\n", W | os.O_APPEND)
        await ops.commit_all()

    env.run(t)
    assert photo_tags(env.photo)["Make"] == "Canon"
    assert photo_tags(env.photo)["iptc/Keywords"] == ["a", "b", "c"]
    status = env.ops.status_text().decode()
    assert "photo.jpg.meta/Make: holds one value, not a list: '>>'" in status


def test_read_only_format_and_unreadable_photo_refused_at_once(env: Env) -> None:
    def read_as_bigtiff(path: str) -> Any:
        md = env.engine.read_metadata(path)
        md.file_type = "BTF"
        return md

    env.ops = ops_with(env, read_metadata=read_as_bigtiff)

    async def t(ops: Operations) -> None:
        meta = await walk(ops, "photo.jpg.meta")
        for call in (
            ops.open(await walk(ops, "photo.jpg.meta/Make"), W, None),
            ops.create(meta, b"Artist", 0o644, W | os.O_CREAT, None),
            ops.unlink(meta, b"Make", None),
        ):
            with pytest.raises(pyfuse3.FUSEError) as e:
                await call
            assert errno_of(e) == errno.EACCES
        mode = (await ops.getattr(await walk(ops, "photo.jpg.meta/Make"))).st_mode
        assert stat.S_IMODE(mode) == 0o444
        env.engine.fail_reads = True
        make_photo(env.photo, {"Make": "Other"})  # a new signature: read again, and fail
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.create(meta, b"Artist", 0o644, W | os.O_CREAT, None)
        assert errno_of(e) == errno.EIO

    env.run(t)
    assert env.engine.writes == []
    status = env.ops.status_text().decode()
    assert "photo.jpg.meta/Artist: metafs reads BigTIFF files but cannot write them" in status
    assert "cannot read the photo's metadata, so it cannot be written: fake engine" in status


def test_tag_the_writer_cannot_address_is_read_only(tmp_path: Path) -> None:
    env = Env(tmp_path)
    make_photo(env.photo, {"Make": "Canon", "xmp/dc:creatorInfo/x:city": "Paris"})

    async def t(ops: Operations) -> None:
        tag = "photo.jpg.meta/xmp/dc:creatorInfo/x:city"
        assert stat.S_IMODE((await ops.getattr(await walk(ops, tag))).st_mode) == 0o444
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.unlink(await walk(ops, "photo.jpg.meta/xmp/dc:creatorInfo"), b"x:city", None)
        assert errno_of(e) == errno.EACCES

    env.run(t)
    assert env.engine.writes == []
    assert "x:city: metafs cannot write this tag (no such tag)" in env.ops.status_text().decode()


def test_refused_tag_does_not_sink_the_batch(env: Env) -> None:
    async def t(ops: Operations) -> None:
        # Two edits in one debounce window; the engine refuses one of them at write time.
        await ops.editor.edit("photo.jpg", {"Make": "Nikon", "ISO": "abc"})
        await ops.commit_all()

    env.run(t)
    assert photo_tags(env.photo)["Make"] == "Nikon"
    assert photo_tags(env.photo)["ISO"] == "200"
    status = env.ops.status_text().decode()
    assert "photo.jpg.meta/ISO: not written: tag ISO: 'abc' does not fit" in status
    assert "the photo's other edits were written" in status


@pytest.mark.parametrize(
    ("cause", "kept"), [(None, False), (OSError(errno.ENOSPC, "No space left"), True)]
)
def test_failed_commit_kept_in_journal_only_when_the_disk_failed(
    tmp_path: Path, cause: OSError | None, kept: bool
) -> None:
    env = Env(tmp_path)

    def write(path: str, changes: dict[str, str | None], **kw: object) -> Any:
        err = CorruptFileError("no image data", path=path)
        raise err from cause

    env.ops = ops_with(env, write_metadata=write)

    async def t(ops: Operations) -> None:
        await write_file(ops, "photo.jpg.meta/Make", b"Pentax\n")
        with pytest.raises(pyfuse3.FUSEError):
            await ops.commit_all()

    env.run(t)
    status = env.ops.status_text().decode()
    assert "photo.jpg: 1 edit(s) not written (Make): no image data; the photo is unchanged" in (
        status
    )
    assert ("tried again at the next mount" in status) == kept
    with Journal(env.src / ".originals" / ".journal") as j:
        assert j.load() == ({"photo.jpg": {"Make": "Pentax"}} if kept else {})


def test_meta_modes_follow_the_photo(env: Env) -> None:
    os.chmod(env.photo, 0o640)

    async def t(ops: Operations) -> None:
        meta = await ops.getattr(await walk(ops, "photo.jpg.meta"))
        assert stat.S_IMODE(meta.st_mode) == 0o750
        listed = {n: stat.S_IMODE(p[0]) for n, _, p in await ops._listing(ops.inodes.root)
                  if n.endswith(".meta")}
        assert listed == {"photo.jpg.meta": 0o750}
        make = await ops.getattr(await walk(ops, "photo.jpg.meta/Make"))
        note = await ops.getattr(await walk(ops, "photo.jpg.meta/MakerNote"))
        assert (stat.S_IMODE(make.st_mode), stat.S_IMODE(note.st_mode)) == (0o640, 0o440)

    env.run(t)


def test_no_meta_for_symlinks_and_names_too_long(env: Env) -> None:
    long_name = "L" * 251 + ".jpg"  # NAME.meta would be 260 bytes: no disk could copy it
    shutil.copy(env.photo, env.src / long_name)
    os.symlink("photo.jpg", env.src / "link.jpg")

    async def t(ops: Operations) -> None:
        names = [n for n, _, _ in await ops._listing(ops.inodes.root)]
        assert long_name in names and "link.jpg" in names
        assert [n for n in names if n.endswith(".meta")] == ["photo.jpg.meta"]
        for name in (long_name + ".meta", "link.jpg.meta"):
            with pytest.raises(pyfuse3.FUSEError) as e:
                await ops.lookup(pyfuse3.ROOT_INODE, name.encode(), None)
            assert errno_of(e) in (errno.ENOENT, errno.ENAMETOOLONG)

    env.run(t)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files away")
def test_root_daemon_gives_new_entries_to_the_caller(env: Env) -> None:
    ctx = SimpleNamespace(uid=65534, gid=65534, pid=1, umask=0o022)

    async def t(ops: Operations) -> None:
        sub = await walk(ops, "sub")
        fi, _ = await ops.create(sub, b"new.txt", 0o644, W | os.O_CREAT, ctx)
        await ops.release(fi.fh)
        await ops.mkdir(sub, b"folder", 0o755, ctx)
        await ops.symlink(sub, b"link", b"new.txt", ctx)

    env.run(t)
    for name in ("new.txt", "folder", "link"):
        st = os.lstat(env.src / "sub" / name)
        assert (st.st_uid, st.st_gid) == (65534, 65534), name


def test_listing_by_inode_keeps_one_snapshot_per_folder(env: Env) -> None:
    """With the shim, readdir gets the folder's inode: the pieces of one listing come from
    the snapshot taken at offset 0, a new listing from 0 is taken afresh, and snapshots of
    readers that stopped half-way are bounded."""
    from metafs import fs

    async def body(ops: Operations) -> None:
        ops.handles.features = SessionFeatures(dirs_by_inode=True)
        meta = await walk(ops, "photo.jpg.meta")
        first = await ops._entries(meta, 0)
        assert [n for n, _, _ in first] == ["ISO", "Make", "MakerNote", "iptc", "xmp"]
        assert await ops._entries(meta, 2) is first  # the rest of the same listing
        assert await ops._entries(pyfuse3.ROOT_INODE, 0) is not first
        for inode in range(10_000, 10_000 + fs.MAX_LISTINGS + 5):
            ops._listings[inode] = []
        await ops._entries(meta, 0)
        assert len(ops._listings) == fs.MAX_LISTINGS
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops._entries(123_456, 0)
        assert e.value.errno == errno.ESTALE

    env.run(body)


def test_deleting_a_photo_drops_its_journaled_edits(tmp_path: Path) -> None:
    env = disk_full(tmp_path)

    async def t(ops: Operations) -> None:
        await write_file(ops, "photo.jpg.meta/Make", b"Pentax\n")
        with pytest.raises(pyfuse3.FUSEError):
            await ops.commit_all()
        await ops.unlink(pyfuse3.ROOT_INODE, b"photo.jpg", None)

    env.run(t)
    # Another photo takes the name: the next mount must not give it the deleted one's edits.
    make_photo(env.photo, {"Make": "Canon"})
    with Journal(env.src / ".originals" / ".journal") as j:
        assert j.load() == {}
        assert j.path.read_bytes().strip(b"\0") == b""  # nothing outstanding


def test_journal_drop_keeps_the_other_photos_edits(tmp_path: Path) -> None:
    with Journal(tmp_path / "j") as j:
        j.append_sync("a.jpg", {"Make": "A"})
        j.append_sync("b.jpg", {"Make": "B"})
        j.drop_sync("a.jpg")
        j.drop_sync("never-edited.jpg")
    with Journal(tmp_path / "j") as j:
        assert j.load() == {"b.jpg": {"Make": "B"}}


@pytest.mark.parametrize("how", ["truncate-only", "newline", "setattr"])
def test_emptying_a_tag_file_deletes_the_tag(env: Env, how: str) -> None:
    """`: > Make`, `echo > Make` and `truncate -s 0 Make` leave the file empty: the tag goes,
    as with `exiftool -Make=` (bash's flush of its dup2()ed descriptor deletes nothing)."""

    async def t(ops: Operations) -> None:
        make = await walk(ops, "photo.jpg.meta/Make")
        if how == "setattr":
            fields = SimpleNamespace(update_size=True, update_mode=False, update_uid=False,
                                     update_gid=False, update_atime=False, update_mtime=False,
                                     update_ctime=False)
            await ops.setattr(make, SimpleNamespace(st_size=0), fields, None, None)
        else:
            fi = await ops.open(make, W | os.O_TRUNC, None)
            await ops.flush(fi.fh)
            assert ops.batcher.pending_photos() == {}  # not at the early flush
            if how == "newline":
                await ops.write(fi.fh, 0, b"\n")
                await ops.flush(fi.fh)
            await ops.release(fi.fh)
        await ops.commit_all()

    env.run(t)
    assert env.engine.writes == [("photo.jpg", {"Make": None})]
    assert "Make" not in photo_tags(env.photo)


def test_a_deleted_tag_the_kernel_still_names_can_be_written_again(env: Env) -> None:
    """After `: > Make` is committed the kernel may still hold the name for a moment (its
    entry is being invalidated): the GETATTR it sends before `echo x > Make` opens the
    inode must not fail with ENOENT (a writer would see "No such file"); the file is
    empty, and the write makes the tag again."""

    async def t(ops: Operations) -> None:
        make = await walk(ops, "photo.jpg.meta/Make")
        fi = await ops.open(make, W | os.O_TRUNC, None)
        await ops.release(fi.fh)
        await ops.commit_all()
        assert "Make" not in photo_tags(env.photo)
        assert (await ops.getattr(make, None)).st_size == 0
        fields = SimpleNamespace(update_size=True, update_mode=False, update_uid=False,
                                 update_gid=False, update_atime=False, update_mtime=False,
                                 update_ctime=False)
        await ops.setattr(make, SimpleNamespace(st_size=0), fields, None, None)
        fi = await ops.open(make, W | os.O_TRUNC, None)
        await ops.write(fi.fh, 0, b"Again\n")
        await ops.release(fi.fh)
        await ops.commit_all()

    env.run(t)
    assert photo_tags(env.photo)["Make"] == "Again"


def test_a_line_that_is_not_text_is_refused_at_write(env: Env) -> None:
    async def t(ops: Operations) -> None:
        fi = await ops.open(await walk(ops, "photo.jpg.meta/Make"), W | os.O_TRUNC, None)
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.write(fi.fh, 0, b"\xff\xfe\n")  # `printf '\xff\xfe\n' > Make`
        assert errno_of(e) == errno.EINVAL
        await ops.release(fi.fh)  # refused: neither written nor emptied

    env.run(t)
    assert env.engine.writes == []
    assert "photo.jpg.meta/Make: not UTF-8 text (invalid start byte at byte 0)" in (
        env.ops.status_text().decode())


def test_an_empty_new_tag_file_adds_nothing(env: Env) -> None:
    async def t(ops: Operations) -> None:
        await create_file(ops, "photo.jpg.meta/Artist", b"")
        await create_file(ops, "photo.jpg.meta/Model", b"\n")
        await ops.commit_all()

    env.run(t)
    assert env.engine.writes == []


def test_move_backups_follows_no_symlink_in_the_backup_tree(tmp_path: Path) -> None:
    """A backup folder swapped for a symlink (its owner can) does not take the move
    outside the .originals tree: the rename is refused, nothing outside moves."""
    root = tmp_path / ".originals"
    (root / "u").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.jpg").write_bytes(b"not a backup")
    (root / "u").rmdir()
    (root / "u").symlink_to(outside)
    with pytest.raises(WriteError, match="a folder of the backup tree is a symbolic link"):
        pt.move_backups(str(root / "u" / "a.jpg"), str(root / "u" / "b.jpg"), root=str(root))
    assert sorted(os.listdir(outside)) == ["a.jpg"]
    (root / "v").mkdir()
    (root / "v" / "c.jpg").write_bytes(b"c")
    with pytest.raises(WriteError):
        pt.move_backups(str(root / "v" / "c.jpg"), str(root / "u" / "c.jpg"), root=str(root))
    assert sorted(os.listdir(outside)) == ["a.jpg"]
    assert (root / "v" / "c.jpg").read_bytes() == b"c"
