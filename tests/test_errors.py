"""Every documented error: one line on stderr naming the problem, exit code 2, no traceback,
nothing half-written. The cases live in tests/bad_inputs.py (which also prints them as a table)."""
import collections

import pytest

from bad_input_kit import error_lines, run_case
from bad_inputs import CASES


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}: {c[2]}" for c in CASES])
def test_bad_input_gives_one_line_error(case, tmp_path):
    argv, (code, stdout, stderr), leftovers = run_case(case, str(tmp_path))
    assert code == 2, f"{argv}\n{stdout[-1000:]}{stderr[-1000:]}"
    assert "Traceback" not in stderr, stderr
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    for fragment in case[4]:
        assert fragment in lines[0], lines[0]
    assert not leftovers, f"half-written output left behind: {leftovers}"


def test_every_class_has_at_least_three_cases():
    counts = collections.Counter(c[1] for c in CASES)
    assert min(counts.values()) >= 3, counts
    assert len(CASES) >= 37 + 45, len(CASES)
