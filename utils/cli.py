"""Command-line plumbing shared by every entry script.

Flags are validated at the boundary, once: each numeric flag's range lives in
its argparse `type=` (built by `int_range` / `float_range`, which also append
the range to the flag's help), paths in `existing_file` / `existing_dir`. Any
bad value is one line, `error: argument --flag: ...`, and exit code 2, before
anything is read, built or written. A cap whose help says "0 = off" takes 0;
every other cap starts at 1.
"""
import argparse
import math
import os
import sys

from utils.errors import UserError
from utils.signals import Interrupted

MAX_COUNT = 10 ** 9  # "huge" is an error, not a run that never ends


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one `error:` line (usage goes with --help), exit code 2. `examples`
    (the entry script's docstring) ends --help as it is written."""

    def __init__(self, *args, examples=None, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", RangeHelpFormatter)
        if examples:
            kwargs.setdefault("epilog", "examples and details:\n" + examples.strip("\n"))
        super().__init__(*args, **kwargs)

    def error(self, message):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr, flush=True)
        sys.exit(2)


class RangeHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends each flag's allowed range (from its type) and its default, 0 included, to the help text; the
    description and the examples keep their own lines."""

    def _get_help_string(self, action):
        text = action.help or ""
        doc = getattr(action.type, "doc", None)
        if doc:
            text += f" (allowed: {doc})"
        shown = action.default is not None and action.default is not False and action.default is not argparse.SUPPRESS
        if shown and action.option_strings and "(default" not in text:
            text += " (default: %(default)s)"
        return text


def _typed(parse, doc, name):
    parse.doc, parse.__name__ = doc, name  # argparse names the type in its messages
    return parse


def int_range(lo, hi=MAX_COUNT, zero=None):
    """An int type accepting lo..hi; `zero` documents what 0 means when lo is 0."""
    doc = f"{lo}..{hi}" + (f"; 0 = {zero}" if zero else "")

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer in {lo}..{hi}, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in {lo}..{hi}" + (f" (0 = {zero})" if zero else "")
                                             + f", got {value}")
        return value
    return _typed(parse, doc, "int")


def _num(x):
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e9 else f"{x:g}"


def float_range(lo, hi, lo_open=False, hi_open=False, zero=None):
    """A finite float type in [lo, hi] (either end open on request)."""
    interval = f"{'(' if lo_open else '['}{_num(lo)}, {_num(hi)}{')' if hi_open else ']'}"
    meaning = f" (0 = {zero})" if zero else ""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number in {interval}{meaning}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number in {interval}{meaning}, got {text!r}")
        if value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
            raise argparse.ArgumentTypeError(f"must be in {interval}{meaning}, got {text}")
        return value
    return _typed(parse, interval + (f"; 0 = {zero}" if zero else ""), "float")


def _non_empty(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give a path")
    return text


def _existing(text, folder):
    _non_empty(text)
    if os.path.exists(text) and os.path.isdir(text) != folder:
        raise argparse.ArgumentTypeError(f"{text} is a {'file' if folder else 'folder'}, not a "
                                         f"{'folder' if folder else 'file'}")
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    return text


def existing_file(text):
    """A file that exists (a folder or a missing path is named as such)."""
    return _existing(text, folder=False)


def existing_dir(text):
    """A folder that exists (a file or a missing path is named as such)."""
    return _existing(text, folder=True)


def path_text(text):
    """Any non-empty path (outputs: checked by utils.files before the work starts)."""
    return _non_empty(text)


def plural(n, word):
    """'1 image', '2 images'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def run_cli(main, parser):
    args = parser.parse_args()
    try:
        result = main(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    except Interrupted as e:  # a training run that saved itself (utils/signals.py); 143 or 130
        if str(e):
            print(str(e), file=sys.stderr, flush=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        sys.exit(130)
    return result
