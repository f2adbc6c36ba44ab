"""The DataLoader's worker processes: how each one starts, and how a failure in one ends the run.

A worker's exception reaches the training process re-raised by PyTorch as a multi-line text ("Caught X in
DataLoader worker process N. Original Traceback ..."), and a worker that dies as "DataLoader worker (pid
...) is killed by signal". `windows(loader)` turns both into one UserError line naming the worker and the
original message: the run stops (the checkpoints already written stay as they are) instead of printing a
worker's traceback, or, under DDP, leaving the other ranks to wait for it.
"""
import re

import torch

from utils.errors import UserError, in_one_line
from utils.signals import leave_to_parent


def worker_init(_):
    # One thread per loader worker: the training process owns the cores.
    torch.set_num_threads(1)
    leave_to_parent()


def windows(loader):
    """The loader's items; a loader worker's failure -> one UserError line."""
    try:
        yield from loader
    except Exception as e:
        caught = re.search(r"in DataLoader worker process (\d+)", str(e))
        if caught:
            raise UserError(f"loader worker {caught.group(1)} failed: {in_one_line(e)}") from None
        if "DataLoader worker" in str(e):  # "... is killed by signal", "... exited unexpectedly"
            raise UserError(f"a loader worker died ({in_one_line(e)}): often out of memory; lower --workers or "
                            "--batch_size, then continue with --resume auto") from None
        raise
