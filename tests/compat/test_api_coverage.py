"""``tools/api_coverage.py`` counts what it says, and ``docs/API_COVERAGE.md`` carries its table."""

import importlib.util
import os

import pytest

import soma

torch = pytest.importorskip("torch")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        "api_coverage", os.path.join(ROOT, "tools", "api_coverage.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_add_up_and_name_real_names():
    tool = _tool()
    rows = {r["namespace"]: r for r in tool.coverage()}
    assert set(rows) == {torch_path for torch_path, _ in tool.NAMESPACES}
    for path, r in rows.items():
        assert r["have"] + len(r["left_out"]) + len(r["missing"]) == r["names"], path
    torch_row = rows["torch"]
    assert "tensor" not in torch_row["missing"] and "Tensor" not in torch_row["missing"]
    assert "FloatTensor" not in torch_row["missing"]  # issue 11's typed constructors
    assert "bfloat16" in torch_row["left_out"] and "quantize_per_tensor" in torch_row["left_out"]
    assert all(not hasattr(soma, n) for n in torch_row["missing"])
    assert "new_zeros" not in rows["torch.Tensor"]["missing"]
    assert "Optional" not in tool.public_names("torch.nn.functional")  # a typing import


def test_left_out_rules_never_hide_an_ordinary_op():
    tool = _tool()
    for name in ("clamp", "trace", "quantile", "nanquantile", "manual_seed", "tril", "flip"):
        assert tool.left_out_reason(name) is None, name


def test_the_doc_has_the_generated_table():
    text = open(os.path.join(ROOT, "docs", "API_COVERAGE.md")).read()
    assert "<!-- coverage:begin -->" in text and "| `torch.nn.functional` |" in text
