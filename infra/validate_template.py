#!/usr/bin/env python3
"""Validates template.yaml the way CloudFormation would see it: the SAM transform is run
offline (aws-sam-translator), then the resulting CloudFormation is checked by cfn-lint,
informational rules included.
A wrong !GetAtt, runtime or event property fails here, not at deploy time."""

import json
import logging
import os
import subprocess
import sys
import tempfile

from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

import template as cfn

# The transform's feature-toggle notices ("Feature '…' not available") are not findings.
logging.getLogger("samtranslator").setLevel(logging.ERROR)

# The only AWS managed policies the transform attaches to our functions.
MANAGED = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSLambdaSQSQueueExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


def packaged(sam):
    """What `sam package` does before the transform: local code becomes an S3 object."""
    function_globals = sam.get("Globals", {}).get("Function", {})
    for name, resource in sam["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            code = resource.get("Properties", {}).get("CodeUri", function_globals.get("CodeUri"))
            if isinstance(code, str) and not code.startswith("s3://"):
                resource.setdefault("Properties", {})["CodeUri"] = f"s3://sam-artifacts/{name}.zip"
    function_globals.pop("CodeUri", None)


def main():
    args = sys.argv[1:]
    # `--out PATH`: keep the transformed template there (for checkov, `make checkov`).
    keep = None
    if "--out" in args:
        at = args.index("--out")
        keep = args[at + 1]
        del args[at : at + 2]
    path = args[0] if args else "template.yaml"
    sam = cfn.load(path)
    packaged(sam)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translated = Translator(MANAGED, Parser()).translate(
        sam_template=sam, parameter_values={}, get_managed_policy_map=lambda: MANAGED
    )
    kinds = sorted({r["Type"] for r in translated["Resources"].values()})
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(translated, out, indent=1)
    # Informational rules too (explicit deletion policies on stateful resources, ...).
    cfn_lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    lint = subprocess.run([cfn_lint, "--include-checks", "I", "--", out.name])
    if lint.returncode != 0:
        sys.exit(f"cfn-lint found problems in the transformed template ({out.name})")
    if keep:
        os.replace(out.name, keep)
    else:
        os.unlink(out.name)
    print(f"template.yaml: SAM transform ok, cfn-lint clean ({len(translated['Resources'])} resources: {', '.join(kinds)})")


if __name__ == "__main__":
    main()
