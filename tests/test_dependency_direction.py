"""Imports flow downward through the layers of ``src/soma`` (issue 10), checked from the source.

backend → autograd → functional → nn → optim/data/distributed → train/models/io → inspection
→ the public surface (soma/__init__.py) → cli

Every ``import`` statement is parsed with ``ast``, function-local ones included (a lazy import
is still a dependency). A module may import from its own layer or any layer below, never from a
layer above, except for the few imports listed in ``EXCEPTIONS`` with the reason for each.
"""

import ast
import tokenize
from pathlib import Path

import soma

ROOT = Path(soma.__file__).resolve().parent

# The layer of each top-level name under soma/ (a higher number sits above).
RANK = {
    "_version": 0,
    "_safe_pickle": 0,  # the restricted unpickler: standard library only
    "_registry": 0,  # the by-name registry style: standard library only
    "backend": 0,
    "autograd": 1,
    "functional": 2,
    "testing": 2,  # re-exports autograd's gradcheck for tests
    "sparse": 2,  # soma.sparse (PyTorch's torch.sparse) re-exports functional/sparse.py
    "linalg": 2,  # soma.linalg (PyTorch's torch.linalg) re-exports functional's linear algebra
    "special": 2,  # soma.special (PyTorch's torch.special) re-exports functional's functions
    "nn": 3,
    "optim": 4,
    "data": 4,
    "utils": 4,  # soma.utils.data is soma.data under PyTorch's name
    "distributed": 4,  # data-parallel training over MPI: builds on nn
    "train": 5,
    "models": 5,
    "io": 5,
    "onnx": 5,  # soma.onnx re-exports io's exporter under PyTorch's name
    "inspection": 6,
    "compat": 6,  # PyTorch's namespaces and the torch import hook: use every layer below
    "random": 6,  # soma.random (PyTorch's torch.random) re-exports backend's and compat's RNG
    "": 7,  # soma/__init__.py, the public surface: imports every layer but the CLI
    "cli": 8,  # the command line is a user of the public surface
    "cli_train": 9,  # soma train's flow (issue 14): uses cli's shared helpers
    "cli_segmentation": 8,  # the command line's segmentation steps (issue 13)
    "run": 8,  # python -m soma.run: the `soma run` command
}

# (importing module, imported module): the imports allowed to point upward, and why.
EXCEPTIONS = {
    # The one deliberate exception: Tensor's operators and math methods are one-line calls
    # into soma.functional (imported at the bottom of tensor.py, once Tensor exists).
    ("soma.autograd.tensor", "soma.functional"): "Tensor methods call functional",
    ("soma.autograd.tensor_methods", "soma.functional.sparse"): "Tensor.to_sparse (the same)",
    # inspection re-exports train's plots, so train may import inspection only lazily: the
    # GradientMonitor callback reports with inspection's gradient_report ...
    ("soma.train.callbacks", "soma.inspection.gradients"): "GradientMonitor's report",
    # ... and the CLI's glue code prints inspection's model summary.
    ("soma.train.workflow", "soma.inspection.summary"): "the CLI's model summary",
    # PyTorch's names nn.SyncBatchNorm and nn.parallel.DistributedDataParallel, re-exported
    # lazily (module __getattr__) from soma.distributed, which builds on nn.
    ("soma.nn", "soma.distributed.sync_batchnorm"): "nn.SyncBatchNorm",
    # `soma train` dispatches (lazily) to its flow in cli_train, which uses cli's helpers.
    ("soma.cli", "soma.cli_train"): "soma train's flow",
    ("soma.nn.parallel", "soma.distributed.data_parallel"): "nn.parallel.DistributedDataParallel",
    # Tensor.type() answers with PyTorch's tensor-type names, which compat defines (issue 11).
    ("soma.autograd.tensor", "soma.compat.tensor_types"): "Tensor.type()'s FloatTensor names",
}

# Files whose function-local imports need no comment each, and why (none today: the CLI's
# command imports were hoisted in issue 10, and its few lazy ones say why).
LAZY_IMPORT_EXEMPT = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _exists(dotted: str) -> bool:
    base = ROOT.parent.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(path: Path):
    """(line, imported module, function-local?) for every soma import in ``path``."""
    me = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                package = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                module = ".".join(package + ([module] if module else []))
            # ``from soma import nn`` imports the subpackage soma.nn, not the facade.
            targets = [
                f"{module}.{a.name}" if _exists(f"{module}.{a.name}") else module
                for a in node.names
            ]
        else:
            continue
        for target in targets:
            if target == "soma" or target.startswith("soma."):
                yield node, target, id(node) in local


def _layer(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def _files():
    return sorted(ROOT.rglob("*.py"))


def test_every_top_level_name_has_a_layer():
    names = {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
    names |= {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert names <= set(RANK), f"give these a layer in RANK: {sorted(names - set(RANK))}"


def test_no_module_imports_from_a_layer_above_it():
    upward, used = [], set()
    for path in _files():
        me = _module_name(path)
        for node, target, _ in _imports(path):
            if RANK[_layer(target)] <= RANK[_layer(me)]:
                continue
            if (me, target) in EXCEPTIONS:
                used.add((me, target))
                continue
            upward.append(f"{me}:{node.lineno} imports {target}")
    assert not upward, "imports pointing up the layers:\n" + "\n".join(upward)
    assert used == set(EXCEPTIONS), f"exceptions no longer needed: {set(EXCEPTIONS) - used}"


def test_layers_of_the_same_rank_form_no_cycle():
    edges = {}
    for path in _files():
        me = _layer(_module_name(path))
        for _, target, _ in _imports(path):
            other = _layer(target)
            if other != me and RANK[other] == RANK[me]:
                edges.setdefault(me, set()).add(other)
    cycles = [(a, b) for a, targets in edges.items() for b in targets if a in edges.get(b, ())]
    assert not cycles, f"layers importing each other: {cycles}"


def test_every_lazy_import_says_why():
    """A function-local import guards a cycle or an optional dependency: a comment on its line
    or on one of the three lines above says which."""
    silent = []
    for path in _files():
        if path.name in LAZY_IMPORT_EXEMPT:
            continue
        with tokenize.open(path) as f:
            tokens = list(tokenize.generate_tokens(f.readline))
        comments = {t.start[0] for t in tokens if t.type == tokenize.COMMENT}
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    lines = range(node.lineno - 3, node.end_lineno + 1)
                    if not comments.intersection(lines):
                        silent.append(f"{_module_name(path)}:{node.lineno}")
    assert not silent, "function-local imports without a comment saying why:\n" + "\n".join(
        sorted(set(silent))
    )
