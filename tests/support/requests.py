"""What a mount was asked, from its status file: requests that reached the daemon's loop by
kind, and the opens the FUSE shim answered in C (metafs/fuse_shim.c)."""

from __future__ import annotations

import re
from collections.abc import Callable

from support.mount import Mount


def requests(mount: Mount) -> dict[str, int]:
    line = next(x for x in mount.status().splitlines() if x.startswith("requests:"))
    return {op: int(n) for op, n in re.findall(r"(\w+) (\d+)", line.partition("(")[2])}


def cost(mount: Mount, action: Callable[[], object]) -> dict[str, int]:
    """The requests ``action`` caused (those of reading the status file left out; statfs
    too, which grep asks for)."""
    r0 = requests(mount)
    r1 = requests(mount)
    action()
    r2 = requests(mount)
    ops = set(r0) | set(r1) | set(r2)
    spent = {op: r2.get(op, 0) - 2 * r1.get(op, 0) + r0.get(op, 0) for op in ops}
    return {op: n for op, n in spent.items() if n and op != "statfs"}


def shim_opens(mount: Mount) -> int:
    """Opens answered by the shim (they reach the daemon's process, not its loop)."""
    found = re.search(r"opens answered by the shim: (\d+)", mount.status())
    assert found is not None
    return int(found.group(1))
