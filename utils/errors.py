"""The one exception type for bad user input and failed work: entry scripts print it as one line."""
import numbers
import re


class UserError(Exception):
    """A problem the user can fix (a path, a flag, a file), or work that failed in another process; printed
    without a traceback."""


def in_one_line(error):
    """An exception as one line: its message's last line (where an exception a DataLoader re-raises from a
    worker ends with the original's 'module.Type: message'), after 'Type: ' unless it is a UserError."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last, name = (lines[-1] if lines else ""), type(error).__name__
    own = re.match(rf"(?:[\w.]+\.)?{re.escape(name)}: (.*)", last)
    if own:
        last = own.group(1)
    return (last if isinstance(error, UserError) else f"{name}: {last}".rstrip(": "))[:300]


def check_number(name, value, lo, hi, *, integer=False, meaning=""):
    """A keyword's value (the Python API's counterpart of utils/cli's flag types): a real number (an integer
    with `integer`; never a bool or NaN) from lo to hi -> the value, else a UserError naming `name`."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not lo <= value <= hi:
        raise UserError(f"{name} must be {'an integer' if integer else 'a number'} from {lo:g} to {hi:g}"
                        f"{f' ({meaning})' if meaning else ''}, got {repr(value)[:60]}")
    return value
