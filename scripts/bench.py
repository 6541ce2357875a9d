"""PyTorch's side of `cargo xtask bench`: the same workloads as `kindling-bench`.

Each workload builds the PyTorch model Kindling's mirrors (the tutorial's
SimpleCNN; Embedding -> LSTM -> Linear), with the same shapes, optimiser
(Adam, lr 1e-3) and loss, and prints one JSON line per timed repetition,
{"seconds": ..., "items": ...}, then {"peak_rss_bytes": ...}. The thread
count is the caller's OMP_NUM_THREADS (xtask sets the same for every
contender).

    ~/.cache/kindling/torch-2.9.0/bin/python scripts/bench.py cnn-train --batch 64 --steps 10 --reps 3
"""

import argparse
import json
import os
import resource
import time

import torch
from torch import nn

TOKENS, VOCABULARY = 256, 20_000


class SimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc = nn.Linear(16 * 16 * 16, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        return self.fc(x.view(x.size(0), -1))


class SentimentLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCABULARY, 128, padding_idx=0)
        self.rnn = nn.LSTM(128, 256, batch_first=True)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(256, 2)

    def forward(self, ids):
        _, (h_n, _) = self.rnn(self.embedding(ids))
        return self.fc(self.dropout(h_n[-1]))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(args, device, rep):
    times = []
    for i in range(args.warmup + args.reps):
        sync(device)
        start = time.perf_counter()
        rep()
        sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    return times


def train_steps(model, inputs, targets, steps):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def rep():
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
        loss.item()

    return rep


def infer_steps(model, inputs, steps):
    model.eval()

    def rep():
        with torch.no_grad():
            for _ in range(steps):
                model(inputs).sum().item()

    return rep


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["lstm-layer", "cnn-train", "cnn-infer", "sentiment-train", "sentiment-infer"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    torch.manual_seed(42)
    device = torch.device(args.device)
    b = args.batch
    labels = lambda classes: (torch.arange(b) * 7919 % classes).to(device)
    ids = lambda: (2 + (torch.arange(b * TOKENS, dtype=torch.int64) * 2654435761) % (VOCABULARY - 2)).view(b, TOKENS).to(device)

    if args.workload == "lstm-layer":
        lstm = nn.LSTM(128, 256, batch_first=True).to(device)
        x = torch.randn(64, 200, 128, device=device)

        def rep():
            output, _ = lstm(x)
            output.sum().backward()
            lstm.zero_grad(set_to_none=True)

        items = 64
    elif args.workload == "cnn-train":
        rep = train_steps(SimpleCNN().to(device), torch.randn(b, 3, 32, 32, device=device), labels(10), args.steps)
        items = b * args.steps
    elif args.workload == "cnn-infer":
        rep = infer_steps(SimpleCNN().to(device), torch.randn(b, 3, 32, 32, device=device), args.steps)
        items = b * args.steps
    elif args.workload == "sentiment-train":
        rep = train_steps(SentimentLSTM().to(device), ids(), labels(2), args.steps)
        items = b * args.steps
    else:
        rep = infer_steps(SentimentLSTM().to(device), ids(), args.steps)
        items = b * args.steps

    for seconds in timed(args, device, rep):
        print(json.dumps({"seconds": round(seconds, 6), "items": items}), flush=True)
    # ru_maxrss is in KiB on Linux.
    print(json.dumps({"peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}), flush=True)


if __name__ == "__main__":
    main()
