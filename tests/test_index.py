"""metafs.index: rows that round-trip what the mount shows, keys that prove a photo unchanged,
and an index file that is never trusted when it is not ours (rebuilt instead)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from engine.model import Metadata, TagValue
from metafs import index as mi
from metafs.index import MetaIndex, key_of

KEY = (1, 2, 3, 4, 5)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _md(path: str = "/p.jpg") -> Metadata:
    md = Metadata(path, "JPEG", warnings=["odd"], file_type="JPEG")
    md.add(TagValue("Make", "IFD0", "Make", "Canon"))
    md.add(TagValue("xmp/dc:subject", "XMP-dc", "Subject", ["a", "b\nc"]))
    md.add(TagValue("MakerNote", "ExifIFD", "MakerNote", "(Binary data 9 bytes)", False, 9))
    return md


def _fields(md: Metadata) -> tuple:
    return (md.path, md.format, md.file_type, md.warnings,
            [tuple(getattr(t, k) for k in TagValue.__slots__) for t in md.tags.values()])


def _open(tmp_path: Path) -> MetaIndex:
    index = mi.open_at(str(tmp_path / "ix" / "index.sqlite"))
    assert index.state.startswith("ok")
    return index


def test_a_row_round_trips_and_needs_its_key(tmp_path: Path) -> None:
    index = _open(tmp_path)
    index.put("a/p.jpg", KEY, _md(), None)
    index.put("a/bad.jpg", KEY, None, "not a JPEG")
    index.flush()
    got = index.get("a/p.jpg", KEY, "/p.jpg")
    assert got is not None and _fields(got[0]) == _fields(_md())
    assert index.get("a/bad.jpg", KEY, "/bad.jpg") == (None, "not a JPEG")
    assert index.get("a/p.jpg", (1, 2, 3, 4, 6), "/p.jpg") is None  # ctime changed
    assert index.get("a/q.jpg", KEY, "/q.jpg") is None
    index.close()
    again = _open(tmp_path)  # across mounts
    got = again.get("a/p.jpg", KEY, "/p.jpg")
    assert got is not None and _fields(got[0]) == _fields(_md())
    again.drop("a/p.jpg")
    again.flush()
    assert again.get("a/p.jpg", KEY, "/p.jpg") is None
    again.close()


def test_writes_are_batched_and_pending_rows_are_served(tmp_path: Path) -> None:
    index = _open(tmp_path)
    index.put("p.jpg", KEY, _md(), None)
    assert index._pending  # not written yet (one transaction per batch)
    assert index.get("p.jpg", KEY, "/p.jpg") is not None
    for i in range(mi.BATCH - 1):
        index.put(f"{i}.jpg", KEY, _md(), None)
    assert not index._pending
    index.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "version", "engine", "foreign"])
def test_an_index_not_ours_is_rebuilt(tmp_path: Path, damage: str) -> None:
    index = _open(tmp_path)
    index.put("p.jpg", KEY, _md(), None)
    index.close()
    path = tmp_path / "ix" / "index.sqlite"
    if damage == "garbage":
        path.write_bytes(b"\x07" * 8192)
    elif damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    else:
        db = sqlite3.connect(path)
        if damage == "version":
            db.execute(f"PRAGMA user_version = {mi.SCHEMA + 1}")
        elif damage == "engine":
            db.execute("UPDATE meta SET value = 'other'")
        else:
            db.execute("PRAGMA application_id = 7")
        db.commit()
        db.close()
    again = mi.open_at(str(path))
    assert again.state == "ok (rebuilt)"
    assert again.get("p.jpg", KEY, "/p.jpg") is None
    again.close()


def test_a_row_of_the_wrong_shape_is_a_miss(tmp_path: Path) -> None:
    index = _open(tmp_path)
    index.close()
    path = tmp_path / "ix" / "index.sqlite"
    import marshal
    import zlib

    db = sqlite3.connect(path)
    bad = zlib.compress(marshal.dumps(("JPEG", "JPEG", [], ((1, 2, 3, 4, 5, 6),))))
    db.execute("INSERT INTO photos VALUES ('p.jpg', 1, 2, 3, 4, 5, ?)", (bad,))
    db.execute("INSERT INTO photos VALUES ('q.jpg', 1, 2, 3, 4, 5, ?)", (b"junk",))
    db.commit()
    db.close()
    again = _open(tmp_path)
    assert again.get("p.jpg", KEY, "/p.jpg") is None
    assert again.get("q.jpg", KEY, "/q.jpg") is None
    again.close()


def test_a_symlink_in_place_of_the_index_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "ix").mkdir()
    target = tmp_path / "precious"
    target.write_bytes(b"keep me")
    os.symlink(target, tmp_path / "ix" / "index.sqlite")
    index = _open(tmp_path)
    assert index.state == "ok (rebuilt)"
    assert target.read_bytes() == b"keep me"
    assert not (tmp_path / "ix" / "index.sqlite").is_symlink()
    index.close()


def test_an_index_error_in_use_falls_back_to_decoding(tmp_path: Path) -> None:
    index = _open(tmp_path)
    index.put("p.jpg", KEY, _md(), None)
    index.flush()
    assert index._db is not None
    index._db.execute("DROP TABLE photos")
    assert index.get("p.jpg", KEY, "/p.jpg") is None
    assert index.state.startswith("off: ")
    index.put("p.jpg", KEY, _md(), None)  # ignored, no error
    index.close()


def test_key_of_a_stat(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    st = os.stat(f)
    assert key_of(st) == (st.st_dev, st.st_ino, 1, st.st_mtime_ns, st.st_ctime_ns)


def test_an_index_locked_by_another_program_is_left_alone(tmp_path: Path) -> None:
    index = _open(tmp_path)
    index.put("p.jpg", KEY, _md(), None)
    index.close()
    path = tmp_path / "ix" / "index.sqlite"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        busy = mi.open_at(str(path))
        assert busy.state.startswith("off: database is locked")
        assert busy.get("p.jpg", KEY, "/p.jpg") is None
        busy.close()
    finally:
        other.execute("COMMIT")
        other.close()
    again = _open(tmp_path)
    assert again.state == "ok"
    assert again.get("p.jpg", KEY, "/p.jpg") is not None  # not rebuilt
    again.close()


def test_the_engine_build_leaves_out_the_writing_modules(tmp_path: Path) -> None:
    for name in ("reader.py", "writer.py", "write/planners.py", "formats/jpeg.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    build = mi.engine_build([str(tmp_path)])
    (tmp_path / "writer.py").write_text("x = 2\n")
    (tmp_path / "write" / "planners.py").write_text("x = 2\n")
    assert mi.engine_build([str(tmp_path)]) == build  # a change to the writer keeps the index
    (tmp_path / "formats" / "jpeg.py").write_text("x = 22\n")
    assert mi.engine_build([str(tmp_path)]) != build


def test_where_inode_numbers_are_not_stable_a_photo_is_known_by_content(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SOURCE on vfat, exfat or a FUSE filesystem (sshfs), whose inode numbers change with
    each mount: a photo copied to a new inode (what a remount looks like) is not decoded
    again; a photo rewritten in place by another program, its size and mtime kept, is."""
    from metafs.facade import real_engine
    from metafs.pending import Pending
    from metafs.photos import PhotoViews

    monkeypatch.setattr(mi, "inodes_stable", lambda source: (False, "vfat"))
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.jpg", "b.jpg"):
        shutil.copyfile(FIXTURES / "photo.jpg", src / name)

    def views() -> PhotoViews:
        index = _open(tmp_path)
        index.keyed_for(str(src))
        return PhotoViews(real_engine(), str(src), Pending(), index=index)

    first = views()
    assert first.index is not None and first.index.keys_note == (
        "; inode numbers on vfat are not stable: photos are known by size, mtime and a hash "
        "of their first 1 MiB and last 64 KiB")
    assert [first._read(n)[1].tags["Make"].value for n in ("a.jpg", "b.jpg")] == [
        "MetaFS Test Camera Co."] * 2
    first.index.close()
    for name, make in (("a.jpg", None), ("b.jpg", b"Rewritten in place\0\0\0\0")):
        path = src / name
        st = path.stat()
        data = path.read_bytes()
        if make is not None:
            data = data.replace(b"MetaFS Test Camera Co.", make)
        path.unlink()
        path.write_bytes(data)  # a new inode, as after a remount
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = views()
    assert again._read("a.jpg")[1].tags["Make"].value == "MetaFS Test Camera Co."
    assert again._read("b.jpg")[1].tags["Make"].value == "Rewritten in place"
    assert (again.decodes, again.index.hits) == (1, 1)
    again.index.close()


def test_inode_numbers_are_stable_on_local_disks_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from metafs import watch

    for kind, stable in (("ext4", True), ("btrfs", True), ("vfat", False),
                         ("fuse.sshfs", False), ("nfs4", False), (None, False)):
        monkeypatch.setattr(watch, "filesystem_type", lambda path, text, k=kind: k)
        assert mi.inodes_stable("/photos") == (stable, kind or "unknown")


def test_a_photo_rewritten_while_it_is_decoded_is_decoded_again(tmp_path: Path) -> None:
    """Another program rewrites the photo between the daemon's stat and its read: the row
    is keyed by the stat taken before reading, so it never stands for the new file, and
    the next look decodes the photo as it is now."""
    import dataclasses

    import engine
    from metafs.facade import real_engine
    from metafs.pending import Pending
    from metafs.photos import PhotoViews

    src = tmp_path / "src"
    src.mkdir()
    photo = src / "a.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    replaced = photo.read_bytes().replace(b"MetaFS Test Camera Co.", b"Rewritten meanwhile\0\0\0")

    def read_while_rewritten(path: str, **kw: object) -> Metadata:
        if not kw:
            tmp = src / "a.tmp"
            tmp.write_bytes(replaced)
            os.replace(tmp, photo)  # as ExifTool does, between the stat and the read
        return engine.read_metadata(path, **kw)

    index = _open(tmp_path)
    facade = dataclasses.replace(real_engine(), read_metadata=read_while_rewritten)
    views = PhotoViews(facade, str(src), Pending(), index=index)
    assert views._read("a.jpg")[1].tags["Make"].value == "Rewritten meanwhile"
    views.index.flush()
    again = PhotoViews(real_engine(), str(src), Pending(), index=index)
    assert again._read("a.jpg")[1].tags["Make"].value == "Rewritten meanwhile"
    assert again.decodes == 1  # the row made before the rewrite did not match
    index.close()
