"""examples/train.py runs end to end."""

import re
import subprocess
import sys

from conftest import ROOT


def test_train_example(corpus, tmp_path):
    p = subprocess.run(
        [sys.executable, ROOT / "examples" / "train.py", corpus, "--steps", "4", "--batch", "4", "--seq-len", "32",
         "--backend", "cpu", "--held-out-every", "10", "--save", tmp_path / "ck"],
        capture_output=True, text=True, timeout=300,
    )
    assert p.returncode == 0, p.stderr
    m = re.search(r"held-out: ([0-9.]+) bits/byte.* of (\d+) sequences", p.stdout)
    assert m and 0 < float(m.group(1)) < 10 and int(m.group(2)) > 5, p.stdout
    assert "sample: The " in p.stdout
    assert "4/4" in p.stderr  # the progress bar finished
    assert (tmp_path / "ck" / "manifest.json").exists()
