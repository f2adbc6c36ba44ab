"""The house rules a newcomer relies on, checked on the code itself: the reader stands apart from the trainer,
no long positional parameter lists, no machine's paths, every doc a docstring cites exists, a licence."""
import ast
import os
import re
import subprocess

import pytest

from conftest import ROOT

MAX_POSITIONAL = 7


def tracked(pattern="*"):
    out = subprocess.run(["git", "-C", ROOT, "ls-files", pattern], capture_output=True, text=True)
    if out.returncode:
        pytest.fail(f"the tests read the checkout's file list with git: {out.stderr.strip()}")
    return out.stdout.split()


def package_sources():
    """The package code: every tracked .py but the tests and the benchmarks."""
    return [p for p in tracked("*.py") if not p.startswith(("tests/", "bench/"))]


def test_no_function_takes_more_than_seven_positional_parameters():
    long_lists = []
    for path in package_sources():
        for node in ast.walk(ast.parse(open(os.path.join(ROOT, path)).read(), path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                positional = [a.arg for a in node.args.posonlyargs + node.args.args if a.arg not in ("self", "cls")]
                if len(positional) > MAX_POSITIONAL:
                    long_lists.append(f"{path}:{node.lineno} {node.name}({', '.join(positional)})")
    assert not long_lists, "keyword-only (*,) or a small config object past 7 values:\n" + "\n".join(long_lists)


def imported_packages(path):
    """Top-level names of every import in a file, those inside functions too."""
    names = set()
    for node in ast.walk(ast.parse(open(os.path.join(ROOT, path)).read(), path)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_reader_never_imports_the_trainer():
    reader = [p for p in package_sources() if p.startswith(("inference/", "decoding/", "models/"))]
    assert len(reader) >= 8
    for path in reader + ["hubconf.py", "predict.py"]:
        assert "training" not in imported_packages(path), path
    for path in (p for p in package_sources() if p.startswith("models/")):  # networks import nothing of ours
        assert not imported_packages(path) & {"utils", "datasets", "decoding", "inference", "training"}, path


def test_no_path_of_one_machine_in_tracked_text_files():
    found = []
    for path in tracked():
        if path.startswith("tests/"):
            continue
        try:
            text = open(os.path.join(ROOT, path), encoding="utf-8").read()
        except UnicodeDecodeError:  # a binary file: the weights, an image
            continue
        found += [f"{path}: {m}" for m in re.findall(r"/(?:root|home/[a-z]\w*)/\S*", text)]
    assert not found, found


def test_every_doc_a_file_cites_exists():
    cited = []
    for path in tracked("*.py") + tracked("*.md") + tracked("*.sh"):
        text = open(os.path.join(ROOT, path), encoding="utf-8").read()
        cited += [(path, doc) for doc in re.findall(r"\bdocs/[\w./-]+?\.md\b", text)]
    assert len(cited) >= 5
    missing = [f"{path} cites {doc}" for path, doc in cited if not os.path.isfile(os.path.join(ROOT, doc))]
    assert not missing, missing


def test_a_licence_and_a_notice_of_what_ships_under_other_terms():
    licence = open(os.path.join(ROOT, "LICENSE")).read()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence and "END OF TERMS" in licence
    notice = open(os.path.join(ROOT, "NOTICE")).read()
    assert "weights/char_lm_en.npz" in notice and "CC BY-SA 4.0" in notice and "LICENSES.tsv" in notice
    assert "licence" in open(os.path.join(ROOT, "README.md")).read().lower()
