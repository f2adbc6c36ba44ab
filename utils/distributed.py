"""Everything distributed: torchrun environment, process group, rank helpers, reductions.

One process is world size 1 on the same code path: without torchrun's
environment no process group is created and the helpers are no-ops.
    torchrun --nproc_per_node 2 main.py ...   # RANK, WORLD_SIZE, LOCAL_RANK set by torchrun
"""
import datetime
import os

import torch
import torch.distributed as dist

BACKENDS = {"npu": "hccl", "cuda": "nccl", "cpu": "gloo"}


def env_local_rank():
    return int(os.environ.get("LOCAL_RANK", 0))


def env_rank():
    """The global rank torchrun gives this process (0 without torchrun), known before the group exists."""
    return int(os.environ.get("RANK", 0))


def launched_by_torchrun():
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed(device, timeout_s):
    """Join the torchrun process group (a group of one too: `torchrun --nproc_per_node 1` runs the DDP
    code path). A finite timeout makes the survivors of a dead rank fail instead of hanging; torchrun
    then stops the job and reports the rank that died."""
    if not launched_by_torchrun():
        return
    kwargs = {"timeout": datetime.timedelta(seconds=timeout_s)}
    if device.type != "cpu":
        kwargs["device_id"] = device
    dist.init_process_group(BACKENDS[device.type], **kwargs)


def destroy(wait_for_peers=True):
    if is_dist():
        if wait_for_peers:
            # Rank 0 still saves and writes tables after the last collective; a peer that tears its gloo
            # sockets down meanwhile can abort the other's reader thread (SIGABRT). Leave together.
            dist.barrier()
        dist.destroy_process_group()


def is_dist():
    return dist.is_available() and dist.is_initialized()


def get_rank():
    return dist.get_rank() if is_dist() else 0


def get_world_size():
    return dist.get_world_size() if is_dist() else 1


def is_main_process():
    return get_rank() == 0


def barrier():
    if is_dist():
        dist.barrier()


def all_reduce_sum(values, device):
    """Sum a list of numbers over all ranks (returns plain floats)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if is_dist():
        dist.all_reduce(t)
    return t.tolist()


def any_rank(flag, device):
    """True on every rank when it is True on any (so that all ranks stop at the same step)."""
    if not is_dist():
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather_lists(items):
    """Concatenate every rank's list (in rank order) on all ranks."""
    if not is_dist():
        return list(items)
    parts = [None] * get_world_size()
    dist.all_gather_object(parts, list(items))
    return [x for part in parts for x in part]


def sync_buffers(model):
    """Copy rank 0's BatchNorm running statistics to every rank. Each rank updates them from its own
    batches, so without this the ranks would evaluate slightly different models."""
    if is_dist():
        for buf in model.buffers():
            dist.broadcast(buf, src=0)


def save_on_master(save_fn, *args, **kwargs):
    if is_main_process():
        save_fn(*args, **kwargs)
