"""A tiny Vision Transformer on the 8×8 digits: an image read as a sequence of patches.

Each 8×8 image is cut into sixteen 2×2 patches; a strided convolution embeds each patch as a
vector, a learned class token is put in front, learned position embeddings are added, and a
pre-norm Transformer encoder lets every patch attend to every other. The class token's final
vector goes to a linear classifier. Nothing here is convolutional beyond the patch embedding:
the spatial structure has to be learned through attention and the position embeddings.

With the defaults (dim 32, depth 2, 4 heads, 18,218 parameters, AdamW with a cosine schedule,
30 epochs) the test accuracy was 0.947 (0.889 after 10 epochs).

    python examples/vit_digits.py [--epochs 30]
"""

import argparse

import soma
from soma import nn
from soma.data import DataLoader, load_digits
from soma.models.vit import VisionTransformer


def accuracy(model, loader) -> float:
    model.eval()
    correct = total = 0
    with soma.no_grad():
        for images, labels in loader:
            correct += int((model(images).argmax(1) == labels).sum().item())
            total += len(labels)
    model.train()
    return correct / total


def main(
    epochs: int = 30,
    dim: int = 32,
    depth: int = 2,
    heads: int = 4,
    lr: float = 3e-3,
    batch_size: int = 64,
    seed: int = 0,
    log: bool = True,
) -> float:
    """Train on the 1,438 training digits; return the accuracy on the 359 test digits."""
    soma.manual_seed(seed)
    splits = load_digits()
    train = DataLoader(
        splits.train,
        batch_size=batch_size,
        shuffle=True,
        generator=soma.Generator().manual_seed(seed),
    )
    test = DataLoader(splits.test, batch_size=256)
    model = VisionTransformer(
        image_size=8,
        patch_size=2,
        in_channels=1,
        num_classes=10,
        dim=dim,
        depth=depth,
        heads=heads,
        mlp_dim=2 * dim,
    )
    optimizer = soma.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    scheduler = soma.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        total = 0.0
        for images, labels in train:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
        scheduler.step()
        if log and (epoch % 5 == 4 or epoch == epochs - 1):
            print(
                f"epoch {epoch + 1:3d}  loss {total / len(splits.train):.3f}  "
                f"test accuracy {accuracy(model, test):.3f}"
            )
    result = accuracy(model, test)
    if log:
        parameters = sum(p.numel() for p in model.parameters())
        print(f"\nViT ({parameters} parameters), {epochs} epochs: test accuracy {result:.3f}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.epochs, seed=args.seed)
