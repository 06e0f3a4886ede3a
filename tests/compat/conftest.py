"""The programs here (``programs/``, ``lectures/``, ``scripts/``) are scripts run in
subprocesses (with PyTorch, and through ``soma run``): pytest must not import them
(``--doctest-modules`` would run their top-level code)."""

collect_ignore = ["run_all.py"]
collect_ignore_glob = ["programs/*.py", "lectures/*.py", "scripts/*.py"]
