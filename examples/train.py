"""Trains a NeuroGen model from Python on a text corpus, streamed, with a progress bar; then
prints the held-out bits per byte and a sample.

    pip install ./python tqdm
    python examples/train.py data/train.jsonl --steps 300 --backend auto

The corpus is a .txt (a document per line) or .jsonl (a `text` field per line) file, a directory
or a glob. Every --held-out-every-th of its first sequences is held out (--held-out of them at
most); the rest is read again for each epoch until --steps steps are taken.
"""

import argparse
import itertools

from tqdm import tqdm

import neurogen


def sequences(corpus, tokenizer, seq_len):
    """(index within the epoch, sequence), epoch after epoch."""
    while True:
        n = 0
        for n, seq in enumerate(neurogen.Corpus(corpus, tokenizer, seq_len=seq_len), 1):
            yield n - 1, seq
        if n == 0:
            raise SystemExit(f"{corpus} holds no text")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", help=".txt or .jsonl file, directory or glob")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--preset", default="tiny", help="tiny, small or seed")
    p.add_argument("--backend", default="auto", help="auto, cpu, wgpu or cuda")
    p.add_argument("--tokenizer", help="a tokenizer.json (default: bytes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--held-out-every", type=int, default=20)
    p.add_argument("--held-out", type=int, default=256, help="held-out sequences at most")
    p.add_argument("--prompt", default="The ")
    p.add_argument("--save", help="write a checkpoint directory here at the end")
    a = p.parse_args()

    model = neurogen.Model(preset=a.preset, backend=a.backend, seed=a.seed, tokenizer=a.tokenizer)
    print(model)
    # The held-out split: every --held-out-every-th of the first sequences, never trained on.
    def held(i):
        return i % a.held_out_every == a.held_out_every - 1 and i < a.held_out * a.held_out_every

    head = itertools.islice(neurogen.Corpus(a.corpus, model.tokenizer, seq_len=a.seq_len), a.held_out * a.held_out_every)
    held_out = [seq for i, seq in enumerate(head) if held(i)]
    batch = []
    stream = sequences(a.corpus, model.tokenizer, a.seq_len)
    with tqdm(total=a.steps, unit="step") as bar:
        while bar.n < a.steps:
            i, seq = next(stream)
            if held(i):
                continue
            batch.append(seq)
            if len(batch) == a.batch:
                r = model.train_step(batch)
                batch = []
                bpb = f"{r.bits_per_byte:.3f}" if r.bits_per_byte is not None else "-"
                bar.set_postfix(loss=f"{r.loss:.3f}", bits_per_byte=bpb, s_per_step=f"{r.seconds:.3f}")
                bar.update()

    if held_out:
        e = model.evaluate(held_out, batch=64)
        print(f"held-out: {e.bits_per_byte:.4f} bits/byte, loss {e.loss:.4f}, accuracy {100 * e.accuracy:.1f}% "
              f"over {e.positions} positions of {e.sequences} sequences")
    else:
        print("held-out: none (the corpus is too small for --held-out-every)")
    sample = model.generate(a.prompt, max_new=64).text[0]
    print(f"sample: {a.prompt}{sample}")
    if a.save:
        model.save(a.save)
        print(f"saved {a.save} (neurogen generate --checkpoint {a.save} --prompt ... reads it)")


if __name__ == "__main__":
    main()
