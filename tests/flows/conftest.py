from __future__ import annotations

import pytest

from q2c_simulators.kernel.serving import build_simulators


@pytest.fixture
def sims():
    return build_simulators(seed=7)
