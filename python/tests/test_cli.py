"""Checkpoints across Python and the CLI: the CLI loads what Python saves, Python loads the runs
the CLI trains, and both compute the same numbers."""

import pytest

import neurogen
from conftest import batch_of

SEQ_LEN = 32


def held_out(model, corpus):
    """The sequences `neurogen evaluate --data corpus --seq-len 32 --max-sequences 0` scores."""
    return list(neurogen.Corpus(corpus, model.tokenizer, seq_len=SEQ_LEN))


def cli_evaluate(cli, checkpoint, corpus):
    return cli(
        "--backend", "cpu", "evaluate", "--checkpoint", checkpoint, "--data", corpus,
        "--seq-len", SEQ_LEN, "--max-sequences", 0, "--json", json_out=True,
    )


def test_the_cli_loads_what_python_saves(model, corpus, tmp_path, cli):
    for _ in range(3):
        model.train_step(batch_of(model))
    model.save(tmp_path / "ck")
    ours = model.evaluate(held_out(model, corpus), batch=64)
    theirs = cli_evaluate(cli, tmp_path / "ck", corpus)
    assert theirs["positions"] == ours.positions and theirs["host_syncs"] == ours.host_syncs
    assert theirs["loss"] == pytest.approx(ours.loss, abs=1e-6)
    assert theirs["bits_per_byte"] == pytest.approx(ours.bits_per_byte, abs=1e-6)
    # The CLI's generate samples what Python's does with the same seed and defaults, from the same
    # state (DA, 5HT and r̄ of each sequence slot carry over between calls, so not `model`, which
    # has evaluated since).
    out = cli(
        "--backend", "cpu", "--seed", 7, "generate", "--checkpoint", tmp_path / "ck", "--prompt", "the cat",
        "--max-new", 24, "--json", json_out=True,
    )
    loaded = neurogen.Model.load(tmp_path / "ck", backend="cpu")
    assert out["tokens"] == loaded.generate("the cat", max_new=24, seed=7).tokens[0]
    assert out["host_syncs"] == 1


def test_python_loads_what_the_cli_trains(corpus, tmp_path, cli):
    run = tmp_path / "run"
    cli(
        "--backend", "cpu", "train", "--data", corpus, "--steps", 3, "--batch", 4, "--seq-len", SEQ_LEN,
        "--out", run, "--sample-every", 0, "--checkpoint-every", 0, "--json",
    )
    model = neurogen.Model.load(run, backend="cpu")
    assert model.steps == 3 and model.preset == "tiny"
    ours = model.evaluate(held_out(model, corpus), batch=64)
    theirs = cli_evaluate(cli, run, corpus)
    assert theirs["loss"] == pytest.approx(ours.loss, abs=1e-6)
    # Training goes on from the run's state and the result loads back into the CLI.
    assert model.train_step(batch_of(model)).step == 4
    model.save(tmp_path / "next")
    assert cli_evaluate(cli, tmp_path / "next", corpus)["loss"] == pytest.approx(
        model.evaluate(held_out(model, corpus), batch=64).loss, abs=1e-6
    )


def test_a_trained_tokenizer_round_trips(corpus, tmp_path, cli):
    tok_path = tmp_path / "tok.json"
    cli("tokenizer", "train", "--data", corpus, "--vocab", 300, "--out", tok_path)
    tok = neurogen.Tokenizer.from_file(tok_path)
    assert tok.vocab_size == 300 and tok.has_text
    text = "the cat sees the ball."
    assert tok.decode(tok.encode(text)) == text
    model = neurogen.Model(backend="cpu", tokenizer=str(tok_path))
    assert model.vocab == 300
    seqs = held_out(model, corpus)
    assert seqs[0][0] == tok.bos and all(max(s) < 300 for s in seqs)
    model.train_step(seqs[:4])
    model.save(tmp_path / "ck")
    ours = model.evaluate(seqs, batch=64)
    assert ours.bits_per_byte is not None
    assert cli_evaluate(cli, tmp_path / "ck", corpus)["bits_per_byte"] == pytest.approx(ours.bits_per_byte, abs=1e-6)


def test_the_cli_refuses_text_for_a_model_of_ids(tmp_path, cli, corpus):
    neurogen.Model(backend="cpu", vocab=500).save(tmp_path / "ids")
    p = cli("--backend", "cpu", "evaluate", "--checkpoint", tmp_path / "ids", "--data", corpus, ok=False)
    assert p.returncode != 0 and "token ids only (V = 500)" in p.stderr
    assert neurogen.Model.load(tmp_path / "ids", backend="cpu").vocab == 500
