"""``History``: what happened in each epoch of a training run (losses, metrics, rates, times)."""

import json
import math
import os

from soma.io.serialization import write_atomic


def _plain(value):
    """A JSON-able copy of a log value (arrays become lists, NumPy scalars Python numbers)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class History:
    """Per-epoch records of a run: ``history["val_loss"]`` is the list over epochs.

    Each epoch's record is a dict such as ``{"epoch": 1, "loss": 0.31, "accuracy": 0.91,
    "val_loss": 0.28, "val_accuracy": 0.92, "lr": 0.001, "time": 1.7}``; keys that an epoch
    lacks read as ``None`` in the per-key lists.

    Example:
        >>> h = History(epochs=[{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}])
        >>> h["loss"], h.best("loss")
        ([0.5, 0.25], (2, 0.25))
    """

    def __init__(self, epochs=None, test=None):
        self.epochs = [dict(e) for e in epochs or []]
        self.test = dict(test) if test else {}
        # set by Trainer.fit: why training stopped early (early stopping, NaN loss), if it did
        self.stop_reason, self.failed = None, False

    def append(self, logs: dict) -> dict:
        """Add one epoch's logs (numbered after the previous epoch unless ``logs`` says)."""
        record = {"epoch": len(self.epochs) + 1}
        record.update({k: _plain(v) for k, v in logs.items()})
        self.epochs.append(record)
        return record

    def __len__(self):
        return len(self.epochs)

    def keys(self) -> list:
        seen = {}
        for record in self.epochs:
            seen.update(dict.fromkeys(record))
        return list(seen)

    def __getitem__(self, key: str) -> list:
        if key not in self.keys():
            raise KeyError(f"History has no {key!r}; recorded: {self.keys()}")
        return [record.get(key) for record in self.epochs]

    def __contains__(self, key):
        return key in self.keys()

    @property
    def history(self) -> dict:
        """Keras-style view: ``{key: [value per epoch]}``."""
        return {key: self[key] for key in self.keys() if key != "epoch"}

    def best(self, key: str, mode: str = "min"):
        """(epoch, value) of the best finite value of ``key``."""
        values = [
            (r["epoch"], r[key])
            for r in self.epochs
            if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])
        ]
        if not values:
            raise ValueError(f"History: no finite values of {key!r}")
        pick = min if mode == "min" else max
        return pick(values, key=lambda item: item[1])

    def to_dict(self) -> dict:
        return {"epochs": [dict(e) for e in self.epochs], "test": dict(self.test)}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(data.get("epochs"), data.get("test"))

    def to_json(self, path=None, indent: int = 2) -> str:
        """The history as JSON text; also written (atomically) to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            write_atomic(os.fspath(path), (text + "\n").encode())
        return text

    @classmethod
    def from_json(cls, path) -> "History":
        with open(path) as f:
            return cls.from_dict(json.load(f))

    def __repr__(self):
        last = self.epochs[-1] if self.epochs else {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float))
        return f"History({len(self)} epochs{': last ' + shown if shown else ''})"
