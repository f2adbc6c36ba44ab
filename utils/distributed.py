"""Everything distributed: torchrun environment, process group, rank helpers, reductions.

One process is world size 1 on the same code path: without torchrun's
environment no process group is created and the helpers are no-ops.
    torchrun --nproc_per_node 2 main.py ...   # RANK, WORLD_SIZE, LOCAL_RANK set by torchrun
"""
import contextlib
import datetime
import os
import weakref

import torch
import torch.distributed as dist

from utils.signals import Interrupted

BACKENDS = {"npu": "hccl", "cuda": "nccl", "cpu": "gloo"}
_host_group = None  # gloo group for host-side flags when the default group runs on a device
_wrapped = []  # weak references to this process's DDP wrappers (_release_reducers)


def env_local_rank():
    return int(os.environ.get("LOCAL_RANK", 0))


def env_rank():
    """The global rank torchrun gives this process (0 without torchrun), known before the group exists."""
    return int(os.environ.get("RANK", 0))


def restart_count():
    """How often torchrun (--max_restarts) has restarted this worker group: 0 on the first attempt."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0))


def launched_by_torchrun():
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed(device, timeout_s):
    """Join the torchrun process group (a group of one too: `torchrun --nproc_per_node 1` runs the DDP
    code path). A finite timeout makes the survivors of a dead rank fail instead of hanging; torchrun
    then stops the job and reports the rank that died (or, with --max_restarts, starts it again)."""
    if not launched_by_torchrun():
        return
    kwargs = {"timeout": datetime.timedelta(seconds=timeout_s)}
    if device.type != "cpu":
        kwargs["device_id"] = device
    if restart_count() and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        # torchrun's static rendezvous (--master_addr/--master_port) keeps its store across restarts: a key
        # prefix per attempt, or the new ranks could read the addresses the dead ones left there.
        store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                              timeout=kwargs["timeout"])
        kwargs.update(store=dist.PrefixStore(f"restart_{restart_count()}", store), rank=env_rank(),
                      world_size=int(os.environ["WORLD_SIZE"]))
    dist.init_process_group(BACKENDS[device.type], **kwargs)
    global _host_group
    _host_group = dist.new_group(backend="gloo", timeout=kwargs["timeout"]) if device.type != "cpu" else None


def destroy(wait_for_peers=True):
    if is_dist():
        if wait_for_peers:
            # Rank 0 still saves and writes tables after the last collective; a peer that tears its gloo
            # sockets down meanwhile can abort the other's reader thread (SIGABRT). Leave together.
            dist.barrier()
        _release_reducers()
        global _host_group
        dist.destroy_process_group()
        _host_group = None


def _release_reducers():
    """Drop each DDP wrapper's C++ reducer (and the logger that holds it) while the process group still lives.
    Freed after the group is destroyed, the reducer drops the group's last reference inside a destructor that
    joins gloo's worker threads while holding the GIL; a worker that is still freeing a finished collective's
    tensors needs the GIL: the process hangs at its very end (seen: one rank of a resumed 2-rank CPU run, after
    its last step, forever). Dropped here, the reducer only lowers the group's count."""
    for ref in _wrapped:
        ddp = ref()
        for name in ("logger", "reducer"):
            if ddp is not None and name in vars(ddp):
                delattr(ddp, name)
    _wrapped.clear()


@contextlib.contextmanager
def process_group(device, timeout_s):
    """init_distributed() on entry; on exit every rank leaves together, except after a failure, where a peer
    may be dead and a barrier would wait for it until the timeout."""
    init_distributed(device, timeout_s)
    try:
        yield
    except Interrupted:  # every rank stopped after the same step (utils/signals.py): leave together
        destroy()
        raise
    except BaseException:
        destroy(wait_for_peers=False)
        raise
    destroy()


def is_dist():
    return dist.is_available() and dist.is_initialized()


def get_rank():
    return dist.get_rank() if is_dist() else 0


def get_world_size():
    return dist.get_world_size() if is_dist() else 1


def is_main_process():
    return get_rank() == 0


def wrap_model(model, device):
    """DistributedDataParallel around `model` under torchrun (a group of one too), else the model itself."""
    if not is_dist():
        return model
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=None if device.type == "cpu" else [device])
    _wrapped.append(weakref.ref(ddp))
    return ddp


def unwrap(model):
    """The bare network under DistributedDataParallel / torch.compile wrappers."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def barrier():
    if is_dist():
        dist.barrier()


def all_reduce_sum(values, device):
    """Sum a list of numbers over all ranks (returns plain floats)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if is_dist():
        dist.all_reduce(t)
    return t.tolist()


def max_over_ranks(values):
    """The element-wise maximum of a list of numbers over all ranks, on every rank (so that all ranks
    take the same decision, e.g. to stop after this step). One process: the values as they are.
    A CPU tensor on a gloo group: a per-step call never waits for the device's queued work."""
    if not is_dist():
        return list(values)
    t = torch.tensor([float(v) for v in values])
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=_host_group)
    return t.tolist()


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
