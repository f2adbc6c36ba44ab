"""The project's errors: bad user input and failed work, which entry scripts print as one line.

They are the built-in types a Python caller would catch: every one is a ValueError (a value, a flag, a file's
contents the code cannot take), a missing file or folder is also a FileNotFoundError, a value of the wrong type
also a TypeError.
"""
import numbers
import re


class UserError(ValueError):
    """A problem the user can fix (a path, a flag, a file, a value), or work that failed in another process;
    printed without a traceback."""


class NotFoundError(UserError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class WrongTypeError(UserError, TypeError):
    """A value of a type the Python API does not take."""


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
    wrong_type = isinstance(value, bool) or not isinstance(value, kind)
    if wrong_type or not lo <= value <= hi:
        raise (WrongTypeError if wrong_type else UserError)(
            f"{name} must be {'an integer' if integer else 'a number'} from {lo:g} to {hi:g}"
            f"{f' ({meaning})' if meaning else ''}, got {repr(value)[:60]}")
    return value
