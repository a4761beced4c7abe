"""`make deploy-check`: the offline proof that every deployed stage deploys and works (issue 8, point 13).

    python -m devtools.deploy_check [--stages dev,prod] [--out .var/deploy-check]

For each stage: package (devtools.package, plus a cp311 twin of the zip for this machine's Python),
cfn-lint the SAM template with zero errors and zero warnings, run the SAM transform (the same
translator CloudFormation uses) so every reference must resolve, cfn-lint the transformed template
too; then the tests in tests/deploy marked `deploy_package` run against those outputs: structure of
each point of issue 8, least privilege against the calls the code makes, and the unzipped package
serving API Gateway, SQS, schedule and custom-resource events under an isolated interpreter.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOYED_STAGES = ("dev", "prod")
OFFLINE_CODE_URI = "s3://xanadu-offline-check/deployment.zip"


def cfn_lint(path: Path) -> str:
    """cfn-lint's findings (errors and warnings alike); empty means clean."""
    done = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode not in (0, 2, 4, 6, 8, 10, 12, 14):
        raise RuntimeError(f"cfn-lint failed to run: {done.stdout}")
    return done.stdout.strip()


def sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's view of the template after `aws cloudformation package` and the SAM transform."""
    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = OFFLINE_CODE_URI  # what `cloudformation package` writes

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    return transform(packaged, {}, NoManagedPolicies())


def check_stage(stage: str, out: Path) -> dict[str, Any]:
    from devtools.package import package

    started = time.monotonic()
    manifest = package(stage, out, local_twin=True)
    template = yaml.safe_load((out / "sam.yaml").read_text())
    lint = cfn_lint(out / "sam.yaml")
    translated = sam_transform(template)
    (out / "transformed.json").write_text(json.dumps(translated, indent=1))
    lint_transformed = cfn_lint(out / "transformed.json")
    return {"stage": stage, "seconds": round(time.monotonic() - started, 1), "zip_bytes": manifest["zip_bytes"],
            "cfn_lint": lint or "clean", "cfn_lint_transformed": lint_transformed or "clean",
            "resources": len(translated["Resources"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stages", default=",".join(DEPLOYED_STAGES))
    parser.add_argument("--out", type=Path, default=ROOT / ".var" / "deploy-check")
    parser.add_argument("--no-tests", action="store_true")
    args = parser.parse_args(argv)
    failed = False
    for stage in args.stages.split(","):
        report = check_stage(stage, args.out / stage)
        print(json.dumps(report))
        failed |= report["cfn_lint"] != "clean" or report["cfn_lint_transformed"] != "clean"
    if failed:
        print("cfn-lint reported findings (see above)", file=sys.stderr)
        return 1
    if args.no_tests:
        return 0
    env = {**os.environ, "XANADU_DEPLOY_CHECK_DIR": str(args.out), "XANADU_DEPLOY_CHECK_STAGES": args.stages}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/deploy", "-m", "deploy_package"],
                          cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
