#!/usr/bin/env python3
"""A byte-level GRU trained by backpropagation through time, as the reference neurogen's local
rules are measured against (LEARNING.md). It reads the same corpora (JSON Lines with a "text"
field, or .txt with a document per line), packs documents the way `neurogen train` does (BOS,
document bytes, EOS between documents; sequences of --seq-len tokens, each starting from a zero
state), trains for a wall-clock budget on one GPU, and reports held-out bits per byte with the
engine's definition: summed nats over every predicted token (EOS included) / ln 2 / bytes.

    python3 baselines/gru.py --train DIR/train.jsonl --held-out DIR/held_out.jsonl --seconds 300
"""
import argparse, json, math, time

import torch
import torch.nn as nn

BOS, EOS, VOCAB = 256, 257, 259


def documents(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if path.endswith(".jsonl"):
                line = line.strip()
                if line:
                    yield json.loads(line)["text"].encode("utf-8")
            elif line.strip():
                yield line.rstrip("\n").encode("utf-8")


def pack(path, seq_len):
    """Sequences of seq_len tokens: BOS, then seq_len - 1 tokens of the EOS-joined stream."""
    stream = []
    for doc in documents(path):
        if stream:
            stream.append(EOS)
        stream.extend(doc)
    body = seq_len - 1
    n = len(stream) // body
    t = torch.tensor(stream[: n * body], dtype=torch.long).view(n, body)
    return torch.cat([torch.full((n, 1), BOS, dtype=torch.long), t], dim=1)


class Gru(nn.Module):
    def __init__(self, hidden, layers, embed):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, embed)
        self.rnn = nn.GRU(embed, hidden, layers, batch_first=True)
        self.out = nn.Linear(hidden, VOCAB)

    def forward(self, x):
        h, _ = self.rnn(self.emb(x))
        return self.out(h)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True)
    ap.add_argument("--held-out", required=True)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--embed", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--eval-seq-len", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train = pack(a.train, a.seq_len).to(dev)
    held = pack(a.held_out, a.eval_seq_len).to(dev)
    model = Gru(a.hidden, a.layers, a.embed).to(dev)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    steps, tokens = 0, 0
    start = time.time()
    while time.time() - start < a.seconds:
        idx = torch.randint(0, train.shape[0], (a.batch,), device=dev)
        x = train[idx]
        logits = model(x[:, :-1])
        loss = loss_fn(logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        steps += 1
        tokens += x[:, 1:].numel()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.time() - start
    model.eval()
    nats, correct, count, nbytes = 0.0, 0, 0, 0
    with torch.no_grad():
        for i in range(0, held.shape[0], 64):
            x = held[i : i + 64]
            logits = model(x[:, :-1]).float()
            tgt = x[:, 1:]
            nll = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), tgt.reshape(-1), reduction="sum")
            nats += nll.item()
            correct += (logits.argmax(-1) == tgt).sum().item()
            count += tgt.numel()
            nbytes += (tgt < 256).sum().item()
    print(json.dumps({
        "model": f"GRU {a.layers}x{a.hidden} (embed {a.embed})",
        "parameters": params,
        "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
        "seconds": round(seconds, 1),
        "steps": steps,
        "tokens": tokens,
        "tokens_per_s": round(tokens / seconds),
        "held_out_bits_per_byte": nats / math.log(2) / max(nbytes, 1),
        "held_out_loss": nats / max(count, 1),
        "held_out_accuracy": correct / max(count, 1),
        "held_out_positions": count,
        "held_out_bytes": nbytes,
    }))


if __name__ == "__main__":
    main()
