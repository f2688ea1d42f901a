"""NeuroGenModel: the predecessor's interface (libneurogen), drop-in."""

import numpy as np
import pytest

import neurogen

V = 1000
IDS = [7, 300, 12, 999, 5, 42, 42, 9, 500, 3]


def test_a_script_for_the_old_binding_runs():
    libneurogen = neurogen  # the only change such a script needs: `import neurogen as libneurogen`
    m = libneurogen.NeuroGenModel(32000, 64, 0)  # E = 64: tiny (1536, the old default, is seed)
    input_ids, target_ids = IDS[:-1], IDS[1:]
    loss, acc = m.train_step(input_ids, target_ids)
    assert isinstance(loss, float) and isinstance(acc, float)
    assert 0 < loss and 0 <= acc <= 1


def test_presets_follow_embedding_dim():
    assert neurogen.NeuroGenModel(300, 64, backend="cpu").model.preset == "tiny"
    with pytest.raises(neurogen.Error, match=r"embedding_dim 1000 matches no preset; .* E = 64 \(tiny\), 512 \(small\), 1536 \(seed\)"):
        neurogen.NeuroGenModel(300, 1000)


def test_train_step_is_model_train_step_on_the_whole_sequence():
    old = neurogen.NeuroGenModel(V, 64, 0, backend="cpu", seed=4)
    new = neurogen.Model(preset="tiny", backend="cpu", seed=4, vocab=V)
    for _ in range(2):
        loss, acc = old.train_step(IDS[:-1], IDS[1:])
        r = new.train_step([IDS])
        assert (loss, acc) == (r.loss, r.accuracy)
    # A batch, as a 2-D array.
    batch = np.array([IDS, IDS[::-1]])
    loss, _ = old.train_step(batch[:, :-1], batch[:, 1:])
    assert loss == new.train_step(batch).loss


@pytest.mark.parametrize(
    "inputs, targets, message",
    [
        (IDS[:-1], IDS[:-1], r"shifted by one .* target_ids\[0\] = 7 but input_ids\[1\] = 300"),
        (IDS[:-1], IDS[-1:], "input_ids has 9 tokens and target_ids 1"),
        (IDS[:-1], [IDS[1:]], "the same shape"),
        ([], [], "at least one sequence"),
        ([[]], [[]], "sequence 0 is empty"),
        (IDS[:-1], IDS[1:-1] + [V], "outside the vocabulary"),
        ([1, -1], [-1, 2], "negative"),
        (np.array(IDS[:-1], dtype=float), IDS[1:], "must be integers"),
    ],
)
def test_bad_train_steps(inputs, targets, message):
    m = neurogen.NeuroGenModel(V, 64, backend="cpu")
    with pytest.raises(neurogen.Error, match=message):
        m.train_step(inputs, targets)


def test_devices():
    with pytest.raises(neurogen.Error, match="gpu_device must be 0"):
        neurogen.NeuroGenModel(300, 64, -1)
    with pytest.raises(neurogen.Error, match="backend is cpu, which has no device ids"):
        neurogen.NeuroGenModel(300, 64, 1, backend="cpu")
    try:
        m = neurogen.NeuroGenModel(300, 64, 1)
    except neurogen.Error as e:
        assert "gpu_device 1 selects CUDA device 1, which cannot be opened" in str(e)
    else:
        assert m.model.backend == "cuda"


def test_generate_returns_the_prompt_and_new_tokens():
    m = neurogen.NeuroGenModel(300, 64, backend="cpu")
    out = m.generate([1, 2, 3], max_length=10)
    assert out[:3] == [1, 2, 3] and 3 < len(out) <= 13 and all(0 <= t < 300 for t in out)
    assert len(m.generate(np.array([4, 5]))) <= 102
    with pytest.raises(neurogen.Error, match="one sequence"):
        m.generate([[1, 2], [3, 4]])


def test_checkpoints_round_trip(tmp_path):
    m = neurogen.NeuroGenModel(V, 64, backend="cpu")
    m.train_step(IDS[:-1], IDS[1:])
    m.save_checkpoint(str(tmp_path / "checkpoint_step_1.bin"))
    other = neurogen.NeuroGenModel(V, 64, backend="cpu", seed=9)
    other.load_checkpoint(str(tmp_path / "checkpoint_step_1.bin"))
    assert other.model.steps == 1
    assert other.train_step(IDS[:-1], IDS[1:]) == m.train_step(IDS[:-1], IDS[1:])
    with pytest.raises(neurogen.Error, match="does not exist"):
        other.load_checkpoint(str(tmp_path / "missing"))
    assert other.model.steps == 2
