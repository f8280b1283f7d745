"""Micro-batching: the texts of concurrent requests scored together in one worker thread."""

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class _Job:
    texts: list[str]
    future: concurrent.futures.Future | asyncio.Future
    queued_at: float = 0.0
    record: bool = True  # reported to ``on_batch`` (the warm-up is not)
    loop: asyncio.AbstractEventLoop | None = None  # the loop of an asyncio future (``await batcher(texts)``)


def _deliver(items: list, exc: BaseException | None) -> None:
    """In the event loop: settle the asyncio futures of one batch (those still awaited)."""
    for future, value in items:
        if not future.done():
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(value)


_STOP = object()


class MicroBatcher:
    """Scores the texts of concurrent requests together in one worker thread.

    The worker takes the oldest queued request, waits at most ``wait_s`` (0.001) for more, up
    to ``max_batch`` (512) texts in all, calls ``predict(texts)`` once and hands every request
    its own rows. The thread starts on the first request; ``close()`` stops it after the
    queued requests are scored (a later request starts it again). ``on_batch(texts, waits)``,
    when given, hears of every model call: its number of texts and each request's seconds in
    the queue (``GET /metrics``).

    ``await batcher(texts)`` waits on an asyncio future that the worker settles with one
    ``call_soon_threadsafe`` per batch and event loop (profiled under ``wrk``: one wake-up of
    the loop per request, through ``asyncio.wrap_future``, was 7% of the loop's time)."""

    def __init__(self, predict: Callable[[list[str]], np.ndarray], max_batch: int = 512, wait_s: float = 0.001,
                 on_batch: Callable[[int, list[float]], None] | None = None):
        self.predict = predict
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.on_batch = on_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()  # C: no Condition per put and get (profiled)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, texts: list[str], record: bool = True) -> concurrent.futures.Future:
        """Queue ``texts``; the future gets their (len(texts), outputs) array. ``record=False``
        keeps the call from ``on_batch`` (the server's warm-up)."""
        job = _Job(list(texts), concurrent.futures.Future(), time.monotonic(), record)
        self._put(job)
        return job.future

    async def __call__(self, texts: list[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        job = _Job(list(texts), loop.create_future(), time.monotonic(), True, loop)
        self._put(job)
        return await job.future

    def _put(self, job: _Job) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="rnnlab-batcher", daemon=True)
                self._thread.start()
            self._queue.put(job)

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(_STOP)
                self._thread.join()
                self._thread = None

    def _work(self) -> None:
        held = None
        while True:
            job = held if held is not None else self._queue.get()
            held = None
            if job is _STOP:
                return
            batch, size = [job], len(job.texts)
            deadline = time.monotonic() + self.wait_s
            while size < self.max_batch:
                try:  # what is queued already, without a timed wait (profiled: its own cost under load)
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    try:
                        nxt = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
                    except queue.Empty:
                        break
                if nxt is _STOP or size + len(nxt.texts) > self.max_batch:
                    held = nxt
                    break
                batch.append(nxt)
                size += len(nxt.texts)
            self._score(batch)

    def _score(self, batch: list[_Job]) -> None:
        # drop cancelled requests (an asyncio future's state is read here, settled in its loop)
        batch = [job for job in batch if (not job.future.cancelled() if job.loop is not None
                                          else job.future.set_running_or_notify_cancel())]
        if not batch:
            return
        if self.on_batch is not None and any(job.record for job in batch):
            now = time.monotonic()
            self.on_batch(sum(len(job.texts) for job in batch if job.record),
                          [now - job.queued_at for job in batch if job.record])
        try:
            out = self.predict([text for job in batch for text in job.texts])
        except BaseException as exc:  # noqa: BLE001 - every waiting request gets the error
            self._settle(batch, None, exc)
            return
        self._settle(batch, out, None)

    @staticmethod
    def _settle(batch: list[_Job], out: np.ndarray | None, exc: BaseException | None) -> None:
        """Every request its own rows (or the error): concurrent futures at once, asyncio ones
        with one call into each event loop."""
        loops: dict = {}
        start = 0
        for job in batch:
            value = None if out is None else out[start:start + len(job.texts)]
            start += len(job.texts)
            if job.loop is not None:
                loops.setdefault(job.loop, []).append((job.future, value))
            elif exc is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(value)
        for loop, items in loops.items():
            try:
                loop.call_soon_threadsafe(_deliver, items, exc)
            except RuntimeError:  # the loop has closed: nobody is waiting any more
                pass
