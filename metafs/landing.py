"""A commit judged edit by edit: which failure belongs to which edit, and which can be
tried again (the disk's) or never (the value's, the photo's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine import EngineError, FileChangedError, TagError, WriteError


def reason_of(e: BaseException) -> str:
    """An engine error without the photo's path (status lines name the photo already)."""
    if isinstance(e, EngineError):
        return f"tag {e.tag}: {e.reason}" if e.tag else e.reason
    return str(e)


def lasting(e: BaseException) -> bool:
    """A failure trying again cannot fix: the value or the photo itself is the problem
    (not the disk: full, read-only, I/O error)."""
    if not isinstance(e, EngineError):
        return False
    cause = e.__cause__
    for _ in range(8):  # the engine may wrap its own error once more
        if cause is None or isinstance(cause, OSError):
            break
        cause = cause.__cause__
    return not isinstance(cause, OSError)


def _disk(e: BaseException) -> OSError | None:
    """The OSError behind a failure (the disk: full, read-only, I/O), if any."""
    for _ in range(8):
        if e is None or isinstance(e, OSError):
            return e
        e = e.__cause__  # type: ignore[assignment]
    return None


def splittable(e: BaseException) -> bool:
    """A failure that may come from one edit among several (a value the checks let through,
    a copy it makes that the other block cannot hold, a tag that does not read back), not
    from the photo itself (damaged, a format metafs does not write) nor from the disk."""
    return (isinstance(e, (TagError, WriteError)) and not isinstance(e, FileChangedError)
            and _disk(e) is None)


def land(
    write: Callable[[dict[str, str | None]], Any],
    changes: dict[str, str | None],
    partners: Callable[[str], tuple[str, ...]] = lambda tag: (),
) -> tuple[Any, dict[str, BaseException]]:
    """Worker thread: write ``changes`` with ``write``, judging each edit on its own.

    Returns (the last write's result, None when nothing was written; {tag: why it was
    refused}).  A tag the engine names (or whose synchronised copy it names) is left out and
    the rest written again; a failure that names no tag is split in halves until the edit
    that causes it stands alone.  Failures of the photo or of the disk raise: they are the
    whole batch's, as is the failure of a batch of one edit."""
    if len(changes) <= 1:
        return write(dict(changes)), {}
    refused: dict[str, BaseException] = {}

    def one_go(todo: dict[str, str | None]) -> Any:
        while True:
            try:
                return write(todo)
            except EngineError as e:
                bad = _culprit(e, todo, partners) if splittable(e) else None
                if bad is None or len(todo) == 1:
                    raise
                refused[bad] = e
                del todo[bad]

    def split(todo: dict[str, str | None]) -> Any:
        try:
            return one_go(todo)  # drops the edits named by the engine from todo
        except EngineError as e:
            if not splittable(e):
                raise
            if len(todo) == 1:
                refused.update(dict.fromkeys(todo, e))
                return None
        names = sorted(todo)
        result = None
        for part in (names[: len(names) // 2], names[len(names) // 2 :]):
            got = split({k: todo[k] for k in part})
            result = got if got is not None else result
        return result

    return split(dict(changes)), refused


def _culprit(
    e: EngineError, todo: dict[str, str | None], partners: Callable[[str], tuple[str, ...]]
) -> str | None:
    """The edit of ``todo`` the engine's error is about: the tag it names, or the edit
    whose synchronised copy it names (ImageDescription for xmp/dc:description)."""
    if not isinstance(e, TagError) or not e.tag:
        return None
    if e.tag in todo:
        return e.tag
    found = [t for t in todo if e.tag in partners(t)]
    return found[0] if len(found) == 1 else None


def tag_list(changes: dict[str, str | None], most: int = 4) -> str:
    names = sorted(changes)
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more
