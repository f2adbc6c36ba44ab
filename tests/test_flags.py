"""Every numeric flag of every entry point, tried with 0, -1, nan and a huge value.

Each value is either rejected by the parser (exit 2, one `error:` line naming
the flag: before any data is read, since parsing comes first) or accepted with
a documented meaning: 0 where the flag's help says what 0 means (ZERO_MEANS) or
where 0 is an ordinary value of its range (ORDINARY_ZERO). A new numeric flag
must be put in one of the tables, so that its 0 is a decision, not an accident.
"""
import contextlib
import importlib
import io
import os
import subprocess

import pytest

from conftest import ROOT

ENTRY_POINTS = ["main", "pth2onnx", "parse_testdata", "postpossess_CRNN_pytorch", "predict",
                "tools.ais_bench_runner", "tools.create_lmdb_dataset", "tools.pack_synth_assets",
                "tools.export_weights", "bench.infer_throughput", "bench.train_throughput", "bench.loader_throughput",
                "bench.accuracy_by_length", "bench.synth_ablation", "bench.orientation", "bench.real_mix", "serve",
                "bench.serve_load"]
VALUES = ["0", "-1", "nan", "1000000000000"]
ZERO_MEANS = {
    ("main", "--val_freq"): "only at the end of each epoch",
    ("main", "--save_every_steps"): "off",
    ("main", "--grad_clip"): "off",
    ("main", "--ema"): "off",
    ("main", "--warmup_steps"): "no warm-up",
    ("main", "--workers"): "load in the training process",
    ("bench.train_throughput", "--workers"): "load in the training process",
    ("bench.loader_throughput", "--workers"): "load in this process",
    ("bench.orientation", "--synthetic"): "none",
    **{(script, "--edge_pad"): "read each crop once" for script in ("predict", "bench.accuracy_by_length",
                                                                    "bench.orientation", "serve")},
}
ORDINARY_ZERO = {("main", "--seed"), ("main", "--npu"), ("main", "--start_step"), ("main", "--weight_decay"),
                 ("tools.ais_bench_runner", "--device"), ("tools.ais_bench_runner", "--output_batchsize_axis"),
                 ("pth2onnx", "--max_drop"), ("bench.orientation", "--bottom_to_top"), ("bench.real_mix", "--seeds"),
                 # decoding: a weight or bonus of 0 leaves that term out of the beam search's score
                 ("serve", "--batch_wait_ms"),  # read each batch as soon as it has one image
                 ("bench.accuracy_by_length", "--lm_weights"), ("bench.orientation", "--length_bonus"),  # 0: plain confidence
                 *((script, flag) for script in ("main", "predict", "postpossess_CRNN_pytorch", "serve")
                   for flag in ("--lm_weight", "--insertion_bonus", "--word_bonus"))}


@pytest.fixture(scope="module")
def required(tmp_path_factory):
    """Valid values for each entry point's positionals and required flags."""
    t = tmp_path_factory.mktemp("flags")
    f = t / "file.pth"
    f.write_bytes(b"x")
    d = t / "dir"
    d.mkdir()
    return {"pth2onnx": [str(f), str(t / "out.onnx")], "parse_testdata": [str(d), str(t / "bins")],
            "postpossess_CRNN_pytorch": [str(d), str(f)], "predict": [str(f)],
            "tools.ais_bench_runner": ["--model", str(f)],
            "tools.create_lmdb_dataset": ["--input_dir", str(d), "--output", str(t / "lmdb")],
            "tools.pack_synth_assets": [str(t / "assets")], "tools.export_weights": [str(f), str(t / "w.pth")],
            "bench.accuracy_by_length": [str(f)], "bench.synth_ablation": [str(f), "--synth_assets", str(d)],
            "bench.orientation": [str(f)], "bench.real_mix": [str(d), "--real_dir", str(d), "--synth_assets", str(d),
                                                              "--finetune", str(f)]}


def numeric_flags():
    for name in ENTRY_POINTS:
        parser = importlib.import_module(name).get_args_parser()
        for action in parser._actions:
            if action.option_strings and action.type is not None and action.type.__name__ in ("int", "float"):
                yield name, action.option_strings[0], action


def parse(name, argv):
    """-> (exit code or None, stderr, parsed namespace or None)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return None, "", importlib.import_module(name).get_args_parser().parse_args(argv)
        except SystemExit as e:
            return e.code, err.getvalue(), None


def test_numeric_flags_have_range_types():
    flags = list(numeric_flags())
    assert len(flags) >= 40, len(flags)
    for name, flag, action in flags:
        assert getattr(action.type, "doc", None), f"{name} {flag}: a bare {action.type.__name__}, not a range type"


@pytest.mark.parametrize("value", VALUES)
def test_every_numeric_flag(value, required):
    accepted_zero = set()
    for name, flag, action in numeric_flags():
        code, err, args = parse(name, [*required.get(name, []), flag, value])
        if code is not None:
            assert code == 2, (name, flag, value, err)
            lines = [line for line in err.splitlines() if line.startswith("error: ")]
            assert len(lines) == 1 and flag in lines[0], (name, flag, value, err)
            continue
        assert value == "0", f"{name} {flag} accepted {value}"
        got = getattr(args, action.dest)
        assert got == 0 or got == [0], (name, flag, got)
        accepted_zero.add((name, flag))
        if (name, flag) in ZERO_MEANS:
            assert f"0 = {ZERO_MEANS[name, flag]}" in action.type.doc, (name, flag, action.type.doc)
        else:
            assert action.type.doc.startswith(("0..", "[0,")), (name, flag, action.type.doc)
    if value == "0":
        assert accepted_zero == set(ZERO_MEANS) | ORDINARY_ZERO


LAUNCHER_FLAGS = ["--epochs", "--batch_size", "--max_step", "--stop_step", "--nproc", "--nnodes", "--node_rank",
                  "--master_port", "--npu", "--max_restarts"]


@pytest.mark.parametrize("flag", LAUNCHER_FLAGS)
def test_launcher_numeric_flags(flag, tmp_path):
    for value in VALUES:
        # A bad --profiling (checked last) makes the run fail after an accepted value, without starting anything.
        r = subprocess.run(["bash", "test/train_full_8p.sh", f"{flag}={value}", "--profiling", "BAD"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60, env=dict(os.environ, CRNN_CACHE_DIR=str(tmp_path)))
        assert r.returncode == 2, (flag, value, r.stdout[-500:], r.stderr)
        lines = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
        assert len(lines) == 1, r.stderr
        if value == "0" and flag in ("--node_rank", "--npu", "--max_restarts"):
            assert "--profiling" in lines[0]  # 0 is the first node / device, or no restarts: accepted
        else:
            assert flag in lines[0] or (flag == "--npu" and "--npu/--device_id" in lines[0]), (flag, value, lines)
    assert not os.listdir(tmp_path)


def test_predict_help_answers_without_loading_torch():
    """`python predict.py --help` prints its flags without importing torch (1-3 s of a start on a CPU)."""
    probe = ("import runpy, sys\nsys.argv = ['predict.py', '--help']\ntry:\n    runpy.run_path('predict.py', "
             "run_name='__main__')\nexcept SystemExit:\n    pass\nprint('imported torch:', 'torch' in sys.modules)")
    r = subprocess.run([os.sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "--precision {auto,fp32,bf16,fp16}" in r.stdout, r.stderr
    assert r.stdout.rstrip().endswith("imported torch: False")
