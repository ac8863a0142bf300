"""The step executor: steps fork from a server that has imported what a step needs
(``forkserver_executor`` is exercised by every multiprocess run of the topology tests)."""

import importlib

import pytest

from bh_pricing.execution import STEP_PROCESS_MODULES


@pytest.mark.parametrize("module", STEP_PROCESS_MODULES)
def test_every_preloaded_module_imports(module: str) -> None:
    # multiprocessing's forkserver skips a preload that fails to import: a name moved by an
    # upgrade would only make every step slower, so it must fail here instead.
    importlib.import_module(module)
