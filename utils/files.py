"""Reading user text files, checking output locations and writing files atomically, with one clear error each.

Outputs are checked (and folders created) before any expensive work starts, so
that a wrong path fails in a second, not after an hour of training or export.
"""
import errno
import os
import re
import tempfile

from utils.errors import NotFoundError, UserError


def read_text(path, what="file"):
    """The whole text of a UTF-8 file (a BOM is dropped)."""
    if os.path.isdir(path):
        raise UserError(f"{what} {path} is a folder, not a text file")
    if not os.path.isfile(path):
        raise NotFoundError(f"{what} not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not UTF-8 text (byte {e.start}): save the {what} as UTF-8") from None


def _write_problem(folder):
    """Why no file can be created in an existing folder (None: one can)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".write_test", dir=folder)
        os.close(fd)
        os.remove(probe)
        return None
    except OSError as e:
        reasons = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                   errno.EROFS: "a read-only filesystem", errno.ENOSPC: "the disk is full",
                   errno.ENOENT: "its filesystem takes no new files, e.g. /proc or /sys"}
        return reasons.get(e.errno, e.strerror)


def _probe_writable(folder, what):
    problem = _write_problem(folder)
    if problem:
        raise UserError(f"{what} {folder} is not writable ({problem}): pick another location")


def prepare_output_dir(path, what="--output_dir"):
    """Create the folder if needed and check that files can be written in it."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{what} {path} is a file, not a folder: pick a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {what} {path}: {e.strerror}") from None
    _probe_writable(path, what)
    return path


def check_output_file(path, what="output"):
    """A file that can be (re)written: not a folder, in an existing, writable folder."""
    if os.path.isdir(path):
        raise UserError(f"{what} {path} is a folder: give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise NotFoundError(f"folder of {what} {path} does not exist: create {folder} first")
    _probe_writable(folder, f"folder of {what}")
    return path


def check_creatable_dir(path, what):
    """A folder that exists, or can be created with its parents: not a file, and the nearest existing
    ancestor is a writable folder. Nothing is created here."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{what} {path} is a file, not a folder: pick a folder")
    ancestor = os.path.abspath(path)
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UserError(f"cannot create {what} {path}: {ancestor} is a file")
    problem = _write_problem(ancestor)
    if problem:
        where = "it" if ancestor == os.path.abspath(path) else f"its nearest existing folder {ancestor}"
        raise UserError(f"{what} {path} cannot be written: {where} is not writable ({problem}); pick another "
                        "location")


def make_dirs(path, what):
    """Create path and its missing parents -> the folders this call created, outermost first (a folder
    another process creates at the same moment is not counted: it is not ours to remove)."""
    missing, folder = [], os.path.abspath(path)
    while not os.path.isdir(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    created = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
            created.append(folder)
        except FileExistsError:
            pass
        except OSError as e:
            remove_empty_dirs(created)
            raise UserError(f"cannot create {what} {path}: {e.strerror}") from None
    return created


def remove_empty_dirs(created):
    """Undo make_dirs where nothing was written: innermost first, a folder that holds files stays."""
    for folder in reversed(created):
        try:
            os.rmdir(folder)
        except FileNotFoundError:  # removed already, with its contents
            continue
        except OSError:
            return


def write_atomically(path, write, *, what="file", advice="", before_replace=None):
    """`write(f)` into a temp file beside `path`, flushed and fsynced, then renamed over it (and the folder
    fsynced): a crash never leaves a torn file, and a failed write (disk full) leaves the previous file as it was
    (a UserError naming `what` and `path`, then `advice`). `before_replace(path)` runs just before the rename."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace(path)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        cause = _os_error(e)
        if cause is not None:
            hint = "the disk is full" if cause.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "the write failed"
            raise UserError(f"cannot write {what} {path}: {cause.strerror or cause} ({hint}; the previous {what} is "
                            f"intact{advice})") from None
        raise
    dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _os_error(e):
    """The OSError behind e, if any: torch.save reports a failed write as a RuntimeError raised while it handles
    the OSError."""
    while e is not None and not isinstance(e, OSError):
        e = e.__cause__ or e.__context__
    return e


def natural_key(name):
    """Sort key: "test_10" after "test_9" (the order ais_bench reads input files in)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
