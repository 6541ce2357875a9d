"""torch.nn.LSTM's forward + backward throughput, the PyTorch side of `cargo xtask bench`.

The workload matches crates/layers/benches/recurrent.rs: a 1-layer,
batch-first LSTM (input 128, hidden 256) on 64 sequences of 200 steps, loss =
output.sum(). Prints one JSON line per timed repetition. The thread count is
the caller's OMP_NUM_THREADS (xtask sets it to the same value for every
contender).

    ~/.cache/kindling/torch-2.9.0/bin/python scripts/bench_recurrent.py --warmup 2 --reps 5
"""

import argparse
import json
import os
import time

import torch

BATCH, STEPS, INPUT, HIDDEN = 64, 200, 128, 256


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    threads = int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads()))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(INPUT, HIDDEN, batch_first=True)
    x = torch.randn(BATCH, STEPS, INPUT)
    for rep in range(args.warmup + args.reps):
        start = time.perf_counter()
        output, _ = lstm(x)
        output.sum().backward()
        seconds = time.perf_counter() - start
        lstm.zero_grad(set_to_none=True)
        if rep >= args.warmup:
            print(json.dumps({"contender": "pytorch/cpu", "seconds": round(seconds, 6),
                              "samples_per_s": round(BATCH / seconds, 2), "threads": threads}), flush=True)


if __name__ == "__main__":
    main()
