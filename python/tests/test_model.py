"""neurogen.Model, Tokenizer and Corpus: results, numpy in and out, one host sync per call, the
GIL released during a call, saving and loading."""

import math
import re
import threading
import time

import numpy as np
import pytest

import neurogen
from conftest import batch_of, sentences


def test_train_step_reports_the_step(model):
    batch = batch_of(model)
    r = model.train_step(batch)
    assert r.host_syncs == 1
    assert r.step == 1 and model.steps == 1
    assert r.positions == 4 * 31
    assert 0 < r.loss < 10 and 0 <= r.accuracy <= 1 and r.seconds > 0
    # Bits per byte: the summed nats over the predicted bytes (the byte tokenizer: one per token).
    assert r.bits_per_byte == pytest.approx(r.loss * r.positions / math.log(2) / r.positions, rel=1e-12)
    assert model.train_step(batch).step == 2


def test_training_lowers_the_loss(model):
    batch = batch_of(model)
    first = model.evaluate(batch).loss
    for _ in range(10):
        model.train_step(batch)
    assert model.evaluate(batch).loss < first - 0.3


def test_lists_and_integer_arrays_are_the_same_input():
    losses = []
    batch = batch_of(neurogen.Model(backend="cpu"))
    for make in [lambda b: b, np.array, lambda b: np.array(b, dtype=np.int32), lambda b: np.array(b, dtype=np.uint16)]:
        m = neurogen.Model(preset="tiny", backend="cpu", seed=3)
        losses.append([m.train_step(make(batch)).loss for _ in range(2)])
    assert all(l == losses[0] for l in losses), losses


def test_uneven_lengths_are_padded_and_masked(model):
    batch = batch_of(model)
    batch[1] = batch[1][:10]
    r = model.train_step(batch)
    assert r.positions == 3 * 31 + 9


def test_evaluate_is_one_call_or_calls_of_batch(model):
    seqs = batch_of(model, n=6)
    whole = model.evaluate(seqs)
    assert whole.host_syncs == 1 and whole.sequences == 6 and whole.positions == 6 * 31
    assert whole.perplexity == pytest.approx(math.exp(whole.loss))
    assert whole.bits_per_byte == pytest.approx(whole.loss / math.log(2))
    parts = model.evaluate(np.array(seqs), batch=4)
    assert parts.host_syncs == 2
    assert parts.loss == pytest.approx(whole.loss, abs=1e-9)
    # Evaluation does not learn.
    assert model.evaluate(seqs).loss == whole.loss and model.steps == 0


def test_generate_text_and_ids(model):
    out = model.generate("the cat", max_new=16, seed=5)
    assert out.host_syncs == 1
    assert len(out.tokens) == 1 and 1 <= len(out.tokens[0]) <= 16
    assert out.text == [model.tokenizer.decode(out.tokens[0])]
    # A text prompt is BOS + its bytes: the same as passing those ids.
    ids = model.tokenizer.prompt("the cat")
    assert ids == [256] + list(b"the cat")
    assert model.generate([ids], max_new=16, seed=5).tokens == out.tokens
    assert model.generate(np.array([ids]), max_new=16, seed=5).tokens == out.tokens
    # Same seed, same tokens; the model's seed by default.
    assert model.generate("the cat", max_new=16).tokens == model.generate("the cat", max_new=16, seed=0).tokens


def test_generate_batch_to_numpy(model):
    out = model.generate(["a", "the bird"], max_new=12, strategy="greedy")
    a = out.array()
    assert a.dtype == np.int64 and a.shape == (2, max(map(len, out.tokens)))
    for row, toks in zip(a, out.tokens):
        assert list(row[: len(toks)]) == toks
        assert all(t == model.tokenizer.pad for t in row[len(toks) :])


@pytest.mark.parametrize("strategy", ["greedy", "temperature", "top-k", "top-p", "top-k-top-p"])
def test_every_strategy(model, strategy):
    out = model.generate("x", max_new=8, strategy=strategy, temperature=0.5, top_k=5, top_p=0.5)
    assert out.host_syncs == 1 and all(0 <= t < 259 for t in out.tokens[0])


BAD_BATCHES = {
    "float array": (np.zeros((2, 8)), "must be integers"),
    "bool array": (np.ones((2, 8), dtype=bool), "must be integers"),
    "ragged array": (np.array([[1, 2], [3]], dtype=object), "must be integers"),
    "3-D array": (np.zeros((2, 2, 2), dtype=np.int64), "3-D"),
    "negative id": ([[256, 1, -3, 4]], "token id -3 is negative"),
    "negative id in an array": (np.array([[256, 1, -3, 4]]), "token id -3 is negative"),
    "id of 33 bits": ([[256, 2**33]], "does not fit 32 bits"),
    "id >= V": ([[256, 1, 259]], "token id 259 is outside the vocabulary (V = 259)"),
    "id >= V in an array": (np.array([[256, 300]], dtype=np.uint32), "outside the vocabulary"),
    "empty batch": ([], "at least one sequence"),
    "empty array": (np.zeros((0, 8), dtype=np.int64), "at least one sequence"),
    "empty sequence": ([[]], "0 tokens"),
    "one token": ([[256]], "1 tokens; at least 2"),
    "ids and lists mixed": ([[256, 1], 2], "neither a token id nor a sequence"),
    "lists and ids mixed": ([256, [1, 2]], "not an integer token id"),
    "a float id": ([[256, 1.5]], "not an integer token id"),
    "a string": ("hello", "must be token ids"),
    "None": (None, "must be token ids"),
}


@pytest.mark.parametrize("name", BAD_BATCHES)
def test_bad_batches_raise_before_any_work(model, name):
    batch, message = BAD_BATCHES[name]
    message = re.escape(message)
    with pytest.raises(neurogen.Error, match=message) as e:
        model.train_step(batch)
    assert isinstance(e.value, ValueError)
    with pytest.raises(ValueError, match=message):
        model.evaluate(batch)
    # Nothing was done, and the model still works.
    assert model.steps == 0
    assert model.train_step(batch_of(model)).host_syncs == 1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: neurogen.Model(preset="huge"), 'unknown preset "huge"; expected one of: tiny, small, seed'),
        (lambda: neurogen.Model(backend="tpu"), 'unknown backend "tpu"; expected one of: auto, cpu, wgpu, cuda'),
        (lambda: neurogen.Model(backend="cpu", seed=-1), "seed = -1 is out of range"),
        (lambda: neurogen.Model(backend="cpu", vocab=100), "V is at least 259"),
        (lambda: neurogen.Model(backend="cpu", vocab=300, tokenizer=neurogen.Tokenizer.bytes()), "differs from the tokenizer's 259"),
        (lambda: neurogen.Model(backend="cpu", tokenizer=42), "tokenizer must be"),
        (lambda: neurogen.Model(backend="cpu", tokenizer="/nonexistent/tokenizer.json"), "tokenizer: reading /nonexistent"),
        (lambda: neurogen.Model.load("/nonexistent", backend="cpu"), "does not exist"),
        (lambda: neurogen.Corpus("/nonexistent.txt"), "does not exist"),
        (lambda: neurogen.Corpus(__file__), "not a .txt, .jsonl or .jsonl.zst file"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(neurogen.Error, match=re.escape(message)):
        call()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(strategy="beam"), 'unknown strategy "beam"; expected one of: greedy, temperature, top-k, top-p, top-k-top-p'),
        (dict(temperature=0.0), "temperature must be a positive number"),
        (dict(top_p=1.5), "top-p must be in"),
        (dict(max_new=-1), "max_new = -1 is out of range"),
        (dict(max_new=2**21), "exceeds the limit"),
        (dict(top_k=-2), "top_k = -2 is out of range"),
    ],
)
def test_bad_sampling_options(model, kwargs, message):
    with pytest.raises(neurogen.Error, match=re.escape(message)):
        model.generate("x", **kwargs)


def test_the_gil_is_released_during_a_call(model):
    """Another Python thread runs while a call works: with the GIL held, the main thread would
    wait for the whole call."""
    seqs = batch_of(model, n=8, length=128)
    took, done = [], threading.Event()

    def call():
        t = time.perf_counter()
        model.evaluate(seqs)
        took.append(time.perf_counter() - t)
        done.set()

    worker = threading.Thread(target=call)
    gaps, last = [], time.perf_counter()
    worker.start()
    while not done.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    worker.join()
    assert took[0] > 0.1, "the call is too short to tell"
    assert max(gaps) < took[0] / 4, (max(gaps), took[0])


def test_save_and_load_continue_exactly(model, tmp_path):
    batch, other = batch_of(model), batch_of(model, offset=200)
    for _ in range(2):
        model.train_step(batch)
    model.save(tmp_path / "ck")
    loaded = neurogen.Model.load(str(tmp_path / "ck"), backend="cpu")
    assert (loaded.steps, loaded.preset, loaded.vocab, loaded.seed) == (2, "tiny", 259, 0)
    assert loaded.evaluate(other).loss == model.evaluate(other).loss
    # Parameters, Adam's moments and the step count came back: training goes on identically.
    assert loaded.train_step(other).loss == model.train_step(other).loss
    assert loaded.generate("a", max_new=10).tokens == model.generate("a", max_new=10).tokens


def test_info_is_the_cli_info(model):
    i = model.info()
    assert i["backend"] == "cpu" and model.backend == "cpu"
    assert (i["preset"], i["vocab"], i["embed"]) == ("tiny", 259, 64)
    assert i["config"]["vocab"] == 259 and i["tokenizer"] == "bytes" and i["steps"] == 0


def test_a_model_of_ids_only():
    m = neurogen.Model(backend="cpu", vocab=1000)
    assert m.vocab == 1000 and not m.tokenizer.has_text
    r = m.train_step([[5, 999, 3, 700]])
    assert r.host_syncs == 1 and r.bits_per_byte is None
    assert m.evaluate([[5, 999, 3]]).bits_per_byte is None
    out = m.generate([[5, 999]], max_new=4)
    assert out.text is None and all(0 <= t < 1000 for t in out.tokens[0])
    with pytest.raises(neurogen.Error, match="token ids only"):
        m.generate("text")


def test_tokenizer_bytes():
    t = neurogen.Tokenizer.bytes()
    assert (t.vocab_size, t.bos, t.eos, t.pad) == (259, 256, 257, 258)
    assert t.encode("Grüße") == list("Grüße".encode())
    assert t.decode(np.array(t.encode("Grüße") + [257])) == "Grüße"
    with pytest.raises(neurogen.Error, match="one sequence"):
        t.decode([[1, 2]])


def test_corpus_packs_like_the_cli(corpus):
    """BOS, then 31 tokens of the documents joined with EOS; the last sequence is shorter."""
    seqs = list(neurogen.Corpus(str(corpus), seq_len=32))
    stream = []
    for line in corpus.read_text().splitlines():
        stream += list(line.encode()) + [257]
    want = [[256] + stream[i : i + 31] for i in range(0, len(stream), 31)]
    assert seqs == want
    assert len(list(neurogen.Corpus(corpus, neurogen.Tokenizer.bytes(), seq_len=32))) == len(want)


def test_corpus_jsonl_and_bad_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"text": "abc"}\nnot json\n{"text": "de"}\n')
    c = neurogen.Corpus(path, seq_len=4)
    assert list(c) == [[256, 97, 98, 99], [256, 257, 100, 101], [256, 257]]
    assert len(c.problems) == 1 and "c.jsonl:2" in c.problems[0]
    with pytest.raises(neurogen.Error, match="malformed JSON"):
        list(neurogen.Corpus(path, seq_len=4, on_bad_data="refuse"))
    with pytest.raises(neurogen.Error, match="below 2"):
        neurogen.Corpus(path, seq_len=1)


def test_bf16_precision_runs_and_is_kept_or_overridden(tmp_path):
    m = neurogen.Model(backend="cpu", precision="bf16")
    assert m.info()["config"]["precision"] == "bf16"
    batch = batch_of(m)
    r = m.train_step(batch)
    assert r.host_syncs == 1 and math.isfinite(r.loss)
    assert m.generate("the", max_new=4).host_syncs == 1
    m.save(tmp_path / "ck")
    assert neurogen.Model.load(tmp_path / "ck", backend="cpu").info()["config"]["precision"] == "bf16"
    f32 = neurogen.Model.load(tmp_path / "ck", backend="cpu", precision="f32")
    assert f32.info()["config"]["precision"] == "f32"
    # The parameters are the same f32 values: only the forward's rounding differs.
    assert f32.evaluate(batch).loss == pytest.approx(m.evaluate(batch).loss, rel=0.02)
    with pytest.raises(neurogen.Error, match="unknown precision"):
        neurogen.Model(backend="cpu", precision="fp8")
