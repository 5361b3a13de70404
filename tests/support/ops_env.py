"""The daemon's Operations over a temporary SOURCE with a fake engine, called directly (no
mount): ``Env`` builds them, the coroutines below walk, read and write through them as the
kernel would.  The ``env`` fixture (tests/conftest.py) is an ``Env`` over ``tmp_path``."""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pyfuse3
import pytest
import trio

from metafs.config import DaemonConfig
from metafs.fs import Operations
from metafs.journal import Journal
from support.fake_engine import FakeEngine, make_photo

R = os.O_RDONLY
W = os.O_WRONLY


class Env:
    def __init__(self, tmp_path: Path, *, read_only: bool = False, debounce: float = 0.05) -> None:
        self.src = tmp_path / "src"
        self.src.mkdir()
        (self.src / "sub").mkdir()
        self.photo = make_photo(
            self.src / "photo.jpg",
            {"Make": "Canon", "ISO": "200", "MakerNote": "xyz", "iptc/Keywords": ["a", "b"]},
        )
        (self.src / "notes.txt").write_text("hello\n")
        self.engine = FakeEngine()
        self.journal = Journal(self.src / ".originals" / ".journal")
        self.journal.open()
        self.ops = Operations(
            DaemonConfig(str(self.src), debounce=debounce, read_only=read_only,
                         notify_kernel=False),
            engine=self.engine.facade(),
            journal=self.journal,
        )

    def run(self, fn: Callable[[Operations], Awaitable[None]]) -> None:
        async def main() -> None:
            async with trio.open_nursery() as n:
                self.ops.start(n)
                await fn(self.ops)
                await self.ops.batcher.commit_all()
                n.cancel_scope.cancel()

        try:
            trio.run(main)
        finally:
            self.journal.close()


async def walk(ops: Operations, path: str) -> int:
    inode = pyfuse3.ROOT_INODE
    for part in path.split("/"):
        inode = (await ops.lookup(inode, part.encode(), None)).st_ino
    return inode


async def parent_and_name(ops: Operations, path: str) -> tuple[int, bytes]:
    head, _, name = path.rpartition("/")
    return (await walk(ops, head) if head else pyfuse3.ROOT_INODE), name.encode()


async def cat(ops: Operations, path: str) -> bytes:
    fi = await ops.open(await walk(ops, path), R, None)
    try:
        return await ops.read(fi.fh, 0, 1 << 20)
    finally:
        await ops.release(fi.fh)


async def write_file(
    ops: Operations, path: str, data: bytes, flags: int = W | os.O_TRUNC, *, fsync: bool = False
) -> None:
    fi = await ops.open(await walk(ops, path), flags, None)
    try:
        await ops.write(fi.fh, 0, data)
        await ops.flush(fi.fh)
        if fsync:
            await ops.fsync(fi.fh, False)
    finally:
        await ops.release(fi.fh)


async def create_file(ops: Operations, path: str, data: bytes) -> None:
    parent, name = await parent_and_name(ops, path)
    fi, _ = await ops.create(parent, name, 0o644, W | os.O_CREAT | os.O_TRUNC, None)
    try:
        if data:
            await ops.write(fi.fh, 0, data)
        await ops.flush(fi.fh)
    finally:
        await ops.release(fi.fh)


def errno_of(excinfo: pytest.ExceptionInfo[pyfuse3.FUSEError]) -> int:
    return excinfo.value.errno


def ops_with(env: Env, **fields: object) -> Operations:
    """Operations over ``env`` whose engine facade has some functions replaced."""
    facade = dataclasses.replace(env.engine.facade(), **fields)
    return Operations(
        DaemonConfig(str(env.src), debounce=0.05, notify_kernel=False),
        engine=facade, journal=env.journal,
    )


def disk_full(tmp_path: Path) -> Env:
    """An Env whose every commit fails as on a full disk: edits stay in the journal."""
    env = Env(tmp_path)

    def write(path: str, changes: dict[str, str | None], **kw: object) -> Any:
        raise OSError(errno.ENOSPC, "No space left")

    env.ops = ops_with(env, write_metadata=write)
    return env
