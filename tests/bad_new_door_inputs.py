"""The bad inputs of the newest doors: training sources (--real_dir, --batch_ratio, --label_rule, $CRNN_AUGMENT),
the service (serve.py), the reader's device and precision, the model file's reading settings: cases in
tests/bad_inputs.py's format, which takes them into its CASES."""
import os

from bad_input_kit import checkpoint, data_dir, good_lmdb, main_py, write

SOURCES, SERVICE = "training sources", "the service and the model file"


def real_lmdb(t, n=4):
    return good_lmdb(os.path.join(t, "real"), n)


def serve(*args):
    """serve.py on a port nothing holds here: each case fails before anything listens."""
    return ["serve.py", "--port", "65011", *args]


SOURCE_CASES = [
    ("main.py", SOURCES, "--real_dir without --batch_ratio",
     lambda t: (main_py("--data_path", data_dir(t), "--real_dir", real_lmdb(t)), [f"{t}/out"]),
     ["--real_dir: give --batch_ratio with 2 shares", "--batch_ratio 0.7 0.3"]),
    ("main.py", SOURCES, "--batch_ratio with a share per source too few",
     lambda t: (main_py("--data_path", data_dir(t), "--real_dir", real_lmdb(t), "--batch_ratio", "1"), [f"{t}/out"]),
     ["--batch_ratio has 1 shares for 2 training sources"]),
    ("main.py", SOURCES, "--batch_ratio 0", lambda t: (main_py("--batch_ratio", "0"), []), ["--batch_ratio", "(0, 1000]"]),
    ("main.py", SOURCES, "--real_dir that is a folder but no LMDB",
     lambda t: (main_py("--data_path", data_dir(t), "--real_dir", os.path.dirname(write(f"{t}/crops/a.png", b"x")),
                        "--batch_ratio", "3", "1"), [f"{t}/out"]), ["not an LMDB folder (no data.mdb)", "crops"]),
    ("main.py", SOURCES, "--real_dir that does not exist",
     lambda t: (main_py("--real_dir", f"{t}/nowhere", "--batch_ratio", "3", "1"), []), ["--real_dir", "does not exist"]),
    ("main.py", SOURCES, "a share that gives a source less than one image a batch",
     lambda t: (main_py("--data_path", data_dir(t), "--real_dir", real_lmdb(t), "--batch_ratio", "99", "1",
                        "--batch_size", "4"), [f"{t}/out"]), ["--batch_ratio gives real 0.010 of a batch of 4"]),
    ("main.py", SOURCES, "--label_rule that is not a rule", lambda t: (main_py("--label_rule", "lower"), []),
     ["--label_rule", "'strip'", "'skip'"]),
]

SERVICE_CASES = [
    ("serve.py", SERVICE, "--port 0", lambda t: (["serve.py", "--port", "0"], []), ["--port", "1..65535"]),
    ("serve.py", SERVICE, "--max_upload_mb 0", lambda t: (serve("--max_upload_mb", "0"), []), ["--max_upload_mb"]),
    ("serve.py", SERVICE, "--max_images 0", lambda t: (serve("--max_images", "0"), []), ["--max_images", "1..4096"]),
    ("serve.py", SERVICE, "--host that is no address of this machine",
     lambda t: (["serve.py", "--host", "203.0.113.7", "--port", "8000"], []),
     ["cannot listen on 203.0.113.7:8000", "--host"]),
    ("serve.py", SERVICE, "--model that is not a model",
     lambda t: (serve("--model", write(f"{t}/m.pth", b"not torch")), []),
     ["cannot read checkpoint", "m.pth"]),
    ("predict.py", SERVICE, "--device gpu", lambda t: (["predict.py", "--device", "gpu", "weights/sample_welcome.png"],
                                                       []), ["device 'gpu' is not a device name"]),
    ("predict.py", SERVICE, "--precision fp16 on a CPU",
     lambda t: (["predict.py", "--device", "cpu", "--precision", "fp16", "weights/sample_welcome.png"], []),
     ["precision 'fp16' needs a GPU or an NPU"]),
    ("predict.py", SERVICE, "a model file with an unknown reading setting",
     lambda t: (["predict.py", "--model", checkpoint(f"{t}/r.pth", reading={"bonus": 1.0}),
                 "weights/sample_welcome.png"], []), ["unknown reading setting 'bonus'", "r.pth"]),
    ("predict.py", SERVICE, "a model file whose edge_pad is out of range",
     lambda t: (["predict.py", "--model", checkpoint(f"{t}/r.pth", reading={"edge_pad": 7}),
                 "weights/sample_welcome.png"], []), ["reading setting edge_pad must be a number from 0 to 1"]),
    ("tools/export_weights.py", SERVICE, "--reading with a setting that does not exist",
     lambda t: (["-m", "tools.export_weights", checkpoint(f"{t}/c.pth"), f"{t}/w.pth", "--reading", "pad=1"],
                [f"{t}/w.pth"]), ["--reading", "NAME=VALUE", "edge_pad"]),
]
