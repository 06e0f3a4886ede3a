"""Whole-model ``torch.save(model, PATH)`` / ``torch.load(PATH)``, as tutorials write it."""

import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from _det import deterministic_init, report


class TheModelClass(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn = nn.BatchNorm2d(6)
        self.fc1 = nn.Linear(6 * 6 * 6, 10)
        self.scale = 0.5
        self.name = "tutorial"

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv1(x))))
        x = torch.flatten(x, 1)
        return self.fc1(x) * self.scale


def main():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((2, 3, 16, 16)).astype(np.float32))
    model = deterministic_init(TheModelClass())
    model.train()
    model(x)  # update the batch-norm running statistics
    model.eval()
    expected = model(x)
    folder = tempfile.mkdtemp()
    PATH = os.path.join(folder, "model.pt")
    torch.save(model, PATH)

    # weights_only=True (the default) refuses a class the program did not allow...
    try:
        torch.load(PATH, weights_only=True)
        refused = False
    except Exception as error:  # PyTorch: UnpicklingError; soma: UnsafeCheckpointError
        refused = "TheModelClass" in str(error)
    # ...and loads it once the class is allowed
    # (PyTorch asks for every class in the file; soma's own classes are always allowed)
    classes = [TheModelClass, nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d, nn.Linear]
    with torch.serialization.safe_globals(classes):
        allowed = torch.load(PATH, weights_only=True) if refused else None
    loaded = torch.load(PATH, weights_only=False)
    loaded.eval()
    same = torch.equal(loaded(x), expected)
    torch.save(model.state_dict(), os.path.join(folder, "state.pt"))
    fresh = TheModelClass()
    fresh.load_state_dict(torch.load(os.path.join(folder, "state.pt"), weights_only=True))
    fresh.eval()
    report(
        unsafe="__main__.TheModelClass"
        in torch.serialization.get_unsafe_globals_in_checkpoint(PATH),
        refused=refused,
        allowed_type=type(allowed).__name__,
        same=bool(same),
        same_from_state=bool(torch.equal(fresh(x), expected)),
        attrs=[loaded.scale, loaded.name, loaded.training, loaded.conv1.stride],
        output=expected.sum().item(),
    )


if __name__ == "__main__":
    main()
