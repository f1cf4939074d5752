from __future__ import annotations

import pytest

from tests.infrastructure import Endpoints, endpoints


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(f"/{kind}/" in str(item.path) for kind in ("integration", "e2e", "faults")):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def infra() -> Endpoints:
    with endpoints() as found:
        yield found
