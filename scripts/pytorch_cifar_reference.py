"""The PyTorch side of Kindling's CIFAR-10 SimpleCnn recipe, for side-by-side figures.

Trains the tutorial's SimpleCNN exactly as `kindling train cnn` does by default
(per-channel normalisation from the training split, Adam lr 1e-3 with eps 1e-8,
batch 64, shuffled, no augmentation) and prints test accuracy and seconds per
epoch as JSON. Run it with the project's venv (`cargo xtask libtorch` prints it):

    ~/.cache/kindling/torch-2.9.0/bin/python scripts/pytorch_cifar_reference.py \
        --data ../shared/datasets/cifar-10-batches-bin --epochs 5 --threads 2
"""

import argparse
import json
import pathlib
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

RECORD = 3073


def read_split(directory: pathlib.Path, names):
    images, labels = [], []
    for name in names:
        path = directory / name
        if not path.exists():
            continue
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size % RECORD:
            raise SystemExit(f"{path}: {raw.size} bytes is not a whole number of {RECORD}-byte records")
        records = raw.reshape(-1, RECORD)
        labels.append(records[:, 0].astype(np.int64))
        images.append(records[:, 1:].reshape(-1, 3, 32, 32))
    if not images:
        raise SystemExit(f"{directory}: none of {names} exist")
    return np.concatenate(images), np.concatenate(labels)


class SimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc = nn.Linear(16 * 16 * 16, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv(x)))
        return self.fc(x.view(x.size(0), -1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=pathlib.Path, required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train_x, train_y = read_split(args.data, [f"data_batch_{i}.bin" for i in range(1, 6)])
    test_x, test_y = read_split(args.data, ["test_batch.bin"])
    scaled = train_x.astype(np.float64) / 255.0
    mean = scaled.mean(axis=(0, 2, 3)).reshape(1, 3, 1, 1)
    std = scaled.std(axis=(0, 2, 3)).reshape(1, 3, 1, 1)

    def normalise(x):
        return torch.from_numpy(((x.astype(np.float32) / 255.0 - mean) / std).astype(np.float32))

    train_t, test_t = normalise(train_x), normalise(test_x)
    train_labels, test_labels = torch.from_numpy(train_y), torch.from_numpy(test_y)

    model = SimpleCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    epoch_seconds = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_t))
        for start in range(0, len(order), args.batch_size):
            index = order[start : start + args.batch_size]
            optimiser.zero_grad()
            loss = F.cross_entropy(model(train_t[index]), train_labels[index])
            loss.backward()
            optimiser.step()
        epoch_seconds.append(time.perf_counter() - started)

    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(test_t[i : i + 256]).argmax(1) for i in range(0, len(test_t), 256)])
    accuracy = (predictions == test_labels).float().mean().item()
    print(json.dumps({
        "torch": torch.__version__,
        "threads": args.threads,
        "epochs": args.epochs,
        "test_accuracy": accuracy,
        "seconds_per_epoch": sum(epoch_seconds) / len(epoch_seconds),
    }))


if __name__ == "__main__":
    main()
