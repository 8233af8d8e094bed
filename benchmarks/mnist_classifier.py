"""Train the small MNIST classifier that gankit ships (src/gankit/weights/).

    python benchmarks/mnist_classifier.py            # ~10 minutes on 2 CPU cores

Trains on the 60,000 training digits (random shifts of up to 2 pixels), reports accuracy on the
10,000 test digits, and writes the weights as safetensors with the accuracy in their metadata.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from safetensors.torch import save_file

from gankit.data.idx import load
from gankit.metrics.classifier import WEIGHTS, DigitClassifier


def shift(x: torch.Tensor, g: torch.Generator, most: int = 2) -> torch.Tensor:
    """Translate each image by up to `most` pixels (background -1 fills the border)."""
    padded = torch.nn.functional.pad(x, [most] * 4, value=-1.0)
    out = torch.empty_like(x)
    offsets = torch.randint(0, 2 * most + 1, (len(x), 2), generator=g)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        out[i] = padded[i, :, dy:dy + 28, dx:dx + 28]
    return out


def accuracy(model, x, y) -> float:
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 2000]).argmax(1) for i in range(0, len(x), 2000)])
    return (pred == y).float().mean().item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--out", default=str(WEIGHTS),
                    help="where the weights go (default: over the ones gankit ships)")
    args = ap.parse_args()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    to_x = lambda a: torch.from_numpy(a).float().div(127.5).sub(1)[:, None]  # noqa: E731
    (xtr, ytr), (xte, yte) = load("mnist", "train"), load("mnist", "test")
    xtr, ytr, xte, yte = to_x(xtr), torch.from_numpy(ytr), to_x(xte), torch.from_numpy(yte)
    model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = args.epochs * (len(xtr) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr) - 127, 128):
            idx = order[i:i + 128]
            loss = torch.nn.functional.cross_entropy(model(shift(xtr[idx], g)), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: test accuracy {accuracy(model, xte, yte):.4f} "
              f"({time.time() - start:.0f} s)", flush=True)
    acc = accuracy(model, xte, yte)
    meta = {"test_accuracy": f"{acc:.4f}", "epochs": str(args.epochs),
            "train_seconds": f"{time.time() - start:.0f}"}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.out, meta)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
