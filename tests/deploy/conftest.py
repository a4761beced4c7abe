"""Tests marked `deploy_package` read what `make deploy-check` built (XANADU_DEPLOY_CHECK_DIR); in a
plain `make test` they are skipped with that reason, because packaging takes a minute per stage."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "deploy_package: needs the packaged stages (make deploy-check)")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if os.environ.get("XANADU_DEPLOY_CHECK_DIR"):
        return
    skip = pytest.mark.skip(reason="reads the packaged stages: run `make deploy-check`")
    for item in items:
        if "deploy_package" in item.keywords:
            item.add_marker(skip)


def deploy_stages() -> list[str]:
    return os.environ.get("XANADU_DEPLOY_CHECK_STAGES", "dev,prod").split(",")


class Packaged:
    """One stage's outputs: Chalice+infra template, the transformed template, zips, stage config."""

    def __init__(self, stage: str):
        self.stage = stage
        self.dir = Path(os.environ["XANADU_DEPLOY_CHECK_DIR"]) / stage
        self.template: dict[str, Any] = yaml.safe_load((self.dir / "sam.yaml").read_text())
        self.transformed: dict[str, Any] = json.loads((self.dir / "transformed.json").read_text())
        self.manifest: dict[str, Any] = json.loads((self.dir / "manifest.json").read_text())
        from devtools.package import stage_config

        self.config = stage_config(stage)

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def functions(self) -> dict[str, dict[str, Any]]:
        return {n: r for n, r in self.resources.items() if r["Type"] == "AWS::Serverless::Function"}

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {n: r for n, r in self.transformed["Resources"].items() if r["Type"] == kind}


@pytest.fixture(scope="module", params=deploy_stages())
def packaged(request: Any) -> Packaged:
    return Packaged(request.param)
