#!/usr/bin/env python3
"""Creates in the AWS emulator what template.yaml declares — the table (with its GSIs and
TTL), every queue (with its redrive to a DLQ), the bucket (encryption, public access
block, lifecycle), the hosted zone and the verified SES identity of `MailIdentity` — and writes the stack file the local gateway
reads: every function's environment resolved against those resources, which queue
feeds which worker, and which function runs on a schedule.

Reading the template is what keeps the local stack and AWS from drifting: a resource
or environment variable added there exists locally on the next `make run`.
"""

import argparse
import json
import os
import re
import secrets
import sys

import boto3

import template as cfn

REGION = "us-east-1"
ACCOUNT = "123456789012"


# What `!Ref AWS::NoValue` resolves to: the property is left out.
NO_VALUE = object()


class Stack:
    def __init__(self, doc, endpoint):
        self.doc = doc
        self.resources = doc.get("Resources", {})
        # A parameter (PlatformDomain) is overridden by its environment variable (PLATFORM_DOMAIN).
        self.params = {k: os.environ.get(env_name(k), v.get("Default")) for k, v in doc.get("Parameters", {}).items()}
        self.refs = {}  # logical id -> what !Ref gives
        self.arns = {}  # logical id -> what !GetAtt X.Arn gives
        self.secrets = {}  # logical id -> generated secret JSON
        kw = dict(endpoint_url=endpoint, region_name=REGION)
        self.ddb = boto3.client("dynamodb", **kw)
        self.sqs = boto3.client("sqs", **kw)
        self.s3 = boto3.client("s3", **kw)
        self.r53 = boto3.client("route53", **kw)
        self.sm = boto3.client("secretsmanager", **kw)
        self.ses = boto3.client("sesv2", **kw)
        self.apigw = boto3.client("apigatewayv2", **kw)

    def of_type(self, kind):
        return [(name, r.get("Properties", {})) for name, r in self.resources.items() if r["Type"] == kind]

    def resolve(self, value):
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg in self.params:
                    return self.params[arg]
                if arg == "AWS::Region":
                    return REGION
                return self.refs[arg]
            if key == "Fn::GetAtt":
                name, attr = arg
                if attr == "Arn":
                    return self.arns[name]
                raise SystemExit(f"bootstrap: !GetAtt {name}.{attr} has no local value")
            if key == "Fn::Sub":
                text = re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), arg)
                return re.sub(r"\{\{resolve:secretsmanager:([^:}]+)(?::SecretString(?::([^:}]+))?)?\}\}", self._secret, text)
            if key == "Fn::If":
                condition, then, otherwise = arg
                return self.resolve(then if self.holds(condition) else otherwise)
            if key == "Fn::Split":
                separator, text = arg
                return self.resolve(text).split(separator)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(self.resolve(parts))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
            if key.startswith("Fn::") or key == "Condition":
                # Never a string that looks like a value: the stack would run on nonsense.
                raise SystemExit(f"bootstrap: {key} has no local value (in {value!r}); resolve it in bootstrap.py")
        if isinstance(value, dict):
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [v for v in map(self.resolve, value) if v is not NO_VALUE]
        return value

    def holds(self, condition):
        """A condition of the template's `Conditions` (Fn::Not, Fn::And, Fn::Or, Fn::Equals of
        values, another condition by name)."""
        if isinstance(condition, str):
            if condition not in self.doc.get("Conditions", {}):
                raise SystemExit(f"bootstrap: {condition!r} is not declared in Conditions")
            return self.holds(self.doc["Conditions"][condition])
        (key, arg), = condition.items()
        if key == "Condition":
            return self.holds(arg)
        if key == "Fn::Not":
            return not self.holds(arg[0])
        if key == "Fn::And":
            return all(self.holds(c) for c in arg)
        if key == "Fn::Or":
            return any(self.holds(c) for c in arg)
        if key == "Fn::Equals":
            return self.resolve(arg[0]) == self.resolve(arg[1])
        raise SystemExit(f"bootstrap: the condition {key} has no local value; resolve it in bootstrap.py")

    def _secret(self, match):
        # A JSON key of the secret, or (without one) the whole SecretString.
        secret = next(s for name, s in self.secrets.items() if match.group(1) in (name, self.refs.get(name)))
        return secret[match.group(2)] if match.group(2) else json.dumps(secret)

    def _sub(self, name):
        if name == "AWS::Region":
            return REGION
        if name == "AWS::URLSuffix":
            return "amazonaws.com"
        if name.endswith(".Arn"):
            return self.arns[name[:-4]]
        return str(self.resolve({"Ref": name}))

    def create(self):
        for name, props in self.of_type("AWS::DynamoDB::Table"):
            self.create_table(name, props)
        queues = self.of_type("AWS::SQS::Queue")
        for name, props in queues:
            url = self.sqs.create_queue(QueueName=props.get("QueueName", name))["QueueUrl"]
            self.refs[name] = url
            self.arns[name] = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for name, props in queues:  # after all exist, so redrive targets resolve
            attrs = {k: str(props[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod") if k in props}
            if "RedrivePolicy" in props:
                attrs["RedrivePolicy"] = json.dumps(self.resolve(props["RedrivePolicy"]))
            if attrs:
                self.sqs.set_queue_attributes(QueueUrl=self.refs[name], Attributes=attrs)
        for name, props in self.of_type("AWS::S3::Bucket"):
            self.create_bucket(name, props)
        for name, props in self.of_type("AWS::Route53::HostedZone"):
            zone = self.r53.create_hosted_zone(Name=self.resolve(props["Name"]), CallerReference=name)
            self.refs[name] = zone["HostedZone"]["Id"].split("/")[-1]
        for name, props in self.of_type("AWS::SecretsManager::Secret"):
            # Generated for this local stack.
            generated = props.get("GenerateSecretString", {})
            key = generated.get("GenerateStringKey", "value")
            template = json.loads(generated.get("SecretStringTemplate", "{}"))
            self.secrets[name] = {**template, key: secrets.token_urlsafe(48)}
            # In the emulator's Secrets Manager too, where functions read it as in AWS.
            created = self.sm.create_secret(Name=f"{name}-{secrets.token_hex(4)}", SecretString=json.dumps(self.secrets[name]))
            self.refs[name] = created["ARN"]
            self.arns[name] = created["ARN"]
        # The HTTP API exists in the emulator too, so that the domain worker maps a
        # verified custom domain to it as in AWS (the local gateway serves the routes).
        for name, _ in self.of_type("AWS::Serverless::HttpApi"):
            self.refs[name] = self.apigw.create_api(Name=name, ProtocolType="HTTP")["ApiId"]
        # The SES identity mail is sent as is verified outside the stack in AWS; here the
        # emulator's SES is told it is, so it accepts what the mail worker sends.
        if self.params.get("MailIdentity"):
            self.ses.create_email_identity(EmailIdentity=self.params["MailIdentity"])

    def create_table(self, name, props):
        table = props.get("TableName", name)
        args = dict(
            TableName=table,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        )
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        self.ddb.create_table(**args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            self.ddb.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )
        self.refs[name] = table
        self.arns[name] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"

    def create_bucket(self, name, props):
        bucket = props.get("BucketName", f"{name.lower()}-local")
        self.s3.create_bucket(Bucket=bucket)
        if "BucketEncryption" in props:
            self.s3.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration={
                    "Rules": [
                        {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                        for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    ]
                }
            )
        if "PublicAccessBlockConfiguration" in props:
            self.s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
        if rules:
            self.s3.put_bucket_lifecycle_configuration(
                Bucket=bucket,
                LifecycleConfiguration={
                    "Rules": [
                        {
                            "ID": r["Id"],
                            "Status": r["Status"],
                            "Filter": {"Prefix": ""},
                            "Expiration": {"Days": r["ExpirationInDays"]},
                            **(
                                {"AbortIncompleteMultipartUpload": r["AbortIncompleteMultipartUpload"]}
                                if "AbortIncompleteMultipartUpload" in r
                                else {}
                            ),
                        }
                        for r in rules
                    ]
                },
            )
        self.refs[name] = bucket
        self.arns[name] = f"arn:aws:s3:::{bucket}"

    def stack_file(self):
        globals_env = self.doc.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        env, functions, binaries, routes, workers, schedules = {}, {}, {}, [], [], []
        for name, props in self.of_type("AWS::Serverless::Function"):
            variables = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
            # Each function's own environment, as Lambda gives it (the gateway runs each
            # function with its own); `env` is their union, for tools that need any value.
            functions[name] = {key: str(self.resolve(value)) for key, value in variables.items()}
            binary = self.resources[name].get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            if binary:
                binaries[binary] = name
            for key, value in functions[name].items():
                if env.setdefault(key, value) != value:
                    sys.exit(f"bootstrap: {key} differs between functions; `env` cannot hold both")
            for event in props.get("Events", {}).values():
                ep = event.get("Properties", {})
                if event["Type"] == "HttpApi":
                    route = {"function": name, "method": ep.get("Method", "ANY").upper(), "path": ep["Path"]}
                    # API Gateway's IAM authorizer, which the local gateway applies too.
                    if ep.get("Auth", {}).get("Authorizer") == "AWS_IAM":
                        route["authorizer"] = "AWS_IAM"
                    routes.append(route)
                elif event["Type"] == "SQS":
                    arn = self.resolve(ep["Queue"])
                    url = next(self.refs[q] for q, a in self.arns.items() if a == arn)
                    workers.append({
                        "function": name,
                        "queue_url": url,
                        "batch_size": ep.get("BatchSize", 10),
                        "batching_window_seconds": ep.get("MaximumBatchingWindowInSeconds", 0),
                        "report_failures": "ReportBatchItemFailures" in ep.get("FunctionResponseTypes", []),
                    })
                elif event["Type"] == "Schedule":
                    schedules.append({"function": name, "every_seconds": rate_seconds(ep["Schedule"])})
        # API Gateway's CORS settings, which the local gateway applies as API Gateway does.
        cors = next(
            (self.resolve(api.get("CorsConfiguration", {"Ref": "AWS::NoValue"})) for _, api in self.of_type("AWS::Serverless::HttpApi")),
            NO_VALUE,
        )
        return {
            "env": env,
            "functions": functions,
            "binaries": binaries,
            "routes": routes,
            "workers": workers,
            "schedules": schedules,
            "cors": None if cors is NO_VALUE else cors,
        }


def env_name(parameter):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", parameter).upper()


def rate_seconds(expression):
    m = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if not m:
        sys.exit(f"bootstrap: schedule {expression!r} is not a rate() the local gateway can run")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[m.group(2).rstrip("s")]
    return int(m.group(1)) * unit


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", default="template.yaml")
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    stack = Stack(cfn.load(args.template), args.endpoint)
    stack.create()
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(stack.stack_file(), f, indent=2)


if __name__ == "__main__":
    main()
