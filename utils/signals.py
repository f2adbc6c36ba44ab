"""SIGTERM and SIGINT: a training run finishes its step, saves and ends with exit code 128 + signal.

Slurm, Kubernetes and spot instances send SIGTERM some seconds before they take
a machine back; torchrun passes it on to every worker and kills them 30 s
later; Ctrl-C sends SIGINT. While the training loop runs (`deferred()`), a
signal only records itself: the loop finishes the step, every rank agrees to
stop after that same step (training/trainer.py), checkpoint.pth is written and
the run ends with exit code 143 (SIGTERM) or 130 (SIGINT), the shell's
convention. A repeat of a signal changes nothing (a launcher that passes the
signal on and a scheduler that signals every process deliver it twice).
Outside the loop (start-up, data loading, the synthetic build) a signal stops
the run at once, through the normal error path, so that the output folder's
lock is released and a folder the run created but never wrote to is removed.

    python main.py --output_dir runs/a ...      # kill -TERM <pid>: saves, exit 143
    python main.py --output_dir runs/a ... --resume auto   # continues from the step reached
"""
import contextlib
import os
import shlex
import signal
import sys
import threading

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(Exception):
    """The run ended on a signal; run_cli prints the message (if any) and exits with exit_code."""

    def __init__(self, signum, message=""):
        super().__init__(message)
        self.signum, self.exit_code = signum, 128 + signum


def signal_name(signum):
    return signal.Signals(signum).name


class _Handler:
    """Records or raises; never prints (a print interrupted by a signal cannot be re-entered)."""

    def __init__(self):
        self.pid, self.deferring, self.received, self.raised = os.getpid(), False, None, False

    def __call__(self, signum, frame):
        # Forked loader workers inherit this handler; the main process ends them when it stops.
        if os.getpid() != self.pid or self.raised or self.received is not None:
            return
        if self.deferring:
            self.received = signum
            return
        self.raised = True
        raise Interrupted(signum, f"stopped by {signal_name(signum)} outside the training steps: nothing new to save")


_handler = None


@contextlib.contextmanager
def stop_on_signals():
    """Handle SIGTERM/SIGINT for the duration (main thread only; a no-op elsewhere)."""
    global _handler
    handler = _Handler()
    try:
        previous = {s: signal.signal(s, handler) for s in SIGNALS}
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    _handler = handler
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _handler = None


@contextlib.contextmanager
def deferred():
    """Inside: a signal is recorded (see received()) instead of stopping the run."""
    if _handler is None:
        yield
        return
    _handler.deferring = True
    try:
        yield
    finally:
        _handler.deferring = False


def received():
    """The signal number recorded inside deferred(), or 0."""
    return (_handler.received or 0) if _handler is not None else 0


def leave_to_parent():
    """In a DataLoader worker: a SIGTERM that its training process did not send is left to that process.

    Slurm's scancel, `kill -- -PGID` and `pkill -f` signal every process of the job, the loader workers
    too. PyTorch's worker handler exits on its parent's SIGTERM and dies of anyone else's; the training
    process then fails in the middle of its step ("DataLoader worker ... killed by signal") instead of
    saving. Here one thread takes SIGTERM (blocked in the others, which inherit the mask) and exits on the
    parent's only, as PyTorch does; a worker whose parent dies ends through PyTorch's watchdog. Ctrl-C's
    SIGINT, which reaches the whole foreground group and never comes from the parent, is ignored (a forked
    worker would swallow it anyway with the handler it inherits; a spawned one would stop serving batches)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not hasattr(signal, "sigwaitinfo"):  # macOS, Windows: PyTorch's own SIGTERM handling
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait():
        while signal.sigwaitinfo({signal.SIGTERM}).si_pid != os.getppid():
            pass
        os._exit(0)

    threading.Thread(target=wait, name="sigterm", daemon=True).start()


def resume_command(argv=None):
    """The command that continues this run: this one with --resume auto (torchrun's own flags elided)."""
    argv = list(sys.argv if argv is None else argv)
    script, rest, kept = os.path.basename(argv[0]), argv[1:], []
    while rest:
        arg = rest.pop(0)
        if arg == "--resume" or arg == "--finetune":
            rest = rest[1:]  # and its value
        elif not arg.startswith(("--resume=", "--finetune=")):
            kept.append(arg)
    launcher = "torchrun ... " if "LOCAL_RANK" in os.environ else "python "
    return launcher + shlex.join([script, *kept, "--resume", "auto"])
