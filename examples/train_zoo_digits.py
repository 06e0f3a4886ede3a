"""Train two model-zoo networks on the 8×8 ``digits`` images (resized to 32×32) on a laptop CPU.

* ``resnet18`` with the CIFAR stem (3×3 stride-1 first convolution, no max-pooling) at a
  quarter of the width (16 channels in the first stage instead of 64): 0.7 M parameters;
* ``mobilenet_v1`` with α = 0.25 and the CIFAR stem: 0.2 M parameters.

Both are the ImageNet architectures of ``soma.models``, narrowed; Adam with a cosine schedule
and small random shifts of the images. The script prints the test accuracy and the wall time
of each run.

    python examples/train_zoo_digits.py [--models resnet18 mobilenet_v1] [--epochs N]

The same runs from the command line (without the cosine schedule's exact settings):

    soma train --model resnet18 --data digits --model-arg cifar_stem=True --model-arg width=16
    soma train --model mobilenet_v1 --data digits --model-arg cifar_stem=True \\
        --model-arg alpha=0.25
"""

import argparse
import time

import soma
from soma.data import DataLoader, transforms
from soma.models import get_model
from soma.optim import Adam
from soma.optim.lr_scheduler import CosineAnnealingLR
from soma.train import Trainer, evaluate
from soma.train.workflow import prepare_data

# model arguments, then training settings (the thin MobileNet learns more slowly, and its
# Keras batch norm (momentum 0.99) needs a few hundred steps for its running statistics)
CONFIGS = {
    "resnet18": (dict(cifar_stem=True, width=16), dict(epochs=15, lr=3e-3, batch_size=64)),
    "mobilenet_v1": (dict(cifar_stem=True, alpha=0.25), dict(epochs=30, lr=1e-2, batch_size=32)),
}


def train(name: str, epochs: int, lr: float, batch_size: int, seed: int) -> dict:
    soma.manual_seed(seed)
    data = prepare_data("digits", name, seed=seed)  # 8×8 → 32×32, normalised
    model = get_model(name, num_classes=10, in_channels=1, **CONFIGS[name][0])
    params = sum(p.numel() for p in model.parameters())
    shifts = transforms.RandomCrop((32, 32), padding=4)  # shifts of up to 4 pixels
    loader = DataLoader(data.train, batch_size=batch_size, shuffle=True, transform=shifts)
    optimizer = Adam(model.parameters(), lr=lr)
    trainer = Trainer(
        model,
        "cross_entropy",
        optimizer,
        verbose="plain",
        scheduler=CosineAnnealingLR(optimizer, T_max=epochs),
    )
    start = time.perf_counter()
    trainer.fit(loader, epochs)
    seconds = time.perf_counter() - start
    test = evaluate(model, DataLoader(data.test, batch_size=256), loss="cross_entropy")
    return {
        "model": name,
        "params": params,
        "epochs": epochs,
        "seconds": seconds,
        "test_accuracy": test["accuracy"],
        "test_samples": len(data.test),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--epochs", type=int, default=None, help="default: per model")
    parser.add_argument("--lr", type=float, default=None, help="default: per model")
    parser.add_argument("--batch-size", type=int, default=None, help="default: per model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in args.models:
        model_args, settings = CONFIGS[name]
        settings = {k: getattr(args, k) or v for k, v in settings.items()}
        r = train(name, settings["epochs"], settings["lr"], settings["batch_size"], args.seed)
        print(
            f"{r['model']} ({r['params']:,} parameters, {model_args}): "
            f"test accuracy {r['test_accuracy']:.4f} on {r['test_samples']} images after "
            f"{r['epochs']} epochs, {r['seconds']:.0f} s of training",
            flush=True,
        )


if __name__ == "__main__":
    main()
