"""Every documented error: one line on stderr naming the problem, exit code 2, no traceback,
nothing half-written. The cases live in tests/bad_inputs.py (which also prints them as a table)."""
import pytest

from bad_inputs import CASES, error_lines, run_case


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_bad_input_gives_one_line_error(case, tmp_path):
    argv, result, leftovers = run_case(case, str(tmp_path))
    assert result.returncode == 2, f"{argv}\n{result.stdout[-1000:]}{result.stderr[-1000:]}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    for fragment in case[3]:
        assert fragment in lines[0], lines[0]
    assert not leftovers, f"half-written output left behind: {leftovers}"
