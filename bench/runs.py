"""Training rows for the benches that compare training choices (synth_ablation.py, real_mix.py): a parser that
passes everything after `--` to main.py, and one row's run, which a second call finishes or skips."""
import glob
import os
import subprocess
import sys

from utils.cli import Parser
from utils.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DONE = "ABLATION_ROW_DONE"


class PassThroughParser(Parser):
    """Everything after `--` goes to main.py untouched (argparse would match it against this script's flags)."""

    def parse_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        cut = args.index("--") if "--" in args else len(args)
        parsed = super().parse_args(args[:cut], namespace)
        parsed.main_args = args[cut + 1:]
        return parsed


def train_row(name, out, flags, finetune=None, env=None, note=""):
    """Train one row: `main.py FLAGS --output_dir OUT`, from `finetune`'s weights, or with `--resume auto` (from
    scratch, or on from the row's last checkpoint: main.py refuses --finetune beside --resume); a row marked
    done is not trained again. -> out"""
    if os.path.isfile(os.path.join(out, DONE)):
        print(f"[{name}] already trained: {out}", flush=True)
        return out
    started = bool(glob.glob(os.path.join(out, "*.pth")))
    start = ["--finetune", finetune] if finetune and not started else ["--resume", "auto"]
    cmd = [sys.executable, os.path.join(ROOT, "main.py"), *flags, *start, "--output_dir", out]
    print(f"[{name}] {note}" + " ".join(cmd[1:]), flush=True)
    rc = subprocess.run(cmd, env=env).returncode
    if rc:
        raise UserError(f"row {name}: main.py exited with {rc} (its output is above; run this script again to "
                        f"continue from {out})")
    with open(os.path.join(out, DONE), "w") as f:
        f.write(note + " ".join(cmd[1:]) + "\n")
    return out
