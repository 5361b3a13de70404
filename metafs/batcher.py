"""Edits wait a short debounce window per photo, then become one call of the write engine.

``submit`` adds edits (whole value texts, ``None`` = delete) to a photo's pending set and
(re)arms its deadline: the photo commits ``debounce`` seconds after its last edit, and at the
latest ``max_delay`` after its first.  Each photo has one task that runs the commits one at a
time, off the trio loop in a worker thread; photos commit in parallel up to the limiter's size.
Pending and in-flight edits stay readable (``overlay``) until the photo holds them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

log = logging.getLogger(__name__)

Changes = dict[str, str | None]
CommitFn = Callable[[str, Changes], Any]  # runs in a worker thread; may raise
DoneFn = Callable[[str, Changes, int, Any, BaseException | None], Any]  # on the trio loop


class CommitFailed(Exception):
    def __init__(self, photo: str, cause: BaseException) -> None:
        super().__init__(f"{photo}: {cause}")
        self.photo = photo
        self.cause = cause


@dataclass(eq=False)
class _Photo:
    pending: Changes = field(default_factory=dict)
    inflight: Changes = field(default_factory=dict)
    seq: int = 0  # highest journal seq among pending edits
    submitted: int = 0  # edits ever submitted (generation)
    finished: int = 0  # generations the photo holds (or that failed)
    first: float = 0.0
    deadline: float = 0.0
    urgent: bool = False
    wake: trio.Event = field(default_factory=trio.Event)
    progress: trio.Event = field(default_factory=trio.Event)
    errors: dict[int, BaseException] = field(default_factory=dict)  # generation -> error


class Batcher:
    def __init__(
        self,
        commit: CommitFn,
        *,
        debounce: float = 0.3,
        max_delay: float | None = None,
        limiter: trio.CapacityLimiter | None = None,
        on_done: DoneFn | None = None,
    ) -> None:
        self._commit = commit
        self.debounce = debounce
        self.max_delay = max_delay if max_delay is not None else max(2.0, 5 * debounce)
        self.limiter = limiter or trio.CapacityLimiter(2)
        self._on_done = on_done
        self._photos: dict[str, _Photo] = {}
        self._nursery: trio.Nursery | None = None
        self.commits = 0  # engine calls made
        self.failures = 0

    def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery

    # -- what is waiting ------------------------------------------------------------------

    def overlay(self, photo: str) -> Changes:
        """Edits the photo does not hold yet (in-flight first, pending on top)."""
        st = self._photos.get(photo)
        if st is None:
            return {}
        return {**st.inflight, **st.pending}

    def pending_photos(self) -> dict[str, list[str]]:
        return {p: sorted(self.overlay(p)) for p, st in self._photos.items() if self.overlay(p)}

    def busy(self) -> bool:
        return any(st.pending or st.inflight for st in self._photos.values())

    # -- adding edits -------------------------------------------------------------------

    def submit(self, photo: str, changes: Changes, seq: int = 0) -> None:
        if self._nursery is None:
            raise RuntimeError("Batcher.start() was not called")
        st = self._photos.get(photo)
        new = st is None
        if st is None:
            st = self._photos[photo] = _Photo()
        now = trio.current_time()
        if not st.pending:
            st.first = now
        st.pending.update(changes)
        st.seq = max(st.seq, seq)
        st.submitted += 1
        st.deadline = min(now + self.debounce, st.first + self.max_delay)
        st.wake.set()
        if new:
            self._nursery.start_soon(self._run, photo, st, name=f"commit {photo}")

    def discard(self, photo: str) -> None:
        """The photo is gone: its pending edits have nothing to apply to."""
        st = self._photos.get(photo)
        if st is not None:
            st.pending.clear()
            st.finished = st.submitted
            st.wake.set()
            st.progress.set()

    def rename(self, old: str, new: str) -> None:
        """Move pending edits with a renamed photo (callers commit first when they can)."""
        for photo in [p for p in self._photos if p == old or p.startswith(old + "/")]:
            st = self._photos.get(photo)
            if st is not None and st.pending and not st.inflight:
                changes, seq = dict(st.pending), st.seq
                self.discard(photo)
                self.submit(new + photo[len(old) :], changes, seq)

    # -- committing now -----------------------------------------------------------------

    async def commit_now(self, photo: str) -> None:
        """Commit the photo's edits at once; return when it holds them (or raise)."""
        st = self._photos.get(photo)
        if st is None:
            return
        target = st.submitted
        st.urgent = True
        st.wake.set()
        while st.finished < target:
            await st.progress.wait()
        errs = [e for g, e in st.errors.items() if g <= target]
        for g in [g for g in st.errors if g <= target]:
            del st.errors[g]
        if errs:
            raise CommitFailed(photo, errs[-1])

    async def commit_all(self) -> list[CommitFailed]:
        failures = []
        async with trio.open_nursery() as n:

            async def one(photo: str) -> None:
                try:
                    await self.commit_now(photo)
                except CommitFailed as e:
                    failures.append(e)

            for photo in list(self._photos):
                n.start_soon(one, photo)
        return failures

    # -- the per-photo task -------------------------------------------------------------

    async def _run(self, photo: str, st: _Photo) -> None:
        try:
            while True:
                while st.pending and not st.urgent and trio.current_time() < st.deadline:
                    with trio.move_on_at(st.deadline):
                        await st.wake.wait()
                    st.wake = trio.Event()
                if not st.pending:
                    st.urgent = False
                    return
                await self._commit_once(photo, st)
        finally:
            if self._photos.get(photo) is st:
                del self._photos[photo]
            st.finished = st.submitted
            st.progress.set()

    async def _commit_once(self, photo: str, st: _Photo) -> None:
        changes, seq, gen = st.pending, st.seq, st.submitted
        st.inflight, st.pending, st.urgent = changes, {}, False
        result: Any = None
        error: BaseException | None = None
        try:
            result = await trio.to_thread.run_sync(
                self._commit, photo, changes, limiter=self.limiter
            )
        except Exception as e:  # noqa: BLE001 - ``commit`` is the caller's callback (a
            # write through the engine): any failure is reported through status and
            # commit_now, and must not end this photo's task
            error = e
            log.warning("commit of %s failed: %s", photo, e)
        self.commits += 1
        if error is not None:
            self.failures += 1
            st.errors[gen] = error
        # The photo holds these edits now (or never will): on_done stores what it reads
        # before its first await, and must see no overlay of them, or it would take a tag
        # that was refused for one the photo has (the kernel then keeps its name).
        st.inflight = {}
        if self._on_done is not None:
            try:
                await _maybe_await(self._on_done(photo, changes, seq, result, error))
            except Exception:  # noqa: BLE001 - a bug in the callback must not stop commits
                log.exception("after commit of %s", photo)
        st.finished = gen
        st.progress.set()
        st.progress = trio.Event()


async def _maybe_await(value: Any) -> None:
    if hasattr(value, "__await__"):
        await value
