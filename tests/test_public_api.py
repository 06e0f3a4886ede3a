"""Every name that was public before the layout move (issue 10) is still public.

``public_api_v0.txt`` lists, per module, the public names soma exported before ``functional/``
was reorganised into families; a rename or a lost re-export fails here.
"""

import importlib
from pathlib import Path

import pytest

import soma

LISTING = Path(__file__).with_name("public_api_v0.txt").read_text().splitlines()
ROWS = [(line.split()[0], line.split()[1:]) for line in LISTING if line.strip()]


@pytest.mark.parametrize("where,names", ROWS, ids=[r[0] for r in ROWS])
def test_every_previously_public_name_is_still_there(where, names):
    owner = soma.Tensor if where == "Tensor" else importlib.import_module(where)
    missing = [n for n in names if not hasattr(owner, n)]
    assert not missing, f"{where} lost public names: {missing}"


def test_listing_is_not_empty():
    assert sum(len(names) for _, names in ROWS) > 800
