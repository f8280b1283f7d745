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
    future: concurrent.futures.Future
    queued_at: float = 0.0
    record: bool = True  # reported to ``on_batch`` (the warm-up is not)


_STOP = object()


class MicroBatcher:
    """Scores the texts of concurrent requests together in one worker thread.

    The worker takes the oldest queued request, waits at most ``wait_s`` (0.005) for more, up
    to ``max_batch`` (512) texts in all, calls ``predict(texts)`` once and hands every request
    its own rows. The thread starts on the first request; ``close()`` stops it after the
    queued requests are scored (a later request starts it again). ``on_batch(texts, waits)``,
    when given, hears of every model call: its number of texts and each request's seconds in
    the queue (``GET /metrics``)."""

    def __init__(self, predict: Callable[[list[str]], np.ndarray], max_batch: int = 512, wait_s: float = 0.005,
                 on_batch: Callable[[int, list[float]], None] | None = None):
        self.predict = predict
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.on_batch = on_batch
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, texts: list[str], record: bool = True) -> concurrent.futures.Future:
        """Queue ``texts``; the future gets their (len(texts), outputs) array. ``record=False``
        keeps the call from ``on_batch`` (the server's warm-up)."""
        job = _Job(list(texts), concurrent.futures.Future(), time.monotonic(), record)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="rnnlab-batcher", daemon=True)
                self._thread.start()
            self._queue.put(job)
        return job.future

    async def __call__(self, texts: list[str]) -> np.ndarray:
        return await asyncio.wrap_future(self.submit(texts))

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
        batch = [job for job in batch if job.future.set_running_or_notify_cancel()]  # drop cancelled requests
        if not batch:
            return
        if self.on_batch is not None and any(job.record for job in batch):
            now = time.monotonic()
            self.on_batch(sum(len(job.texts) for job in batch if job.record),
                          [now - job.queued_at for job in batch if job.record])
        try:
            out = self.predict([text for job in batch for text in job.texts])
        except BaseException as exc:  # noqa: BLE001 - every waiting request gets the error
            for job in batch:
                job.future.set_exception(exc)
            return
        start = 0
        for job in batch:
            job.future.set_result(out[start:start + len(job.texts)])
            start += len(job.texts)
