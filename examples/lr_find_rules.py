"""Which lr_find rule suggests a rate that trains? (issue 14: measured, not assumed)

For each model/dataset/optimizer combination and seed: one lr_find sweep (the CLI's defaults:
1e-7 → 10 over 100 batches), the rate each rule suggests from that same sweep, then a training
run at each suggestion (constant rate, EPOCHS epochs) and its test accuracy.

    PYTHONPATH=src python examples/lr_find_rules.py        # prints a markdown table
"""

import sys

import soma
from soma.data import DataLoader
from soma.train import evaluate, fit, lr_find
from soma.train.lr_find import RULES
from soma.train.workflow import build_model, make_optimizer, prepare_data

COMBOS = [  # (model, data, optimizer, epochs, accuracy the suggestion must reach)
    ("mlp", "digits", "adam", 5, 0.90),
    ("mlp", "digits", "sgd", 5, 0.90),
    ("lenet5", "digits", "adam", 4, 0.90),
    ("lenet5", "digits", "sgd", 4, 0.90),
    ("mlp", "moons", "adam", 10, 0.95),
    ("mlp", "circles", "sgd", 10, 0.95),
    ("mlp", "spirals", "rmsprop", 20, 0.80),
]
SEEDS = (0, 1, 2)


def run(model_name, data, opt_name, epochs, seed):
    soma.manual_seed(seed)
    prepared = prepare_data(data, model_name, seed=seed)
    classes = prepared.num_classes
    model, _ = build_model(model_name, classes, prepared.input_shape)
    loader = DataLoader(prepared.train, batch_size=32, shuffle=True)
    sweep = lr_find(model, loader, "cross_entropy", make_optimizer(opt_name, model))
    accuracies = {}
    for rule in RULES:
        lr = sweep.suggest(rule=rule)
        soma.manual_seed(seed)
        model, _ = build_model(model_name, classes, prepared.input_shape)
        opt = make_optimizer(opt_name, model, lr)
        fit(model, loader, "cross_entropy", opt, epochs, verbose=False, nan_guard=False)
        test = evaluate(model, DataLoader(prepared.test, batch_size=256))
        accuracies[rule] = (lr, test["accuracy"])
    return accuracies


def main():
    print("| model | data | optimizer | epochs | target | seed | " + " | ".join(RULES) + " |")
    print("|" + " --- |" * (6 + len(RULES)))
    for model_name, data, opt_name, epochs, target in COMBOS:
        for seed in SEEDS:
            result = run(model_name, data, opt_name, epochs, seed)
            cells = [
                f"{lr:.2e} → {acc:.3f}{'' if acc >= target else ' ✗'}"
                for lr, acc in result.values()
            ]
            print(
                f"| {model_name} | {data} | {opt_name} | {epochs} | {target} | {seed} | "
                + " | ".join(cells)
                + " |",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
