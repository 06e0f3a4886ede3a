"""``python -m soma.run SCRIPT.py [ARGS…]``: the same as ``soma run SCRIPT.py [ARGS…]``."""

import sys

from soma.compat.runner import main

if __name__ == "__main__":
    sys.exit(main())
