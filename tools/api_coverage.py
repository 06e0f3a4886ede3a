"""Which of PyTorch's public names soma has, namespace by namespace.

    python tools/api_coverage.py                 # the table, on stdout
    python tools/api_coverage.py --missing       # and every missing name
    python tools/api_coverage.py --write docs/API_COVERAGE.md --write docs/INTEROP.md

Needs PyTorch installed (it is the list of names). A namespace's public names are its
``__all__`` where it has one, else its attributes not starting with ``_`` that PyTorch itself
defines (imports such as ``typing.Optional`` do not count); submodules are not names. A name
soma lacks is either *left out on purpose* (it matches a rule in ``LEFT_OUT``, with the reason)
or *missing* (work still to do). Coverage = soma's names / (PyTorch's names − left out).
"""

import argparse
import importlib
import inspect
import os
import re
import sys
import types

NAMESPACES = [
    ("torch", "soma"),
    ("torch.Tensor", "soma.Tensor"),
    ("torch.nn", "soma.nn"),
    ("torch.nn.functional", "soma.nn.functional"),
    ("torch.optim", "soma.optim"),
    ("torch.optim.lr_scheduler", "soma.optim.lr_scheduler"),
    ("torch.nn.init", "soma.nn.init"),
    ("torch.utils.data", "soma.utils.data"),
    ("torch.autograd", "soma.autograd"),
]

# (regular expression on the name, why soma leaves such names out)
LEFT_OUT = [
    (
        r"cuda|cudnn|miopen|mkldnn|mps|xpu|hip|vulkan|ipu|mtia|hpu|fbgemm|nnpack|xnnpack|onednn"
        r"|pin_memory|is_pinned|record_stream",
        "device-specific backends (soma runs on NumPy)",
    ),
    (r"quantiz|qint|quint|^q_|qscheme|qconfig|int_repr|fake_", "quantization"),
    (
        r"complex|conj|imag|^real$|angle|polar|view_as_real|chalf|cfloat|cdouble|is_neg$"
        r"|resolve_neg",
        "complex numbers",
    ),
    (
        r"bfloat16|float8|uint16|uint32|uint64|int1$|int2$|int3$|int4$|int5$|int6$|int7$"
        r"|uint[1-7]$|bits|BFloat16|Float8",
        "dtypes NumPy does not have",
    ),
    (
        r"csr|csc|bsr|bsc|crow_|ccol_|row_indices|col_indices|sparse_mask|_coalesced|coalesce"
        r"|sparse_dim|dense_dim|to_sparse_|smm|hspmm|sspaddmm|saddmm",
        "compressed sparse layouts",
    ),
    (
        r"storage|Storage|data_ptr|share_memory|is_shared|set_$|is_set_to|"
        r"as_strided|_unsafe|unsafe_|dim_order|is_nonoverlapping|resize|strided|layout",
        "storage and strided views (memory formats and stride() are in)",
    ),
    (r"names|rename|refine_names|align_to|align_as", "named tensors (a PyTorch prototype)"),
    (r"nested", "nested tensors"),
    (
        r"jit|compile|^fx$|export|script|vmap|functorch|_dynamo|guard|symbolic|^Sym"
        r"|sym_|is_inference$|library|^ops$|^classes$|compiled_with|TypedStorage",
        "compilers, tracing and operator registration",
    ),
    (
        r"Type$|^Script|^(AliasDb|Argument|ArgumentSpec|Block|CallStack|Capsule|Code|"
        r"CompilationUnit|CompleteArgumentSpec|ConcreteModuleType\w*|DeepCopyMemoTable|"
        r"DispatchKey\w*|ErrorReport|ExcludeDispatchKeyGuard|ExecutionPlan|FileCheck|"
        r"FunctionSchema|Future|Gradient|Graph|GraphExecutorState|InferredType|LiteScriptModule|"
        r"LockingLogger|Node|NoopLogger|OperatorInfo|PyTorchFile\w+|StaticModule|Tag|"
        r"TracingState|Use|Value|AggregationType|AVG|SUM|Benchmark\w+|DisableTorchFunction\w*|"
        r"JITException|FatalError|BufferDict|ModuleDict|ParameterDict)$",
        "TorchScript's IR and runtime classes",
    ),
    (
        r"^native_|batch_norm_|^fused_|_fused|^cudnn_|^miopen_|embedding_renorm|conv_tbc"
        r"|_backward$|_jvp$|_out$|^slow_conv|thnn|^rrelu_with|^mkldnn|^to_padded|"
        r"segment_reduce|^choose_qparams|^constant_pad_nd|^batch_norm_elemt|_copy$",
        "ATen internals PyTorch's bindings expose (not user API)",
    ),
    (
        r"distributed|rpc|DistributedDataParallel|DistributedSampler|get_worker_info|"
        r"StackDataset|DataLoader2|datapipes|IterDataPipe|MapDataPipe",
        "distributed and data pipes",
    ),
    (
        r"deterministic|warn_always|set_flush_denormal|set_vital|vitals|autocast|^amp$"
        r"|use_deterministic|float32_matmul_precision|num_interop|set_num_threads|"
        r"get_device_module|is_anomaly|anomaly|profil|forward_ad|"
        r"DeviceType|Stream|Event|tensor_split|lobpcg|pca_lowrank|svd_lowrank",
        "process-wide switches and profiling",
    ),
]


# names PyTorch keeps only for old code, per namespace (the reason is the same for all)
DEPRECATED = {
    "torch.nn.init": "constant dirac eye kaiming_normal kaiming_uniform normal orthogonal sparse "
    "uniform xavier_normal xavier_uniform".split(),
    "torch.autograd": ["Variable", "variable", "NestedIOFunction"],
    "torch.utils.data": ["DataChunk", "functional_datapipe", "argument_validation",
                         "runtime_validation", "runtime_validation_disabled"],
}  # fmt: skip
DEPRECATED_REASON = "deprecated aliases and data-pipe plumbing PyTorch keeps for old code"

# helpers PyTorch's modules expose without documenting them as API
PLUMBING = re.compile(
    r"^(handle_torch_function|has_torch_function\w*|boolean_dispatch|assert_int_or_pair"
    r"|BroadcastingList\d|reproducibility_notes|sparse_support_notes|tf32_notes)$"
)


def public_names(path: str) -> list:
    owner = _resolve(path)
    names = getattr(owner, "__all__", None) if isinstance(owner, types.ModuleType) else None
    if names is None:
        names = [n for n in dir(owner) if not n.startswith("_")]
    kept = []
    for name in names:
        try:
            value = getattr(owner, name)
        except Exception:  # noqa: BLE001  (a lazy attribute that fails is not a usable name)
            continue
        if isinstance(value, types.ModuleType) or PLUMBING.match(name):
            continue
        if (
            not hasattr(owner, "__all__")
            and not callable(value)
            and isinstance(owner, types.ModuleType)
        ):
            continue  # constants and notes (TYPE_CHECKING, GRID_SAMPLE_*_MODES, ...)
        module = getattr(value, "__module__", None)
        if (
            isinstance(owner, types.ModuleType)
            and not hasattr(owner, "__all__")
            and (inspect.isclass(value) or inspect.isfunction(value) or _is_typing(value))
            and not (module or "").startswith(path)
        ):
            continue  # imported from elsewhere (typing.Optional, warnings.warn, ...)
        kept.append(name)
    return sorted(set(kept))


def _is_typing(value) -> bool:
    return getattr(value, "__module__", None) == "typing" or type(value).__module__ == "typing"


def _resolve(path: str):
    module, _, attr = path.partition(".Tensor")
    if attr == "" and path.endswith(".Tensor"):
        return importlib.import_module(module).Tensor
    return importlib.import_module(path)


def left_out_reason(name: str):
    for pattern, reason in LEFT_OUT:
        if re.search(pattern, name):
            return reason
    return None


def coverage():
    """One row per namespace: counts and the names missing / left out."""
    rows = []
    for torch_path, soma_path in NAMESPACES:
        names = public_names(torch_path)
        soma_owner = _resolve(soma_path)
        have = [n for n in names if hasattr(soma_owner, n)]
        lacking = [n for n in names if not hasattr(soma_owner, n)]
        left_out = {n: left_out_reason(n) for n in lacking if left_out_reason(n)}
        for name in DEPRECATED.get(torch_path, []):
            if name in lacking:
                left_out[name] = DEPRECATED_REASON
        missing = [n for n in lacking if n not in left_out]
        considered = len(names) - len(left_out)
        rows.append(
            {
                "namespace": torch_path,
                "names": len(names),
                "have": len(have),
                "left_out": left_out,
                "missing": missing,
                "by_name": 100.0 * len(have) / max(len(names), 1),
                "coverage": 100.0 * len(have) / max(considered, 1),
            }
        )
    return rows


def table(rows) -> str:
    lines = [
        "| namespace | PyTorch names | soma has | left out on purpose | missing "
        "| by name | coverage |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| `{r['namespace']}` | {r['names']} | {r['have']} | {len(r['left_out'])} "
            f"| {len(r['missing'])} | {r['by_name']:.0f}% | {r['coverage']:.0f}% |"
        )
    return "\n".join(lines)


def missing_lists(rows) -> str:
    out = []
    for r in rows:
        if r["missing"]:
            out.append(f"**`{r['namespace']}`** ({len(r['missing'])}): " + ", ".join(
                f"`{n}`" for n in r["missing"]
            ))  # fmt: skip
    return "\n\n".join(out)


def left_out_lists(rows) -> str:
    by_reason = {}
    for r in rows:
        for name, reason in r["left_out"].items():
            by_reason.setdefault(reason, []).append(f"{r['namespace']}.{name}")
    out = []
    for reason in [r for _, r in LEFT_OUT] + [DEPRECATED_REASON]:
        names = by_reason.get(reason)
        if names:
            shown = ", ".join(f"`{n}`" for n in names[:12])
            more = f" and {len(names) - 12} more" if len(names) > 12 else ""
            out.append(f"- **{reason}** ({len(names)}): {shown}{more}")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--missing", action="store_true", help="also list every missing name")
    parser.add_argument(
        "--write",
        metavar="FILE",
        action="append",
        default=[],
        help="update the generated part of FILE (repeatable)",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "src"))
    try:
        import torch
    except ImportError:
        print("api_coverage: needs PyTorch installed (its names are the reference)")
        return 2
    rows = coverage()
    report = table(rows)
    if args.missing:
        report += "\n\n" + missing_lists(rows)
    for path in args.write:
        _write(path, rows, torch.__version__)
    print(report)
    return 0


def _write(path, rows, version):
    """Replace the generated part of ``path``: the full report between ``coverage:begin/end``
    markers, or only the table between ``coverage-table:begin/end`` markers."""
    text = open(path).read() if os.path.exists(path) else ""
    full = (
        f"Measured with PyTorch {version} by `python tools/api_coverage.py --write "
        f"docs/API_COVERAGE.md --write docs/INTEROP.md`.\n\n{table(rows)}\n\n"
        f"### Left out on purpose\n\n{left_out_lists(rows)}\n\n"
        f"### Missing (still to do)\n\n{missing_lists(rows)}"
    )
    replaced = False
    for kind, body in (("coverage", full), ("coverage-table", table(rows))):
        begin, end = f"<!-- {kind}:begin -->", f"<!-- {kind}:end -->"
        if begin in text:
            text = text[: text.index(begin)] + f"{begin}\n{body}\n" + text[text.index(end) :]
            replaced = True
    if not replaced:
        text = text.rstrip() + f"\n\n<!-- coverage:begin -->\n{full}\n<!-- coverage:end -->\n"
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
