"""Runs an entry script's main(): bad input is one line on stderr and exit code 2, never a traceback."""
import sys

from utils.errors import UserError


def run_cli(main, parser):
    args = parser.parse_args()
    try:
        result = main(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        sys.exit(130)
    return result
