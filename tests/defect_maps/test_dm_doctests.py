"""The examples in the defect-map modules' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["fabmind.sim.defect_maps", "fabmind.models.defect_maps",
                                    "fabmind.reports.defect_map_plot"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
