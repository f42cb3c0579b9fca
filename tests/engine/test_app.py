"""lab.yaml's `apps:` entries: what an app may deploy where, and exact messages when not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.engine.app import AppSpecError, parse_app

CASES = yaml.safe_load((Path(__file__).parents[1] / "fixtures/app/destinations.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_destinations(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(AppSpecError) as caught:
            parse_app(case["app"])
        assert str(caught.value) == case["error"]
        return
    spec = parse_app(case["app"])
    assert spec.namespace == case["namespace"]
    assert list(spec.allow_namespaces) == case["allow"]
    # What lab.yaml gets back says the same.
    assert parse_app(spec.as_dict()) == spec
