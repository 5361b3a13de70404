"""The one place where errors become errno values for the kernel.

Only ``pyfuse3.FUSEError`` may leave a handler: anything else would end ``pyfuse3.main`` and
with it the mount.  ``handler`` wraps every ``Operations`` method; ``fuse_error`` maps engine
errors, ``OSError`` keeps its own errno, and anything unexpected is logged and becomes EIO.
"""

from __future__ import annotations

import collections
import errno
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import pyfuse3

from engine import (
    CorruptFileError,
    EngineError,
    NoBackupError,
    ReadOnlyTagError,
    TagValueError,
    UnknownTagError,
    UnsupportedFormatError,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def errno_for(exc: BaseException, *, unknown_tag: int = errno.ENOENT) -> int:
    """errno for ``exc``.  ``unknown_tag`` is ENOENT when a name is looked up and EINVAL
    when a caller tries to create or write a tag nobody knows."""
    if isinstance(exc, pyfuse3.FUSEError):
        return exc.errno
    if isinstance(exc, UnknownTagError):
        return unknown_tag
    if isinstance(exc, TagValueError):
        return errno.EINVAL
    if isinstance(exc, ReadOnlyTagError):
        return errno.EACCES
    if isinstance(exc, UnsupportedFormatError):
        return errno.EOPNOTSUPP
    if isinstance(exc, (CorruptFileError, NoBackupError)):
        return errno.EIO
    if isinstance(exc, EngineError):
        # A write that failed on the disk says why: ENOSPC, EDQUOT, EROFS, EACCES...
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno:
            return cause.errno
        return errno.EIO
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    return errno.EIO


def fuse_error(exc: BaseException, *, unknown_tag: int = errno.ENOENT) -> pyfuse3.FUSEError:
    if isinstance(exc, pyfuse3.FUSEError):
        return exc
    return pyfuse3.FUSEError(errno_for(exc, unknown_tag=unknown_tag))


# Requests served, by handler name (the status file shows them: how much work a command
# caused, and whether the kernel's caches answered instead).
requests: collections.Counter[str] = collections.Counter()


def handler(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Wrap an async Operations method so that only FUSEError leaves it."""
    name = fn.__name__

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        requests[name] += 1
        try:
            return await fn(*args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except (EngineError, OSError) as e:
            log.debug("%s: %s", fn.__name__, e)
            raise fuse_error(e) from None
        except Exception:  # a bug: keep the daemon alive, tell the caller EIO
            log.exception("unexpected error in %s", fn.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None

    return wrapper


def fail(code: int) -> pyfuse3.FUSEError:
    return pyfuse3.FUSEError(code)
