"""2-process gloo DDP through torchrun, against a 1-process run that accumulates the same micro-batches;
SIGTERM under DDP, elastic restarts (--max_restarts), ranks that would start at different steps."""
import contextlib
import io
import itertools
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

import main
from conftest import ROOT, TINY_MODEL
from datasets.loaders import LoaderConfig, train_loader
from datasets.transforms import Width
from models import CRNN
from utils import distributed
from training.checkpoint import load_training_checkpoint
from utils.errors import UserError
from utils.label_converter import LabelConverter

STEPS, BATCH = 3, 8
COMMON = ["--batch_size", str(BATCH), "--opt_level", "O0", "--optimizer", "sgd", "--lr", "0.05", "--lr_schedule", "constant", "--warmup_steps", "0",
          "--print_freq", "1", "--seed", "5", *TINY_MODEL]


def free_port():
    """A port no one listens on now: each job gets its own, so that one left behind cannot block the next."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def launch(cmd):
    """A job in a session of its own (finish() can end all of its processes)."""
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"), start_new_session=True)


def torchrun(args, nproc=2):
    return launch([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port",
                   free_port(), "main.py", *args])


def finish(proc, timeout):
    """-> the job's output once it ends; a job still running after `timeout` s is killed, every process of it,
    and the test fails with the end of its log."""
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out = proc.communicate()[0]
        raise AssertionError(f"still running after {timeout} s, killed; its log ends:\n{out[-3000:]}") from None


def reference_params(data, world=2):
    """1 process: each step sums the gradients of the per-rank micro-batches / world, as DDP averages them.
    SGD, not Adam: Adam divides by sqrt(v), which blows float-rounding differences of near-zero
    gradients up to the size of a whole update. One thread, as each rank has (OMP_NUM_THREADS=1): oneDNN
    splits a convolution's weight gradient over the threads and sums the parts in another order, which on an
    AVX2-only CPU moved 14 of the 40 parameters by up to 1.2e-4 after 3 steps (0 with one thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _reference_params(data, world)
    finally:
        torch.set_num_threads(threads)


def _reference_params(data, world):
    conv = LabelConverter()
    batches = []
    for rank in range(world):  # each rank's batches: its shard of the shuffle, cut into width batches
        cfg = LoaderConfig(conv, Width(), max_label_len=65, batch_size=BATCH, world_size=world, rank=rank, seed=5)
        loader = train_loader(f"{data}/MJ_LMDB", cfg, lambda *a: None)
        loader.sampler.set_epoch(0)
        batches.append(list(itertools.islice(loader, STEPS)))
    torch.manual_seed(5)
    model = CRNN(num_classes=37, hidden_size=32, cnn_width=8)  # DDP on CPU runs without channels_last
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    crit = torch.nn.CTCLoss(zero_infinity=True)
    for s in range(STEPS):
        opt.zero_grad()
        for rank in range(world):
            images, labels, _, _ = batches[rank][s]
            logits = model(images).float().log_softmax(2)
            targets, lengths = conv.encode(labels)
            loss = crit(logits, targets, torch.full((len(labels),), logits.shape[0], dtype=torch.int32), lengths)
            (loss / world).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    return model.state_dict()


@pytest.fixture(scope="module")
def single_node(tiny_data, tmp_path_factory):
    """2 processes on one node, 3 steps -> (output dir, log)."""
    out_dir = tmp_path_factory.mktemp("ddp")
    proc = torchrun(["--data_path", tiny_data, "--val_dir", "OTHER_lmdb", "--epochs", "1", "--stop_step", str(STEPS),
                     "--output_dir", str(out_dir), *COMMON])
    out = finish(proc, 300)
    assert proc.returncode == 0, out[-3000:]
    return out_dir, out


def test_ddp_matches_accumulated_single_process(tiny_data, single_node):
    tmp_path, out = single_node
    assert out.count("Training 1 epochs") == 1  # only rank 0 logs
    assert "world size 2" in out and "FPS: " in out
    files = sorted(os.listdir(tmp_path))
    events = [f for f in files if f.startswith("events.out.tfevents.")]            # rank 0's TensorBoard file
    assert len(events) == 1 and [f for f in files if f not in events] == [
        "checkpoint.pth", "eval_results.csv", "eval_results.md", "metrics.csv", "metrics.png", "model_best.pth",
        "run.json"]
    ckpt = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    assert ckpt["global_step"] == STEPS
    ref = reference_params(tiny_data)
    names = [name for name, _ in CRNN(num_classes=37, hidden_size=32, cnn_width=8).named_parameters()]
    diffs = {name: (ckpt["model"][name] - ref[name]).abs().max().item() for name in names}
    worst = max(diffs, key=diffs.get)
    # The same float operations in the same order as the ranks' (one thread each; gloo sums the two gradients
    # and divides by 2 as the reference does): equal to a few float32 ulps of the weights (~1e-7), measured 0.
    assert diffs[worst] <= 1e-6, f"{sum(d > 1e-6 for d in diffs.values())} of {len(names)} parameters differ; " \
                                 f"the most: {worst}, by {diffs[worst]:.3e}"
    # Sharded evaluation counts every one of the 47 readable samples once, as one process does.
    line = [l for l in out.splitlines() if l.startswith("| OTHER_lmdb")][-1]
    single = subprocess.run([sys.executable, "main.py", "--data_path", tiny_data, "--val_dir", "OTHER_lmdb",
                             "--eval_only", "--resume", str(tmp_path / "checkpoint.pth"), "--decoder", "greedy",
                             *TINY_MODEL],
                            cwd=ROOT, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr
    assert line.split("|")[2].strip() == "47" and line in single.stdout.splitlines()


def test_killed_rank_stops_the_job_and_resume_continues(tiny_data, tmp_path):
    args = ["--data_path", tiny_data, "--epochs", "50", "--output_dir", str(tmp_path), "--save_every_steps", "5",
            "--dist_timeout", "30", *COMMON]
    proc = torchrun(args)
    deadline = time.time() + 120
    while not (tmp_path / "checkpoint.pth").exists() and time.time() < deadline:
        time.sleep(0.5)
    assert (tmp_path / "checkpoint.pth").exists()
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    ranks = {open(f"/proc/{c}/environ", "rb").read().split(b"LOCAL_RANK=")[1].split(b"\0")[0]: int(c)
             for c in children}
    os.kill(ranks[b"1"], signal.SIGKILL)
    start = time.time()
    out = finish(proc, 150)
    assert proc.returncode != 0 and time.time() - start < 120
    assert "local_rank: 1" in out and "SIGKILL" in out, out[-2000:]  # torchrun names the dead rank
    ckpt = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    done = ckpt["global_step"]
    resumed = torchrun(args[:-len(COMMON)] + ["--resume", str(tmp_path / "checkpoint.pth"), "--stop_step",
                                              str(done + 4), *COMMON])
    out = finish(resumed, 300)
    assert resumed.returncode == 0, out[-3000:]
    assert f"(global step {done})" in out
    assert load_training_checkpoint(str(tmp_path / "checkpoint.pth"))["global_step"] == done + 4


def test_two_nodes_on_loopback_match_one_node(tiny_data, single_node, tmp_path):
    """The README's two-node command, one CPU process per node, on 127.0.0.1: the same weights as 2 processes
    on one node."""
    port = free_port()
    nodes = []
    for rank in (0, 1):
        cmd = ["bash", "test/train_full_8p.sh", f"--data_path={tiny_data}", "--nproc", "1", "--nnodes", "2",
               "--node_rank", str(rank), "--master_addr", "127.0.0.1", "--master_port", port, "--npu", str(95 + rank),
               "--val_dir", "OTHER_lmdb", "--epochs", "1", "--stop_step", str(STEPS), "--output_dir",
               str(tmp_path / f"node{rank}"), *COMMON]
        nodes.append(launch(cmd))
    outs = [finish(p, 300) for p in nodes]
    for p, out in zip(nodes, outs):
        assert p.returncode == 0, out[-3000:]
    assert "world size 2" in outs[0] and "RankSize = 2" in open(
        os.path.join(ROOT, "test", "output", "95", "CRNN_ID0103_for_PyTorch_bs8_2p_acc.log")).read()
    assert not (tmp_path / "node1").exists() or not os.listdir(tmp_path / "node1")   # only global rank 0 saves
    two_nodes = load_training_checkpoint(str(tmp_path / "node0" / "checkpoint.pth"))["model"]
    one_node = load_training_checkpoint(str(single_node[0] / "checkpoint.pth"))["model"]
    assert two_nodes.keys() == one_node.keys()
    for k in one_node:
        torch.testing.assert_close(two_nodes[k], one_node[k], rtol=0, atol=1e-6, msg=k)


def worker_pid(ancestor, local_rank):
    """The pid of the live torchrun worker with this LOCAL_RANK among the descendants of `ancestor`."""
    parents, envs = {}, {}
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            envs[pid] = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if stat[0] != "Z":
            parents[pid] = int(stat[1])
    for pid in parents:
        up = pid
        while up in parents and up != ancestor:
            up = parents[up]
        if up == ancestor and f"LOCAL_RANK={local_rank}".encode() in envs[pid]:
            return pid
    raise AssertionError(f"no worker with LOCAL_RANK={local_rank}")


def test_sigterm_stops_every_rank_and_elastic_restarts_finish_the_run(tiny_data, tmp_path):
    """The 8p launcher with --max_restarts 2, 2 CPU processes: SIGTERM to rank 1 alone stops both ranks after
    the same step with rank 0's checkpoint; torchrun restarts them and they resume by themselves; a SIGKILL of
    rank 1 later costs a second restart. The job ends with exit 0 and the weights of a run never stopped."""
    steps = 30
    run = ["--data_path", tiny_data, "--val_dir", "OTHER_lmdb", "--epochs", "1", "--stop_step", str(steps),
           "--dist_timeout", "30", *COMMON]
    cmd = ["bash", "test/train_full_8p.sh", "--nproc", "2", "--max_restarts", "2", "--master_port", free_port(),
           "--npu", "97", *run, "--output_dir", str(tmp_path / "stopped")]
    proc = launch(cmd)

    def step(line):
        return int(line.split("][")[1].split("/")[0]) if line.startswith("Epoch: [0][") else -1

    # (what to wait for, what to send rank 1 then)
    lines, plan = [], [(lambda l: step(l) >= 5, signal.SIGTERM), (lambda l: l.startswith("torchrun restart 1 "), None),
                       (lambda l: step(l) >= 0, signal.SIGKILL)]
    for line in proc.stdout:
        lines.append(line)
        if plan and plan[0][0](line):
            if plan[0][1] is not None:
                os.kill(worker_pid(proc.pid, 1), plan[0][1])
            plan.pop(0)
    out = "".join(lines) + finish(proc, 300)
    assert proc.returncode == 0 and not plan, out[-4000:]
    stopped = [l for l in lines if l.startswith("Stopped by SIGTERM after global step ")]
    assert len(stopped) == 1, out[-4000:]   # logged by rank 0: the ranks agreed to stop after one step
    assert "torchrun restart 1 of at most 2: continuing from the last checkpoint" in out
    assert "torchrun restart 2 of at most 2: continuing from the last checkpoint" in out
    assert "Worker restarts (--max_restarts) : 2" in out
    ckpt = load_training_checkpoint(str(tmp_path / "stopped" / "checkpoint.pth"))
    assert ckpt["global_step"] == steps
    plain = torchrun(run + ["--output_dir", str(tmp_path / "plain")])
    out = finish(plain, 300)
    assert plain.returncode == 0, out[-3000:]
    ref = load_training_checkpoint(str(tmp_path / "plain" / "checkpoint.pth"))["model"]
    for k, v in ref.items():
        torch.testing.assert_close(ckpt["model"][k], v, rtol=0, atol=1e-6, msg=k)


def test_ranks_that_would_start_at_different_steps_refuse(tiny_data, tmp_path, monkeypatch):
    """--resume auto on two nodes, each with its own --output_dir: one rank finds a checkpoint at step 5, another
    none. The reduction all ranks run before the first step (faked here) shows it: one clear error on each."""
    monkeypatch.setattr(distributed, "max_over_ranks", lambda values: [5.0, 0.0])
    with pytest.raises(UserError, match=r"the ranks start at different steps \(0 to 5\): every rank must load the "
                                        r"same checkpoint; on several nodes put --output_dir on a filesystem"):
        with contextlib.redirect_stdout(io.StringIO()):
            main.main(main.get_args_parser().parse_args(["--data_path", tiny_data, "--output_dir", str(tmp_path / "o"),
                                                         *COMMON]))
    assert not (tmp_path / "o").exists()  # nothing written: the folder it made is gone
