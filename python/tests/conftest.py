"""Shared fixtures: a small corpus, fresh tiny models on the CPU backend, and the CLI binary."""

import json
import os
import pathlib
import subprocess

import pytest

import neurogen

ROOT = pathlib.Path(__file__).resolve().parents[2]

SUBJECTS = ["the cat", "a dog", "the bird", "my friend", "the child"]
VERBS = ["sees", "likes", "follows", "finds", "helps"]
OBJECTS = ["the ball", "a tree", "the river", "an apple", "the house"]


def sentences(n):
    """n simple sentences, deterministic (no randomness: the tests compare exact values)."""
    return [
        f"{SUBJECTS[i % 5]} {VERBS[(i // 5) % 5]} {OBJECTS[(i // 25) % 5]}." for i in range(n)
    ]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """A .txt corpus: 40 documents of three sentences (about 140 sequences of 32 bytes)."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    s = sentences(120)
    path.write_text("".join(" ".join(s[i : i + 3]) + "\n" for i in range(0, 120, 3)))
    return path


@pytest.fixture
def model():
    return neurogen.Model(preset="tiny", backend="cpu", seed=0)


def batch_of(model, n=4, length=32, offset=0):
    """n sequences of `length` tokens: BOS, then text."""
    text = " ".join(sentences(60))
    ids = model.tokenizer.encode(text)
    body = length - 1
    return [[model.tokenizer.bos] + ids[offset + i * body : offset + (i + 1) * body] for i in range(n)]


@pytest.fixture(scope="session")
def cli():
    """Runs the `neurogen` binary (NEUROGEN_BIN, else target/release/neurogen) and returns its
    stdout; `json=True` parses the last line."""
    binary = pathlib.Path(os.environ.get("NEUROGEN_BIN", ROOT / "target" / "release" / "neurogen"))
    if not binary.exists():
        pytest.fail(f"no CLI binary at {binary}: run `cargo build --release` (or set NEUROGEN_BIN)")

    def run(*args, json_out=False, ok=True):
        p = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=300)
        if ok and p.returncode != 0:
            raise AssertionError(f"neurogen {' '.join(map(str, args))} failed:\n{p.stderr}")
        if not ok:
            return p
        return json.loads(p.stdout.strip().splitlines()[-1]) if json_out else p.stdout

    return run
