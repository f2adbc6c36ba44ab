"""One output folder, one run: <output_dir>/run.lock names the process that writes there.

Two runs pointed at one --output_dir would interleave their checkpoints and
logs, and one's --resume auto would remove the other's half-written save. The
first run writes `<pid> <host> <start time>` to run.lock (created exclusively,
so two runs starting together cannot both win); a second run refuses with one
line naming the holder. A lock whose process is gone (same host, and no live
process with that pid and start time: a SIGKILL, a power cut, a restarted
container) is taken over with a warning. The lock goes at exit, also on an
error or a signal. Under torchrun only global rank 0 writes checkpoints and
holds the lock, so the ranks of one job never refuse each other; a restarted
rank 0 (torchrun --max_restarts) takes over its dead predecessor's lock.

    python main.py --output_dir runs/a ...   # a second one: error: --output_dir runs/a is in use ...
"""
import contextlib
import os
import socket

from utils.errors import UserError
from utils.files import make_dirs, remove_empty_dirs

LOCK_NAME = "run.lock"


def _start_time(pid):
    """When the process started (clock ticks since boot, Linux), or "-" where that cannot be read. With the
    pid it names one process: a restarted container reuses small pids for other programs."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "-"


def _alive(pid, start):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        pass
    return start == "-" or _start_time(pid) in (start, "-")


def _holder(lock):
    """-> (pid, host, start time) written in the lock file, or (None, None, None) if it cannot be read."""
    try:
        with open(lock, encoding="utf-8") as f:
            pid, host, *start = f.read().split()
        return int(pid), host, (start or ["-"])[0]
    except (OSError, ValueError, UnicodeDecodeError):
        return None, None, None


def _me():
    return os.getpid(), socket.gethostname(), _start_time(os.getpid())


def acquire(folder, log):
    lock = os.path.join(folder, LOCK_NAME)
    for _ in range(3):  # a stale lock removed, then created again; a third loss is another run's win
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid, host, start = _holder(lock)
            if pid is None:
                raise UserError(f"--output_dir {folder} is in use by a run that is starting (or its lock {lock} "
                                "is broken: delete it if no run uses this folder)") from None
            if host != socket.gethostname() or _alive(pid, start):
                raise UserError(f"--output_dir {folder} is in use by another run (pid {pid} on {host}, lock "
                                f"{lock}): wait for it to end, stop it, or pick another --output_dir") from None
            log(f"warning: taking over {lock}: the run that held it (pid {pid}) is gone")
            with contextlib.suppress(FileNotFoundError):
                os.remove(lock)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(" ".join(map(str, _me())) + "\n")
        return lock
    raise UserError(f"--output_dir {folder}: another run keeps taking {lock}: pick another --output_dir")


def release(lock):
    """Remove the lock if it is still this process's (never another run's that took it over)."""
    if _holder(lock) == _me():
        with contextlib.suppress(FileNotFoundError):
            os.remove(lock)


@contextlib.contextmanager
def claim_output_dir(folder, log, hold=True):
    """Create folder (and parents) if needed and lock it for this run; on the way out release the lock
    and remove the folders created here if the run wrote nothing in them. hold=False: do nothing."""
    if not hold:
        yield
        return
    created = make_dirs(folder, "--output_dir")
    try:
        lock = acquire(folder, log)
        try:
            yield
        finally:
            release(lock)
    finally:
        remove_empty_dirs(created)
