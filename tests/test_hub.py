"""The torch.hub entry as a guest in a user's process: from another folder, beside the user's own modules named as
the checkout's packages (imported before and after loading), with a model path given first or as weights=."""
import subprocess
import sys

from conftest import ROOT

PROBE = """
import sys, torch
import utils                                                   # the user's, imported before loading
reader = torch.hub.load(ROOT, "crnn", source="local")
print(reader.read(ROOT + "/weights/sample_welcome.png").text)
import models                                                  # and after
print(utils.WHO, models.WHO, sys.modules["utils"].WHO)
print(sorted(n for n in sys.modules if n.split(".")[0] in ("datasets", "decoding", "inference")))
first = torch.hub.load(ROOT, "crnn", ROOT + "/weights/crnn.pth", source="local", decoder="greedy")
named = torch.hub.load(ROOT, "crnn", source="local", weights=ROOT + "/weights/crnn.pth", edge_pad=0)
print(first.read(ROOT + "/weights/sample_exit24.png").text, named.read(ROOT + "/weights/sample_exit24.png").text)
print(reader.read(ROOT + "/weights/sample_exit24.png").text)   # the reader works after its modules left
"""


def test_the_hub_entry_leaves_the_users_modules_as_it_found_them(tmp_path):
    (tmp_path / "utils.py").write_text("WHO = 'mine'\n")
    (tmp_path / "models.py").write_text("WHO = 'mine'\n")
    run = subprocess.run([sys.executable, "-c", f"ROOT = {ROOT!r}\n" + PROBE], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines() == ["welcome", "mine mine mine", "[]", "exit24 exit24", "exit24"], run.stdout


def test_the_hub_entry_reads_beside_hugging_faces_datasets_imported_first(tmp_path):
    """Another `datasets` imported first (Hugging Face's) would hide the checkout's: the entry sets it aside
    while it imports the reader, and puts it back."""
    code = ("import sys, types; fake = types.ModuleType('datasets'); fake.__file__ = '/site/datasets/__init__.py'; "
            "sys.modules['datasets'] = fake; import torch\n"
            f"reader = torch.hub.load({ROOT!r}, 'crnn', source='local')\n"
            f"print(reader.read({ROOT!r} + '/weights/sample_welcome.png').text, sys.modules['datasets'] is fake)")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.split() == ["welcome", "True"], run.stderr[-2000:]
