"""metafs/watch.py: the inotify watcher of SOURCE, on a real folder (no mount), and what the
Operations make of its reports (the mount test is in test_mount_cache.py)."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest
import trio
from support.fake_engine import make_photo
from support.ops_env import Env, cat

from metafs import watch
from metafs.inodes import Kind


def event(wd: int, mask: int, name: str = "", pad: int = 16) -> bytes:
    raw = name.encode()
    n = (len(raw) // pad + 1) * pad if raw else 0
    return struct.pack("iIII", wd, mask, 0, n) + raw.ljust(n, b"\0")


def test_parse_events_reads_names_and_drops_a_torn_tail() -> None:
    buf = event(1, watch.IN_CREATE, "photo.jpg") + event(2, watch.IN_DELETE_SELF)
    buf += event(1, watch.IN_CLOSE_WRITE, "Zoë.jpg")
    assert watch.parse_events(buf) == [
        (1, watch.IN_CREATE, "photo.jpg"), (2, watch.IN_DELETE_SELF, ""),
        (1, watch.IN_CLOSE_WRITE, "Zoë.jpg")]
    assert watch.parse_events(buf[:-3]) == watch.parse_events(buf)[:2]
    assert watch.parse_events(b"") == []


class Recorder:
    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.folders: set[str] = set()
        self.overflows = 0

    def change(self, paths: set[str], folders: set[str]) -> None:
        self.paths |= paths
        self.folders |= folders

    def overflow(self) -> None:
        self.overflows += 1


async def settle(rec: Recorder, want: set[str]) -> None:
    with trio.fail_after(10):
        while not want <= rec.paths:
            await trio.sleep(0.01)


def test_the_watcher_reports_changes_in_every_folder(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / ".originals").mkdir()
    rec = Recorder()
    w = watch.Watcher(str(src), (".originals",), rec.change, rec.overflow)

    async def main() -> None:
        async with trio.open_nursery() as n:
            await n.start(w.run)
            assert w.watching == 3  # src, a, a/b; not .originals
            (src / "a" / "b" / "x.jpg").write_bytes(b"1")
            (src / ".originals" / "x.jpg").write_bytes(b"1")
            await settle(rec, {"a/b/x.jpg"})
            assert rec.folders == {"a/b"}  # a name came
            rec.paths.clear()
            rec.folders.clear()
            (src / "a" / "b" / "x.jpg").write_bytes(b"2")  # rewritten in place
            await settle(rec, {"a/b/x.jpg"})
            assert rec.folders == set()  # no name came or went
            # A folder renamed, one made with a file inside: both watched under their names.
            os.rename(src / "a", src / "c")
            (src / "d").mkdir()
            await settle(rec, {"a", "c", "d"})
            (src / "c" / "b" / "y.jpg").write_bytes(b"3")
            (src / "d" / "z.jpg").write_bytes(b"4")
            await settle(rec, {"c/b/y.jpg", "d/z.jpg"})
            shutil.rmtree(src / "d")
            await settle(rec, {"d"})
            n.cancel_scope.cancel()

    trio.run(main)
    assert ".originals/x.jpg" not in rec.paths and rec.overflows == 0
    assert not any(p.startswith("a/") for p in rec.paths - {"a/b/x.jpg"})


def test_without_inotify_the_watcher_steps_aside(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def no_inotify() -> None:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(watch, "_Inotify", no_inotify)
    w = watch.Watcher(str(tmp_path), (), lambda p, f: None, lambda: None)

    async def main() -> None:
        async with trio.open_nursery() as n:
            await n.start(w.run)

    trio.run(main)
    assert w.watching == 0
    assert "changes by other programs show within 10 s" in caplog.text


def test_operations_drop_only_what_changed(tmp_path: Path) -> None:
    env = Env(tmp_path)
    sent: list[list[int]] = []

    async def t(ops) -> None:  # type: ignore[no-untyped-def]
        ops.kernel.stale = lambda nodes: sent.append(sorted(n.inode for n in nodes if n))
        assert await cat(ops, "photo.jpg.meta/Make") == b"Canon\n"
        photo_nodes = sorted(n.inode for n in ops.inodes.nodes_of_photo("photo.jpg"))
        root = ops.inodes.find(Kind.SRC, "").inode
        # The file the daemon last read (its own commit, or a touch-free event): nothing.
        ops.kernel.source_changed({"photo.jpg"}, set())
        assert sent == [[]]
        # Rewritten by someone else: the photo's nodes and its folder; read again on access.
        make_photo(env.photo, {"Make": "Olympus"})
        ops.kernel.source_changed({"photo.jpg", ".photo.jpg.metafs-1234abcd.tmp"}, set())
        assert sent[-1] == sorted({*photo_nodes, root})
        assert await cat(ops, "photo.jpg.meta/Make") == b"Olympus\n"
        # Events were lost: everything the kernel holds.
        ops.kernel.source_overflow()
        assert set(sent[-1]) >= set(photo_nodes)

    env.run(t)


MOUNTINFO = """\
22 1 252:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:26 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw
41 22 0:40 / /mnt/photos\\040lib rw,relatime shared:9 - nfs4 srv:/photos rw,vers=4.2
45 30 0:42 / /tmp/sshfs rw - fuse.sshfs host: rw
"""


@pytest.mark.parametrize(("path", "kind"), [
    ("/home/ann/photos", "ext4"),
    ("/tmp/x", "tmpfs"),
    ("/tmp", "tmpfs"),
    ("/tmpfoo", "ext4"),  # a prefix of the name is not a mount above it
    ("/mnt/photos lib/2024", "nfs4"),  # an escaped space in the mount point
    ("/tmp/sshfs/a", "fuse.sshfs"),
])
def test_filesystem_type_from_mountinfo(path: str, kind: str) -> None:
    assert watch.filesystem_type(path, MOUNTINFO) == kind


@pytest.mark.parametrize("local", [True, False])
def test_trust_comes_with_a_local_source_and_goes_with_the_last_watch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local: bool) -> None:
    monkeypatch.setattr(watch, "is_local", lambda path: local)
    said: list[bool] = []
    rec = Recorder()
    w = watch.Watcher(str(tmp_path), (), rec.change, rec.overflow, said.append)

    async def main() -> None:
        async with trio.open_nursery() as n:
            await n.start(w.run)
            assert said == ([True] if local else [])
            assert w.describe() == ("1 folder(s)" if local else (
                "1 folder(s), not a local filesystem: changes other programs make show at "
                "the next open of a photo"))
            real_add = watch._Inotify.add

            def full(self: watch._Inotify, path: str) -> int:
                raise OSError(28, "No space left on device")  # max_user_watches reached

            monkeypatch.setattr(watch._Inotify, "add", full)
            (tmp_path / "new").mkdir()
            await settle(rec, {"new"})
            assert w.describe() == (
                "1 folder(s), out of inotify watches (fs.inotify.max_user_watches is "
                f"{watch.max_watches()}): changes other programs make show at the next "
                "open of a photo")
            monkeypatch.setattr(watch._Inotify, "add", real_add)
            n.cancel_scope.cancel()

    trio.run(main)
    assert said == ([True, False] if local else [])
    assert w.trusted is False
