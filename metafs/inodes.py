"""Inode table: our inode numbers for every node the kernel knows, with lookup counts.

Nodes are keyed by what they stand for (a path in SOURCE, a ``.meta`` folder, a tag file...),
so the same name always maps to the same inode while the kernel remembers it.  Every successful
lookup, create and readdirplus entry adds one to the count; ``forget`` takes it away, and a node
whose count reaches zero is dropped (the root never is).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import pyfuse3


class Kind(Enum):
    SRC = "src"  # a path in SOURCE (file, folder, symlink), passed through
    META = "meta"  # NAME.meta/ or a folder inside it (``xmp/``)
    TAG = "tag"  # a file inside a .meta folder: a tag or an editor's scratch file
    ORIG = "orig"  # .originals/ and everything below it (read only)
    CTL = "ctl"  # .metafs/ and its files


@dataclass(eq=False, slots=True)
class Node:
    inode: int
    kind: Kind
    rel: str  # SRC/ORIG: path relative to its root; META/TAG: the photo's path in SOURCE
    sub: str = ""  # META: folder prefix inside .meta ("" or "xmp"); TAG: tag path; CTL: name
    lookups: int = 0
    # TAG: what the kernel was told: the size in the last attributes, and the content it may
    # hold in its page cache (opens keep that cache only while the content is the same).
    told: int | None = None
    page: bytes | None = None
    read_before: bool = False  # a reader was ever given this inode (one may still read it)

    @property
    def key(self) -> tuple[Kind, str, str]:
        return (self.kind, self.rel, self.sub)


class InodeTable:
    def __init__(self) -> None:
        self._by_inode: dict[int, Node] = {}
        self._by_key: dict[tuple[Kind, str, str], Node] = {}
        # SRC, META and TAG nodes by rel (lists: a few nodes a photo, and a set of three
        # costs 130 bytes more, 13 MB in a library of 100,000 photos)
        self._by_photo: dict[str, list[Node]] = {}
        self._next = pyfuse3.ROOT_INODE + 1
        self._mark_generated: Callable[[int], int] | None = None
        root = Node(pyfuse3.ROOT_INODE, Kind.SRC, "")
        self._add(root)
        self.root = root

    def mark_generated(self, mark: Callable[[int], int]) -> None:
        """``mark(inode)`` for every node that is not a SOURCE path, now and when made: the
        shim answers their extended attribute requests (they have none)."""
        self._mark_generated = mark
        for node in self._by_inode.values():
            if node.kind is not Kind.SRC:
                mark(node.inode)

    def _add(self, node: Node) -> None:
        if self._mark_generated is not None and node.kind is not Kind.SRC:
            self._mark_generated(node.inode)
        self._by_inode[node.inode] = node
        self._by_key[node.key] = node
        self._index(node)

    def _index(self, node: Node) -> None:
        if node.kind in _PHOTO_KINDS:
            self._by_photo.setdefault(node.rel, []).append(node)

    def _unindex(self, node: Node) -> None:
        nodes = self._by_photo.get(node.rel)
        if nodes is not None and node in nodes:
            nodes.remove(node)
            if not nodes:
                del self._by_photo[node.rel]

    def __len__(self) -> int:
        return len(self._by_inode)

    def get(self, inode: int) -> Node | None:
        return self._by_inode.get(inode)

    def find(self, kind: Kind, rel: str, sub: str = "") -> Node | None:
        return self._by_key.get((kind, rel, sub))

    def node(self, kind: Kind, rel: str, sub: str = "") -> Node:
        """The node for a key, made (with a new inode number) when it is not known yet."""
        node = self._by_key.get((kind, rel, sub))
        if node is None:
            # one copy of a photo's path for its SRC, META and TAG nodes (and sub's names)
            node = Node(self._next, kind, sys.intern(rel), sys.intern(sub))
            self._next += 1
            self._add(node)
        return node

    def remember(self, node: Node, n: int = 1) -> Node:
        node.lookups += n
        return node

    def forget(self, inode: int, n: int) -> None:
        node = self._by_inode.get(inode)
        if node is None:
            return
        node.lookups = max(0, node.lookups - n)
        if node.lookups == 0 and node is not self.root:
            del self._by_inode[inode]
            if self._by_key.get(node.key) is node:
                del self._by_key[node.key]
            self._unindex(node)

    def all_nodes(self) -> list[Node]:
        return list(self._by_inode.values())

    def nodes_of_photo(self, rel: str) -> list[Node]:
        """The photo's own node and every node of its .meta view."""
        return list(self._by_photo.get(rel, ()))

    def rekey(self, kind: Kind, old: str, new: str) -> None:
        """A path (and everything below it) was renamed: move the nodes with it."""
        moved = []
        for node in list(self._by_inode.values()):
            if node.kind is kind or (kind is Kind.SRC and node.kind in (Kind.META, Kind.TAG)):
                if node.rel == old or node.rel.startswith(old + "/"):
                    moved.append(node)
        for node in moved:
            if self._by_key.get(node.key) is node:
                del self._by_key[node.key]
        for node in moved:
            self._unindex(node)
            node.rel = new + node.rel[len(old) :]
            # A node already under the new key (the target of the rename) loses its name.
            self._by_key[node.key] = node
            self._index(node)

    def move(self, node: Node, rel: str, sub: str) -> None:
        """Give ``node`` a new name (a rename inside a .meta folder); a node that had that
        name keeps its inode but loses the name."""
        if self._by_key.get(node.key) is node:
            del self._by_key[node.key]
        self._unindex(node)
        node.rel, node.sub = rel, sub
        node.page = None
        self._by_key[node.key] = node
        self._index(node)

    def drop_key(self, kind: Kind, rel: str, sub: str = "") -> None:
        """Forget the name of a node (it was removed); the inode lives on until forgotten."""
        self._by_key.pop((kind, rel, sub), None)


_PHOTO_KINDS = (Kind.SRC, Kind.META, Kind.TAG)
