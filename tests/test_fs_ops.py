"""The daemon's Operations called directly (no mount), with a fake engine."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pyfuse3
import pytest
from support.fake_engine import FakeEngine, make_photo, photo_tags
from support.ops_env import (
    Env,
    W,
    cat,
    create_file,
    disk_full,
    errno_of,
    walk,
    write_file,
)

from engine.safewrite import safety
from metafs import passthrough as pt
from metafs import photos
from metafs.fs import Operations
from metafs.inodes import Kind
from metafs.journal import Journal

# -- what the mount shows -----------------------------------------------------------------


def test_meta_folder_for_photos_only(env: Env) -> None:
    async def t(ops: Operations) -> None:
        attr = await ops.lookup(pyfuse3.ROOT_INODE, b"photo.jpg.meta", None)
        assert stat.S_ISDIR(attr.st_mode)
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.lookup(pyfuse3.ROOT_INODE, b"notes.txt.meta", None)
        assert errno_of(e) == errno.ENOENT
        names = [n for n, _, _ in await ops._listing(ops.inodes.root)]
        assert names == sorted(
            ["photo.jpg", "photo.jpg.meta", "notes.txt", "sub", ".originals", ".metafs"]
        )

    env.run(t)


def test_tag_content_and_exact_size(env: Env) -> None:
    async def t(ops: Operations) -> None:
        assert await cat(ops, "photo.jpg.meta/Make") == b"Canon\n"
        assert await cat(ops, "photo.jpg.meta/iptc/Keywords") == b"a\nb\n"
        attr = await ops.getattr(await walk(ops, "photo.jpg.meta/Make"), None)
        assert attr.st_size == 6 and stat.S_IMODE(attr.st_mode) == 0o644
        ro = await ops.getattr(await walk(ops, "photo.jpg.meta/MakerNote"), None)
        assert stat.S_IMODE(ro.st_mode) == 0o444
        assert ro.st_size == len(b"(Binary data 3 bytes)\n")
        meta = await walk(ops, "photo.jpg.meta")
        listing = await ops._listing(ops.inodes.get(meta))
        assert [n for n, _, _ in listing] == ["ISO", "Make", "MakerNote", "iptc", "xmp"]

    env.run(t)


def test_listing_memo_follows_edits_and_outside_changes(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(photos, "STAT_WINDOW", 0.0)  # every access looks at the photo

    def sizes(listing: list[tuple[str, object, object]]) -> dict[str, int]:
        return {n: p[1] for n, _, p in listing if isinstance(p, tuple)}

    async def t(ops: Operations) -> None:
        meta = ops.inodes.get(await walk(ops, "photo.jpg.meta"))
        assert meta is not None
        first = await ops._listing(meta)
        assert await ops._listing(meta) is first  # memoized while nothing changes
        assert sizes(first)["Make"] == len(b"Canon\n")
        await write_file(ops, "photo.jpg.meta/Make", b"Hasselblad\n")
        assert sizes(await ops._listing(meta))["Make"] == len(b"Hasselblad\n")  # pending
        await ops.editor.commit_photo("photo.jpg")
        assert sizes(await ops._listing(meta))["Make"] == len(b"Hasselblad\n")
        make_photo(env.photo, {"Make": "Sony", "ISO": "200"})
        assert sizes(await ops._listing(meta))["Make"] == len(b"Sony\n")
        assert await cat(ops, "photo.jpg.meta/Make") == b"Sony\n"

    env.run(t)


def test_set_reads_back_pending_then_one_write(env: Env) -> None:
    async def t(ops: Operations) -> None:
        await write_file(ops, "photo.jpg.meta/Make", b"Nikon\n")
        assert await cat(ops, "photo.jpg.meta/Make") == b"Nikon\n"  # pending, visible
        assert env.engine.writes == []
        await write_file(ops, "photo.jpg.meta/ISO", b"400\n")
        await write_file(ops, "photo.jpg.meta/iptc/Keywords", b"c\n", W | os.O_APPEND)
        await create_file(ops, "photo.jpg.meta/Artist", b"Jane\n")
        await create_file(ops, "photo.jpg.meta/xmp/dc:title", b"Hello\n")
        await ops.editor.commit_photo("photo.jpg")
        assert len(env.engine.writes) == 1  # five tags, one rewrite
        assert photo_tags(env.photo) == {
            "Make": "Nikon",
            "ISO": "400",
            "MakerNote": "xyz",
            "iptc/Keywords": ["a", "b", "c"],
            "Artist": "Jane",
            "xmp/dc:title": "Hello",
        }
        assert (env.src / ".originals" / "photo.jpg").exists()

    env.run(t)


def test_bad_complete_value_refused_at_write(env: Env) -> None:
    async def t(ops: Operations) -> None:
        fi = await ops.open(await walk(ops, "photo.jpg.meta/ISO"), W | os.O_TRUNC, None)
        await ops.flush(fi.fh)  # bash flushes the dup2()ed descriptor before writing
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.write(fi.fh, 0, b"abc\n")
        assert errno_of(e) == errno.EINVAL
        await ops.flush(fi.fh)
        await ops.release(fi.fh)
        assert await cat(ops, "photo.jpg.meta/ISO") == b"200\n"
        assert b"ISO" in ops.status_text() and b"whole number" in ops.status_text()

    env.run(t)
    assert env.engine.writes == []


def test_bad_value_in_pieces_refused_at_flush(env: Env) -> None:
    async def t(ops: Operations) -> None:
        fi = await ops.open(await walk(ops, "photo.jpg.meta/ISO"), W | os.O_TRUNC, None)
        await ops.write(fi.fh, 0, b"ab")
        await ops.write(fi.fh, 2, b"c")
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.flush(fi.fh)
        assert errno_of(e) == errno.EINVAL
        await ops.release(fi.fh)

    env.run(t)
    assert env.engine.writes == []


def test_unlink_deletes_and_unknown_name_refused(env: Env) -> None:
    async def t(ops: Operations) -> None:
        meta = await walk(ops, "photo.jpg.meta")
        await ops.unlink(meta, b"Make", None)
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.lookup(meta, b"Make", None)
        assert errno_of(e) == errno.ENOENT
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.create(meta, b"Maek", 0o644, W | os.O_CREAT, None)
        assert errno_of(e) == errno.EINVAL
        for name in (b"MakerNote",):
            with pytest.raises(pyfuse3.FUSEError) as e:
                await ops.unlink(meta, name, None)
            assert errno_of(e) == errno.EACCES
            with pytest.raises(pyfuse3.FUSEError) as e:
                await ops.open(await walk(ops, "photo.jpg.meta/MakerNote"), W, None)
            assert errno_of(e) == errno.EACCES

    env.run(t)
    assert "Make" not in photo_tags(env.photo)
    assert "MakerNote" in photo_tags(env.photo)


def test_vim_style_save(env: Env) -> None:
    async def t(ops: Operations) -> None:
        meta = await walk(ops, "photo.jpg.meta")
        await create_file(ops, "photo.jpg.meta/.Make.swp", b"swap")
        await create_file(ops, "photo.jpg.meta/4913", b"")
        await ops.unlink(meta, b"4913", None)
        await ops.rename(meta, b"Make", meta, b"Make~", 0, None)
        assert await cat(ops, "photo.jpg.meta/Make~") == b"Canon\n"
        await create_file(ops, "photo.jpg.meta/Make", b"Leica\n")
        fi = await ops.open(await walk(ops, "photo.jpg.meta/Make"), W, None)
        await ops.fsync(fi.fh, False)  # commits the photo now
        await ops.release(fi.fh)
        assert photo_tags(env.photo)["Make"] == "Leica"
        await ops.unlink(meta, b"Make~", None)
        await ops.unlink(meta, b".Make.swp", None)
        names = [n for n, _, _ in await ops._listing(ops.inodes.get(meta))]
        assert "Make~" not in names and "Make" in names

    env.run(t)
    assert len(env.engine.writes) == 1


def test_sed_and_rsync_style_rename_over(env: Env) -> None:
    async def t(ops: Operations) -> None:
        meta = await walk(ops, "photo.jpg.meta")
        await create_file(ops, "photo.jpg.meta/sedX1y2Z3", b"Sony\n")
        await ops.rename(meta, b"sedX1y2Z3", meta, b"Make", 0, None)
        await create_file(ops, "photo.jpg.meta/.ISO.a8Bc9d", b"800\n")
        await ops.rename(meta, b".ISO.a8Bc9d", meta, b"ISO", 0, None)
        assert await cat(ops, "photo.jpg.meta/Make") == b"Sony\n"
        await create_file(ops, "photo.jpg.meta/.ISO.zzzzzz", b"bad\n")
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.rename(meta, b".ISO.zzzzzz", meta, b"ISO", 0, None)
        assert errno_of(e) == errno.EINVAL

    env.run(t)
    assert photo_tags(env.photo)["Make"] == "Sony"
    assert photo_tags(env.photo)["ISO"] == "800"
    assert len(env.engine.writes) == 1


def test_truncate_by_path_and_ftruncate(env: Env) -> None:
    async def t(ops: Operations) -> None:
        ino = await walk(ops, "photo.jpg.meta/Make")
        attr = pyfuse3.EntryAttributes()
        attr.st_size = 3
        fields = SimpleNamespace(
            update_size=True,
            update_mode=False,
            update_uid=False,
            update_gid=False,
            update_atime=False,
            update_mtime=False,
        )
        await ops.setattr(ino, attr, fields, None, None)
        assert await cat(ops, "photo.jpg.meta/Make") == b"Can\n"

    env.run(t)
    assert photo_tags(env.photo)["Make"] == "Can"


def test_journal_survives_crash_and_replays(tmp_path: Path) -> None:
    env = Env(tmp_path, debounce=60.0)  # the commit would come much later

    async def t(ops: Operations) -> None:
        await write_file(ops, "photo.jpg.meta/Make", b"Pentax\n")
        assert env.engine.writes == []
        ops.batcher.discard("photo.jpg")  # the daemon "dies" before committing

    env.run(t)
    assert photo_tags(env.photo)["Make"] == "Canon"
    engine = FakeEngine()
    with Journal(env.src / ".originals" / ".journal") as j:
        failed = j.replay(lambda p, c: engine.write_metadata(str(env.src / p), c))
        assert failed == {}
        assert j.load() == {}
    assert photo_tags(env.photo)["Make"] == "Pentax"


def test_external_modification_is_seen_and_pending_applies_on_top(env: Env) -> None:
    async def t(ops: Operations) -> None:
        assert await cat(ops, "photo.jpg.meta/Make") == b"Canon\n"
        make_photo(env.photo, {"Make": "Olympus", "ISO": "100"})
        assert await cat(ops, "photo.jpg.meta/Make") == b"Olympus\n"
        await write_file(ops, "photo.jpg.meta/ISO", b"1600\n")
        make_photo(env.photo, {"Make": "Fuji", "ISO": "100"})
        await ops.editor.commit_photo("photo.jpg")

    env.run(t)
    assert photo_tags(env.photo) == {"Make": "Fuji", "ISO": "1600"}


@pytest.mark.expect_error_log(r"^unexpected error in lookup$")
def test_unexpected_errors_become_eio(env: Env) -> None:
    env.engine.fail_reads = True

    async def t(ops: Operations) -> None:
        meta = await walk(ops, "photo.jpg.meta")
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.lookup(meta, b"Make", None)  # unreadable: an empty .meta, no crash
        assert errno_of(e) == errno.ENOENT

        async def boom(node: object) -> None:
            raise RuntimeError("a bug")

        ops.views[Kind.META].attr = boom  # type: ignore[method-assign]
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.lookup(pyfuse3.ROOT_INODE, b"photo.jpg.meta", None)
        assert errno_of(e) == errno.EIO
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.getattr(999999, None)
        assert errno_of(e) == errno.ESTALE

    env.run(t)


def test_read_only_mount(tmp_path: Path) -> None:
    env = Env(tmp_path, read_only=True)

    async def t(ops: Operations) -> None:
        assert (
            stat.S_IMODE((await ops.getattr(await walk(ops, "photo.jpg.meta/Make"))).st_mode)
            == 0o444
        )
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.open(await walk(ops, "photo.jpg.meta/Make"), W, None)
        assert errno_of(e) == errno.EROFS
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.open(await walk(ops, "notes.txt"), W, None)
        assert errno_of(e) == errno.EROFS

    env.run(t)


def test_originals_view_is_read_only_and_hides_journal(env: Env) -> None:
    async def t(ops: Operations) -> None:
        await write_file(ops, "photo.jpg.meta/Make", b"Nikon\n", fsync=True)
        orig = await walk(ops, ".originals")
        names = [n for n, _, _ in await ops._listing(ops.inodes.get(orig))]
        assert names == ["photo.jpg"]
        ino = await walk(ops, ".originals/photo.jpg")
        assert stat.S_IMODE((await ops.getattr(ino)).st_mode) & 0o222 == 0
        with pytest.raises(pyfuse3.FUSEError) as e:
            await ops.open(ino, W, None)
        assert errno_of(e) == errno.EROFS
        root_names = [n for n, _, _ in await ops._listing(ops.inodes.root)]
        assert root_names.count(".originals") == 1

    env.run(t)


def test_rename_photo_commits_pending_first(env: Env) -> None:
    async def t(ops: Operations) -> None:
        await write_file(ops, "photo.jpg.meta/Make", b"Minolta\n")
        await ops.rename(
            pyfuse3.ROOT_INODE, b"photo.jpg", await walk(ops, "sub"), b"p2.jpg", 0, None
        )
        assert await cat(ops, "sub/p2.jpg.meta/Make") == b"Minolta\n"

    env.run(t)
    assert photo_tags(env.src / "sub" / "p2.jpg")["Make"] == "Minolta"


def test_rename_moves_the_original_with_the_photo_and_folder(env: Env) -> None:
    original = env.photo.read_bytes()
    orig = env.src / ".originals"

    async def t(ops: Operations) -> None:
        await write_file(ops, "photo.jpg.meta/Make", b"Minolta\n", fsync=True)
        assert (orig / "photo.jpg").read_bytes() == original
        assert await cat(ops, ".originals/photo.jpg") == original  # looked up before the move
        await ops.rename(
            pyfuse3.ROOT_INODE, b"photo.jpg", await walk(ops, "sub"), b"p2.jpg", 0, None
        )
        assert not (orig / "photo.jpg").exists()
        assert (orig / "sub" / "p2.jpg").read_bytes() == original
        assert await cat(ops, ".originals/sub/p2.jpg") == original
        await ops.rename(pyfuse3.ROOT_INODE, b"sub", pyfuse3.ROOT_INODE, b"album", 0, None)
        assert sorted(os.listdir(orig)) == [".journal", "album"]
        assert (orig / "album" / "p2.jpg").read_bytes() == original
        # Deleting the photo keeps its original: it can still be restored.
        await ops.unlink(await walk(ops, "album"), b"p2.jpg", None)
        assert (orig / "album" / "p2.jpg").read_bytes() == original

    env.run(t)
    restored = env.src / "album" / "p2.jpg"
    safety.restore_file(str(restored), str(orig))
    assert restored.read_bytes() == original


def test_rename_over_a_photo_with_an_original_keeps_both(env: Env) -> None:
    make_photo(env.src / "sub" / "other.jpg", {"Make": "Leica"})
    other = (env.src / "sub" / "other.jpg").read_bytes()
    original = env.photo.read_bytes()
    orig = env.src / ".originals"

    async def t(ops: Operations) -> None:
        await write_file(ops, "photo.jpg.meta/Make", b"Minolta\n")
        await write_file(ops, "sub/other.jpg.meta/Make", b"Zeiss\n")
        await ops.commit_all()
        await ops.rename(
            pyfuse3.ROOT_INODE, b"photo.jpg", await walk(ops, "sub"), b"other.jpg", 0, None
        )

    env.run(t)
    assert (orig / "photo.jpg").read_bytes() == original
    assert (orig / "sub" / "other.jpg").read_bytes() == other
    assert "the original stays at .originals/photo.jpg: .originals/sub/other.jpg exists" in (
        env.ops.status_text().decode()
    )


def test_move_backups_merges_folders_and_never_overwrites(tmp_path: Path) -> None:
    old, new = tmp_path / "o" / "a", tmp_path / "o" / "b"
    (old / "deep").mkdir(parents=True)
    (old / "deep" / "x.jpg").write_bytes(b"x")
    (old / "y.jpg").write_bytes(b"old y")
    (new / "deep").mkdir(parents=True)
    (new / "y.jpg").write_bytes(b"new y")
    assert pt.move_backups(str(old), str(new)) == [str(old / "y.jpg")]
    assert (new / "deep" / "x.jpg").read_bytes() == b"x"
    assert (new / "y.jpg").read_bytes() == b"new y"
    assert (old / "y.jpg").read_bytes() == b"old y" and not (old / "deep").exists()
    assert pt.move_backups(str(tmp_path / "none"), str(tmp_path / "n2")) == []
    assert pt.move_backups(str(old / "y.jpg"), str(tmp_path / "p" / "q" / "y.jpg")) == []
    assert (tmp_path / "p" / "q" / "y.jpg").read_bytes() == b"old y"




def test_journaled_edits_follow_a_renamed_folder(tmp_path: Path) -> None:
    env = disk_full(tmp_path)
    make_photo(env.src / "sub" / "x.jpg", {"Make": "Canon"})

    async def t(ops: Operations) -> None:
        await write_file(ops, "sub/x.jpg.meta/Make", b"Pentax\n")
        with pytest.raises(pyfuse3.FUSEError):
            await ops.commit_all()
        await ops.rename(pyfuse3.ROOT_INODE, b"sub", pyfuse3.ROOT_INODE, b"album", 0, None)

    env.run(t)
    with Journal(env.src / ".originals" / ".journal") as j:
        assert j.load() == {"album/x.jpg": {"Make": "Pentax"}}


def test_journal_rename_moves_edits_and_drops_the_replaced_photo(tmp_path: Path) -> None:
    with Journal(tmp_path / "j") as j:
        j.append_sync("a/x.jpg", {"Make": "A"})
        j.append_sync("c.jpg", {"Make": "C"})
        j.append_sync("d.jpg", {"ISO": "100"})
        j.rename_sync("a", "b")
        j.rename_sync("c.jpg", "d.jpg")
        assert j.load() == {"b/x.jpg": {"Make": "A"}, "d.jpg": {"Make": "C"}}
    with Journal(tmp_path / "j") as j:
        assert j.load() == {"b/x.jpg": {"Make": "A"}, "d.jpg": {"Make": "C"}}
        j.replay(lambda p, c: None)
        j.append_sync("d.jpg", {"Make": "D"})
        j.rename_sync("d.jpg", "e.jpg")
        assert j.load() == {"e.jpg": {"Make": "D"}}
        j.done_sync("e.jpg", 1 << 30)
        assert j.path.read_bytes().strip(b"\0") == b""  # nothing outstanding: zeroed


def test_forget_drops_nodes(env: Env) -> None:
    async def t(ops: Operations) -> None:
        ino = await walk(ops, "photo.jpg.meta/Make")
        await ops.lookup(await walk(ops, "photo.jpg.meta"), b"Make", None)
        node = ops.inodes.get(ino)
        assert node is not None and node.lookups == 2
        await ops.forget([(ino, 2)])
        assert ops.inodes.get(ino) is None
        await ops.forget([(pyfuse3.ROOT_INODE, 5)])
        assert ops.inodes.get(pyfuse3.ROOT_INODE) is not None

    env.run(t)


def test_passthrough_create_write_read(env: Env) -> None:
    async def t(ops: Operations) -> None:
        await create_file(ops, "sub/new.txt", b"data")
        assert await cat(ops, "sub/new.txt") == b"data"
        await ops.unlink(await walk(ops, "sub"), b"new.txt", None)

    env.run(t)
    assert not (env.src / "sub" / "new.txt").exists()


# -- the pieces -------------------------------------------------------------------------------


# -- audit: refusals that reach the user at once, views that match the disk ----------------
