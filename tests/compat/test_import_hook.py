"""``soma run`` / ``install_as_torch``: ``torch`` and its submodules resolve to soma, never to
PyTorch, and a missing name says so. Each check runs in a fresh interpreter (the test process
has the real PyTorch imported)."""

import os
import subprocess
import sys
import textwrap

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "src")
SRC = os.path.abspath(SRC)


def _python(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, cwd=cwd
    )


def _script(tmp_path, code, name="prog.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return str(path)


RESOLVES = """
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torch.optim.lr_scheduler
import torch.utils.data
import torch.autograd
import torch.nn.init
import torch.nn.utils
import torch.backends.cudnn as cudnn
import torch.cuda
import torch.accelerator
import torch.serialization
import torch.nn.parallel
import torch.amp
from torch.utils.data import DataLoader
from torch.nn.modules.linear import Linear
import soma

checks = {
    "torch.nn.Linear": nn.Linear is soma.nn.Linear is Linear,
    "F.relu": F.relu is soma.nn.functional.relu,
    "optim.SGD": optim.SGD is soma.optim.SGD,
    "StepLR": torch.optim.lr_scheduler.StepLR is soma.optim.lr_scheduler.StepLR,
    "DataLoader": DataLoader is soma.data.DataLoader,
    "autograd.grad": torch.autograd.grad is soma.autograd.grad,
    "init": torch.nn.init.xavier_uniform_ is soma.nn.init.xavier_uniform_,
    "clip": torch.nn.utils.clip_grad_norm_ is soma.nn.utils.clip_grad_norm_,
    "cuda": torch.cuda.is_available() is False and torch.cuda.device_count() == 0,
    "accelerator": torch.accelerator.is_available() is False,
    "serialization": torch.serialization.add_safe_globals
        is soma.serialization.add_safe_globals,
    "DataParallel": torch.nn.parallel.DataParallel is soma.nn.DataParallel,
    "same alias": sys.modules["torch.nn"] is torch.nn is nn,
    "Tensor": torch.Tensor is soma.Tensor and isinstance(torch.ones(2), torch.Tensor),
    "submodule by attribute": torch.testing.assert_close is __import__(
        "soma.testing").testing.assert_close,
    "version": torch.version.cuda is None,
}
cudnn.benchmark = True
checks["cudnn flag"] = soma.backends.cudnn.benchmark is True
soma.backends.cudnn.benchmark = False
torch_files = [m for m in sys.modules.values()
               if "site-packages/torch/" in (getattr(m, "__file__", None) or "")]
checks["no real torch module"] = not torch_files
print(sorted(k for k, ok in checks.items() if not ok))
print(sys.argv[1:])
"""


def test_soma_run_resolves_every_torch_module_to_soma(tmp_path):
    done = _python("-m", "soma.cli", "run", _script(tmp_path, RESOLVES), "--lr", "0.1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "['--lr', '0.1']"]


def test_python_dash_m_soma_run_is_the_same(tmp_path):
    done = _python("-m", "soma.run", _script(tmp_path, RESOLVES))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "[]"


def test_install_as_torch_in_a_program(tmp_path):
    code = "import soma\nsoma.install_as_torch()\n" + RESOLVES
    done = _python(_script(tmp_path, code))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "[]"


MISSING = """
import torch
for attempt in ("torch.no_such_function", "torch.nn.NoSuchLayer"):
    try:
        eval(attempt)
    except AttributeError as error:
        print(error)
for stmt in ("from torch import no_such_name", "import torch.no_such_module",
             "from torch.nn import NoSuchLayer"):
    try:
        exec(stmt)
    except ImportError as error:
        print(error)
print(hasattr(torch, "no_such_function"), hasattr(torch, "relu"))
"""


def test_missing_names_say_soma_does_not_implement_them(tmp_path):
    done = _python("-m", "soma.run", _script(tmp_path, MISSING))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "soma does not implement torch.no_such_function yet",
        "soma does not implement torch.nn.NoSuchLayer yet",
        "soma does not implement torch.no_such_name yet",
        "soma does not implement torch.no_such_module yet",
        "soma does not implement torch.nn.NoSuchLayer yet",
        "False True",
    ]


def test_exit_status_and_traceback_are_the_scripts(tmp_path):
    failing = _script(tmp_path, "import torch\ntorch.ones(2, 3) @ torch.ones(2, 3)\n")
    done = _python("-m", "soma.run", failing)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "matmul" in done.stderr
    done = _python("-m", "soma.run", _script(tmp_path, "raise SystemExit(3)\n", "exit.py"))
    assert done.returncode == 3
    done = _python("-m", "soma.run", str(tmp_path / "absent.py"))
    assert done.returncode == 2 and "no such file" in done.stderr


def test_run_a_module_with_dash_m(tmp_path):
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "train.py").write_text(
        "import sys, torch\nprint(type(torch.zeros(1)).__module__, sys.argv[1:])\n"
    )
    done = _python("-m", "soma.run", "-m", "mypkg.train", "x", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "soma.autograd.tensor ['x']"


def test_install_after_the_real_pytorch_is_refused(tmp_path):
    code = """
    import importlib.util, soma
    if importlib.util.find_spec("torch") is None:
        print("no torch")
    else:
        import torch
        try:
            soma.install_as_torch()
        except ImportError as error:
            print("refused:", "already imported" in str(error))
    """
    done = _python(_script(tmp_path, code))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("refused: True", "no torch")


def test_uninstall_restores_plain_imports(tmp_path):
    code = """
    import sys, soma
    soma.install_as_torch()
    import torch.nn
    from soma.compat import uninstall_torch, is_installed
    uninstall_torch()
    print(is_installed(), [m for m in sys.modules if m == "torch" or m.startswith("torch.")])
    """
    done = _python(_script(tmp_path, code))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False []"


def test_reprs_name_torch_while_soma_runs_as_torch(tmp_path):
    """A program printing shapes and tensors prints what it prints under PyTorch."""
    code = """
    import soma
    print(soma.zeros(2, 3).shape, soma.zeros(1, dtype=soma.float64))
    soma.install_as_torch()
    import torch
    print(torch.zeros(2, 3).shape, torch.zeros(1, dtype=torch.float64))
    from soma.compat import uninstall_torch
    uninstall_torch()
    print(soma.zeros(2).shape)
    """
    done = _python(_script(tmp_path, code))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "soma.Size([2, 3]) tensor([0.], dtype=soma.float64)",
        "torch.Size([2, 3]) tensor([0.], dtype=torch.float64)",
        "soma.Size([2])",
    ]


def test_a_seeded_tutorial_prints_what_pytorch_prints():
    # the same script, run by PyTorch and by `soma run`: identical stdout, byte for byte
    import pytest

    pytest.importorskip("torch")
    script = os.path.join(os.path.dirname(__file__), "scripts", "seeded_tutorial.py")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with_torch = subprocess.run(
        [sys.executable, script], capture_output=True, text=True, timeout=300, env=env
    )
    with_soma = _python("-m", "soma.run", script)
    assert with_torch.returncode == 0, with_torch.stderr
    assert with_soma.returncode == 0, with_soma.stderr
    assert "grad_fn=<NllLossBackward0>" in with_soma.stdout
    assert with_soma.stdout == with_torch.stdout
