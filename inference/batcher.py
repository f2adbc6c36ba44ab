"""Requests that arrive together are read as one batch: the service's micro-batcher.

Each request puts its images on one queue and awaits them. One worker takes the first waiting image, then more
until `max_batch` images or `wait_s` seconds have passed, and reads them together in a thread of its own, off
the event loop (the reader batches them by width: inference/read.py). While the model reads one batch the next
one gathers, so under many clients the batches grow and the service approaches the reader's own batched
throughput; a lone request waits at most `wait_s` more than its read.

An image the reader cannot read fails alone: if a batch raises, its images are read one by one and the one that
raises gets its error, the others their text. `close()` answers every image already queued before it returns.
"""
import asyncio
import concurrent.futures
import time

STOP = object()  # queued by close(): the worker answers what is before it, then ends


class Batcher:
    def __init__(self, read_many, *, max_batch, wait_s, log=None):
        self.read_many, self.max_batch, self.wait_s, self.log = read_many, max_batch, wait_s, log
        self.queue = asyncio.Queue()
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="reader")
        self.worker = asyncio.get_running_loop().create_task(self._run())
        self.batches = self.images = 0  # read so far (for /health)

    async def read(self, images):
        """PIL images -> a Reading or an Exception each, in order."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in images]
        for image, future in zip(images, futures):
            self.queue.put_nowait((image, future))
        return [await f for f in futures]

    async def _run(self):
        stop = False
        while not stop:
            item = await self.queue.get()
            if item is STOP:
                return
            items, deadline = [item], time.monotonic() + self.wait_s
            while len(items) < self.max_batch:
                try:
                    item = self.queue.get_nowait() if self.queue.qsize() else \
                        await asyncio.wait_for(self.queue.get(), max(0.0, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                if item is STOP:
                    stop = True
                    break
                items.append(item)
            results = await asyncio.get_running_loop().run_in_executor(self.pool, self._read, [i for i, _ in items])
            self.batches, self.images = self.batches + 1, self.images + len(items)
            for (_, future), result in zip(items, results):
                if not future.done():  # a client that went away cancelled its future
                    future.set_result(result)

    def _read(self, images):
        try:
            return self.read_many(images)
        except Exception:  # which image? read them one by one: only that one fails
            results = []
            for image in images:
                try:
                    results.append(self.read_many([image])[0])
                except Exception as e:
                    results.append(e)
            return results

    async def close(self):
        """Answer every image queued so far, then stop the worker."""
        self.queue.put_nowait(STOP)
        await self.worker
        self.pool.shutdown(wait=True)
