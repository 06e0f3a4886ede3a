"""``soma launch -n N -- COMMAND …``: start COMMAND as an N-process MPI job.

A convenience over ``mpiexec -n N COMMAND …`` that finds the ``mpiexec`` installed with the
``dist`` extra (beside this Python) and says what to do when it is missing. On a cluster,
``--hostfile FILE`` lists the machines (one per line, ``host:slots``), passed to MPICH's
``mpiexec -f``.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path


def find_mpiexec() -> str:
    """The ``mpiexec`` next to this Python (the MPICH wheel's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec")
    if found is None:
        raise RuntimeError(
            "soma launch: mpiexec not found; install the dist extra (pip install 'soma[dist]', "
            "which brings MPICH's mpiexec) or put an MPI installation's mpiexec on PATH"
        )
    return found


def launch_command(processes: int, command: list, hostfile: str | None = None) -> list:
    """The ``mpiexec`` command line that runs ``command`` in ``processes`` processes."""
    if not command:
        raise ValueError(
            "soma launch: give the command to run after --, e.g. "
            "soma launch -n 2 -- soma train --model lenet5 --data digits"
        )
    line = [find_mpiexec(), "-n", str(processes)]
    if hostfile is not None:
        if not os.path.isfile(hostfile):
            raise FileNotFoundError(f"soma launch: hostfile {hostfile!r} does not exist")
        line += ["-f", hostfile]
    return line + list(command)


def launch(processes: int, command: list, hostfile: str | None = None) -> int:
    """Run ``command`` as an MPI job of ``processes`` ranks; return its exit code."""
    return subprocess.call(launch_command(processes, command, hostfile))
