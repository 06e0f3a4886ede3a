"""Train a segmentation network on the synthetic shapes and report its IoU on held-out images.

    python examples/segmentation_shapes.py --model unet          # U-Net, depth 3, width 8
    python examples/segmentation_shapes.py --model fpn           # ResNet-18 (width 16) + FPN
    python examples/segmentation_shapes.py --model deeplabv3     # ResNet-18 (width 8) + ASPP 1,2,4
    python examples/segmentation_shapes.py --model unet --picture docs/images/segmentation.png

The shapes (``soma.data.datasets.make_shapes``): noisy 32×32 images with ellipses, rectangles
and triangles, one class each plus the background; the test images use a fixed seed of their
own. Training: Dice + cross-entropy, Adam with a one-cycle schedule, random flips of images and
masks together. The figures measured with this script are in docs/MODELS.md.
"""

import argparse
import time

import soma
from soma.data.datasets import load_shapes
from soma.data.mask_transforms import (
    JointCompose,
    JointRandomHorizontalFlip,
    JointRandomVerticalFlip,
)
from soma.models import UNet, deeplabv3, fpn
from soma.train import evaluate, fit
from soma.train.metrics_segmentation import IoU

MODELS = {
    "unet": lambda width=8: UNet(1, 4, depth=3, width=width, batch_norm=True),
    "fpn": lambda: fpn(
        num_classes=4,
        in_channels=1,
        backbone="resnet18",
        width=16,
        cifar_stem=True,
        fpn_channels=32,
        head_channels=32,
    ),
    "deeplabv3": lambda: deeplabv3(
        num_classes=4,
        in_channels=1,
        backbone="resnet18",
        width=8,
        cifar_stem=True,
        atrous_rates=(1, 2, 4),
        channels=32,
    ),
}


def train(model_name="unet", size=32, n_train=1536, n_test=200, epochs=20, batch_size=16,
          max_lr=1e-2, seed=0, verbose="plain", **model_kwargs):  # fmt: skip
    """Train one model; returns (model, test results, per-class IoU, (wall, CPU) seconds of
    training, test split)."""
    soma.manual_seed(seed)
    flips = JointCompose([JointRandomHorizontalFlip(), JointRandomVerticalFlip()])
    data = load_shapes(n_train=n_train, n_test=n_test, size=size, seed=seed, transforms=flips)
    model = MODELS[model_name](**model_kwargs)
    optimizer = soma.optim.Adam(model.parameters(), lr=max_lr / 25)
    steps = epochs * -(-n_train // batch_size)
    schedule = soma.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=steps)
    start, cpu = time.perf_counter(), time.process_time()
    fit(model, data.train, loss="dice_ce", optimizer=optimizer, epochs=epochs,
        batch_size=batch_size, scheduler=schedule, scheduler_interval="batch",
        verbose=verbose)  # fmt: skip
    seconds = (time.perf_counter() - start, time.process_time() - cpu)
    results = evaluate(model, data.test, loss="cross_entropy", task="segmentation")
    per_class = evaluate(model, data.test, metrics=[IoU(4)])["iou"]
    return model, results, per_class, seconds, data.test


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="unet")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--n-train", type=int, default=1536)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--width", type=int, default=None, help="U-Net width (default 8)")
    parser.add_argument("--picture", default=None, help="PNG of predicted masks over inputs")
    args = parser.parse_args()
    model, results, per_class, seconds, test = train(
        args.model,
        args.size,
        args.n_train,
        epochs=args.epochs,
        **({"width": args.width} if args.width else {}),
    )
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.model}: {params:,} parameters, trained {seconds[0]:.0f} s ({seconds[1]:.0f} s CPU)"
    )
    print(
        f"test: pixel accuracy {results['pixel_accuracy']:.4f}, mean IoU {results['mean_iou']:.4f}"
    )
    names = ("background", "ellipse", "rectangle", "triangle")
    print("test IoU per class: " + ", ".join(f"{n} {v:.3f}" for n, v in zip(names, per_class)))
    if args.picture:
        from soma.inspection.segmentation import plot_segmentation, predict_masks

        images, masks = test.images[:8], test.masks[:8]
        path = plot_segmentation(images, masks, predict_masks(model, images), args.picture,
                                 classes=names)  # fmt: skip
        print(f"picture written to {path}")


if __name__ == "__main__":
    main()
