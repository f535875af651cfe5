"""The template check must fail on the mistakes it exists to catch, and pass on ours."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "..", "template.yaml")


def validate(text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        return subprocess.run(
            [sys.executable, os.path.join(HERE, "validate_template.py"), f.name], capture_output=True, text=True
        ).returncode
    finally:
        os.unlink(f.name)


class TemplateValidation(unittest.TestCase):
    def setUp(self):
        with open(TEMPLATE, encoding="utf-8") as f:
            self.template = f.read()

    def broken(self, old, new):
        self.assertIn(old, self.template)
        return validate(self.template.replace(old, new, 1))

    def test_our_template_passes(self):
        self.assertEqual(validate(self.template), 0)

    def test_wrong_getatt_fails(self):
        self.assertNotEqual(self.broken("!GetAtt EventsDeadLetterQueue.Arn", "!GetAtt EventsDeadLetterQueue.Nope"), 0)

    def test_wrong_runtime_fails(self):
        self.assertNotEqual(self.broken("provided.al2023", "provided.al2099"), 0)

    def test_wrong_event_property_fails(self):
        self.assertNotEqual(self.broken("FunctionResponseTypes: [ReportBatchItemFailures]", "FunctionResponseTypes: [ReportAll]"), 0)
        self.assertNotEqual(self.broken("BatchSize: 10", "BatchSizes: 10"), 0)



class SamBuild(unittest.TestCase):
    """`sam build` (BuildMethod rust-cargolambda) builds each function from the workspace
    root by its binary name: each must name a binary the workspace has, and no two the
    same one, or two functions would ship one `bootstrap`. `make package` builds exactly
    the template's binaries."""

    def test_every_function_names_its_own_workspace_binary(self):
        import tomllib

        from template import load

        root = os.path.join(HERE, "..")
        with open(os.path.join(root, "Cargo.toml"), "rb") as f:
            members = tomllib.load(f)["workspace"]["members"]
        binaries = {}
        for member in members:
            with open(os.path.join(root, member, "Cargo.toml"), "rb") as f:
                manifest = tomllib.load(f)
            for target in manifest.get("bin", []):
                binaries[target["name"]] = manifest["package"]["name"]
            if os.path.exists(os.path.join(root, member, "src", "main.rs")):
                binaries.setdefault(manifest["package"]["name"], manifest["package"]["name"])

        functions = {
            name: resource
            for name, resource in load(TEMPLATE)["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
        }
        named = []
        for name, resource in functions.items():
            metadata = resource.get("Metadata", {})
            self.assertEqual(metadata.get("BuildMethod"), "rust-cargolambda", name)
            binary = metadata.get("BuildProperties", {}).get("Binary")
            self.assertIn(binary, binaries, f"{name}: no workspace binary {binary!r}")
            self.assertEqual(binaries[binary], binary, f"{name}: `make package` builds packages named like their binary")
            self.assertEqual(resource["Properties"].get("CodeUri", "."), ".", f"{name}: built from the workspace root")
            named.append(binary)
        self.assertEqual(len(named), len(set(named)), f"two functions share a binary: {named}")

        with open(os.path.join(root, "Makefile"), encoding="utf-8") as f:
            makefile = f.read()
        self.assertIn("Binary:", makefile, "make package reads the binaries from template.yaml")


class SamConfig(unittest.TestCase):
    """Each profile of samconfig.toml deploys: every override names a parameter of the
    template and gives it a value the template accepts."""

    def test_every_override_names_a_parameter_and_gives_an_accepted_value(self):
        import re
        import shlex
        import tomllib

        from template import load

        parameters = load(TEMPLATE)["Parameters"]
        with open(os.path.join(HERE, "..", "samconfig.toml"), "rb") as f:
            profiles = tomllib.load(f)
        self.assertIn("prod", profiles)
        for profile, commands in profiles.items():
            if not isinstance(commands, dict) or "deploy" not in commands:
                continue
            overrides = commands["deploy"]["parameters"].get("parameter_overrides", "")
            for pair in shlex.split(overrides):
                name, _, value = pair.partition("=")
                where = f"{profile}: {pair!r}"
                self.assertIn(name, parameters, where)
                self.assertNotEqual(value, "", f"{where}: SAM drops an empty value; leave the parameter out")
                declared = parameters[name]
                if "AllowedValues" in declared:
                    self.assertIn(value, [str(v) for v in declared["AllowedValues"]], where)
                if "AllowedPattern" in declared:
                    self.assertRegex(value, re.compile(declared["AllowedPattern"]), where)


class Operating(unittest.TestCase):
    """What a deployed stack must not lose, and who hears when work fails for good."""

    def setUp(self):
        from template import load

        self.doc = load(TEMPLATE)
        self.resources = self.doc["Resources"]

    def of_type(self, kind):
        return {name: r for name, r in self.resources.items() if r["Type"] == kind}

    def test_data_survives_stack_deletion_and_replacement(self):
        for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret", "AWS::Route53::HostedZone"):
            for name, resource in self.of_type(kind).items():
                self.assertEqual(resource.get("DeletionPolicy"), "Retain", name)
                self.assertEqual(resource.get("UpdateReplacePolicy"), "Retain", name)
        for name, table in self.of_type("AWS::DynamoDB::Table").items():
            self.assertIs(table["Properties"].get("DeletionProtectionEnabled"), True, name)

    def test_every_dead_letter_queue_has_an_alarm_and_every_alarm_notifies(self):
        dead_letter = {
            q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            for q in self.of_type("AWS::SQS::Queue").values()
            if "RedrivePolicy" in q["Properties"]
        }
        self.assertTrue(dead_letter)
        alarms = self.of_type("AWS::CloudWatch::Alarm")
        watched = set()
        for name, alarm in alarms.items():
            props = alarm["Properties"]
            self.assertIn({"Ref": "AlarmTopic"}, props.get("AlarmActions", []), f"{name} notifies no one")
            if props.get("MetricName") == "ApproximateNumberOfMessagesVisible":
                self.assertEqual((props["Threshold"], props["ComparisonOperator"]), (0, "GreaterThanThreshold"), name)
                for dimension in props["Dimensions"]:
                    watched.add(dimension["Value"]["Fn::GetAtt"][0])
        self.assertEqual(dead_letter - watched, set(), "dead-letter queues without a depth alarm")

    def test_the_alarm_topic_key_lets_cloudwatch_publish(self):
        # The AWS-managed alias/aws/sns key cannot be used by CloudWatch: its alarms would
        # fire and notify no one.
        key = self.resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
        self.assertEqual(set(key), {"Ref"}, "the alarm topic's key is one of this stack's")
        props = self.resources[key["Ref"]]["Properties"]
        self.assertIs(props.get("EnableKeyRotation"), True)
        granted = {
            action
            for statement in props["KeyPolicy"]["Statement"]
            if statement["Effect"] == "Allow" and statement["Principal"].get("Service") == "cloudwatch.amazonaws.com"
            for action in statement["Action"]
        }
        self.assertEqual(granted, {"kms:Decrypt", "kms:GenerateDataKey*"})

    def test_every_http_function_deploys_as_a_canary_rolled_back_on_its_errors(self):
        http = {
            name: f
            for name, f in self.of_type("AWS::Serverless::Function").items()
            if any(e["Type"] == "HttpApi" for e in f["Properties"].get("Events", {}).values())
        }
        self.assertEqual(
            set(http), {"PlatformFunction", "SettingsPagesFunction", "IdentityFunction", "OrganizationFunction"}
        )
        for name, function in http.items():
            props = function["Properties"]
            self.assertEqual(props.get("AutoPublishAlias"), "live", name)
            preference = props.get("DeploymentPreference", {})
            self.assertEqual(preference.get("Type"), "Canary10Percent5Minutes", name)
            alarm = self.resources[preference["Alarms"][0]["Ref"]]["Properties"]
            self.assertEqual(alarm["MetricName"], "Errors", name)
            self.assertEqual(alarm["Dimensions"][0]["Value"], {"Ref": name})
            # Without a role of ours, SAM attaches AWSCodeDeployRoleForLambda (on *).
            self.assertEqual(preference.get("Role"), {"Fn::GetAtt": ["DeploymentRole", "Arn"]}, name)

    def test_queue_triggers_are_bounded_and_auth_is_throttled(self):
        for name, function in self.of_type("AWS::Serverless::Function").items():
            for event in function["Properties"].get("Events", {}).values():
                if event["Type"] == "SQS":
                    concurrency = event["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency")
                    self.assertIsNotNone(concurrency, f"{name}: an SQS trigger without MaximumConcurrency")
                    # Every worker reports the records it failed; without this setting
                    # Lambda would delete them with the batch (as the local poller does).
                    self.assertIn("ReportBatchItemFailures", event["Properties"].get("FunctionResponseTypes", []), name)
        api = self.resources["HttpApi"]["Properties"]
        self.assertIn("ThrottlingRateLimit", api["DefaultRouteSettings"])
        self.assertIn("ANY /v1/auth/{proxy+}", api["RouteSettings"])

    def test_every_function_logs_json_to_a_group_of_its_own_with_retention(self):
        groups = []
        for name, function in self.of_type("AWS::Serverless::Function").items():
            logging = function["Properties"].get("LoggingConfig", {})
            self.assertEqual(logging.get("LogFormat"), "JSON", name)
            group = logging.get("LogGroup", {}).get("Ref")
            self.assertEqual(self.resources[group]["Type"], "AWS::Logs::LogGroup", name)
            self.assertIn("RetentionInDays", self.resources[group]["Properties"], group)
            groups.append(group)
        self.assertEqual(len(groups), len(set(groups)), "two functions share a log group")
        access = self.resources["HttpApi"]["Properties"]["AccessLogSettings"]
        group = access["DestinationArn"]["Fn::GetAtt"][0]
        self.assertIn("RetentionInDays", self.resources[group]["Properties"], group)
        self.assertNotIn("authorization", access["Format"].lower(), "access logs never carry credentials")

    def watched(self, namespace, metric):
        """What the alarms on `metric` watch: the resources their dimensions name."""
        named = set()
        for alarm in self.of_type("AWS::CloudWatch::Alarm").values():
            props = alarm["Properties"]
            if (props.get("Namespace"), props.get("MetricName")) == (namespace, metric):
                for dimension in props["Dimensions"]:
                    value = dimension["Value"]
                    named.add(value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0])
        return named

    def test_every_function_queue_api_and_table_is_watched(self):
        functions = set(self.of_type("AWS::Serverless::Function"))
        for metric in ("Errors", "Throttles", "Duration"):
            self.assertEqual(functions - self.watched("AWS/Lambda", metric), set(), f"functions without a {metric} alarm")
        queues = {name for name, q in self.of_type("AWS::SQS::Queue").items() if "RedrivePolicy" in q["Properties"]}
        self.assertEqual(queues - self.watched("AWS/SQS", "ApproximateAgeOfOldestMessage"), set(), "queues without an age alarm")
        for metric in ("5xx", "Latency"):
            self.assertIn("HttpApi", self.watched("AWS/ApiGateway", metric), metric)
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
            self.assertIn("SettingsTable", self.watched("AWS/DynamoDB", metric), metric)

    def test_the_custom_domain_quota_reaches_both_writers_and_alarms_at_80_percent(self):
        env = self.doc["Globals"]["Function"]["Environment"]["Variables"]
        self.assertEqual(env["CUSTOM_DOMAIN_QUOTA"], {"Ref": "CustomDomainQuota"})
        self.assertEqual(self.doc["Parameters"]["CustomDomainQuota"]["Default"], 120)
        (metric,) = [
            f["Properties"]
            for f in self.of_type("AWS::Logs::MetricFilter").values()
            if f["Properties"]["MetricTransformations"][0]["MetricName"] == "CustomDomainQuotaUsedPercent"
        ]
        self.assertEqual(metric["LogGroupName"], {"Ref": "DomainCheckLogGroup"})
        self.assertEqual(metric["MetricTransformations"][0]["MetricValue"], "$.custom_domain_quota_used_percent")
        (alarm,) = [
            a["Properties"]
            for a in self.of_type("AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("MetricName") == "CustomDomainQuotaUsedPercent"
        ]
        self.assertEqual((alarm["Threshold"], alarm["ComparisonOperator"]), (80, "GreaterThanOrEqualToThreshold"))


class ApiDomain(unittest.TestCase):
    """The API under its own name on a first deploy: a certificate (given, or requested and
    validated in the platform zone), a regional domain mapped to the HTTP API, the records
    the platform zone can hold, and the outputs an operator needs to delegate and point."""

    def setUp(self):
        from template import load

        self.doc = load(TEMPLATE)
        self.resources = self.doc["Resources"]

    def conditions(self, **params):
        from bootstrap import Stack

        stack = Stack(self.doc, "http://127.0.0.1:9")
        stack.params.update(params)
        return {name for name in self.doc["Conditions"] if stack.holds(name)}

    def created(self, **params):
        holds = self.conditions(**params)
        kinds = ("AWS::CertificateManager::Certificate", "AWS::ApiGatewayV2::DomainName", "AWS::ApiGatewayV2::ApiMapping", "AWS::Route53::RecordSet")
        return {
            name
            for name, r in self.resources.items()
            if r["Type"] in kinds and r.get("Condition", None) in holds
        }

    def test_without_a_name_the_api_has_only_its_execute_api_url(self):
        self.assertEqual(self.created(), set())

    def test_a_name_in_the_platform_zone_gets_a_certificate_validated_there_and_its_records(self):
        created = self.created(PlatformDomain="plexmcp.com", ApiDomainName="api.plexmcp.com", GatewayCnameTarget="gateway.plexmcp.com")
        self.assertEqual(created, {"ApiCertificate", "ApiDomain", "ApiDomainMapping", "ApiDomainRecord", "GatewayTargetRecord"})
        validation = self.resources["ApiCertificate"]["Properties"]["DomainValidationOptions"]
        self.assertEqual(validation, [{"DomainName": {"Ref": "ApiDomainName"}, "HostedZoneId": {"Ref": "PlatformZone"}}])

    def test_a_name_elsewhere_uses_the_given_certificate_and_gets_no_record_in_the_zone(self):
        arn = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
        created = self.created(PlatformDomain="plexmcp.com", ApiDomainName="api.example.org", ApiCertificateArn=arn, GatewayCnameTarget="gw.example.org")
        self.assertEqual(created, {"ApiDomain", "ApiDomainMapping"})
        # A deeper name is not "in" the zone either: the stack creates only direct children.
        self.assertNotIn("ApiDomainRecord", self.created(PlatformDomain="plexmcp.com", ApiDomainName="a.b.plexmcp.com", ApiCertificateArn=arn))

    def test_the_domain_serves_the_http_api_and_the_records_alias_it(self):
        domain = self.resources["ApiDomain"]["Properties"]["DomainNameConfigurations"][0]
        self.assertEqual((domain["EndpointType"], domain["SecurityPolicy"]), ("REGIONAL", "TLS_1_2"))
        mapping = self.resources["ApiDomainMapping"]["Properties"]
        self.assertEqual((mapping["ApiId"], mapping["DomainName"]), ({"Ref": "HttpApi"}, {"Ref": "ApiDomain"}))
        for record in ("ApiDomainRecord", "GatewayTargetRecord"):
            props = self.resources[record]["Properties"]
            self.assertEqual(props["HostedZoneId"], {"Ref": "PlatformZone"}, record)
            self.assertEqual(props["AliasTarget"]["DNSName"], {"Fn::GetAtt": ["ApiDomain", "RegionalDomainName"]}, record)

    def test_the_outputs_say_where_to_delegate_and_what_to_point_at(self):
        outputs = self.doc["Outputs"]
        self.assertEqual(outputs["PlatformZoneNameServers"]["Value"], {"Fn::Join": [", ", {"Fn::GetAtt": ["PlatformZone", "NameServers"]}]})
        self.assertEqual(outputs["GatewayTarget"]["Value"], {"Ref": "GatewayCnameTarget"})
        self.assertIn("ApiUrl", outputs)


class Bootstrap(unittest.TestCase):
    """The local stack resolves what the functions' environment and the queues need; an
    intrinsic it cannot resolve stops it loudly instead of becoming a string."""

    def test_an_unknown_intrinsic_fails_the_bootstrap(self):
        from bootstrap import Stack

        stack = Stack({"Resources": {}, "Parameters": {"PlatformDomain": {"Default": "plexmcp.local"}}}, "http://127.0.0.1:9")
        self.assertEqual(stack.resolve({"Ref": "PlatformDomain"}), "plexmcp.local")
        for unknown in ({"Fn::If": ["Undeclared", "a", "b"]}, {"Fn::Base64": "a"}, {"Fn::FindInMap": ["M", "a", "b"]}):
            with self.assertRaises(SystemExit) as raised:
                stack.resolve({"Variables": {"X": unknown}})
            self.assertIn("Undeclared" if "Fn::If" in unknown else next(iter(unknown)), str(raised.exception))

    def test_conditions_and_splits_resolve_as_cloudformation_does(self):
        from bootstrap import Stack

        doc = {
            "Parameters": {"Origins": {"Default": ""}},
            "Conditions": {"HasOrigins": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Origins"}, ""]}]}},
            "Resources": {},
        }
        cors = {"Fn::If": ["HasOrigins", {"AllowOrigins": {"Fn::Split": [",", {"Ref": "Origins"}]}}, {"Ref": "AWS::NoValue"}]}
        stack = Stack(doc, "http://127.0.0.1:9")
        self.assertEqual(stack.resolve({"Cors": cors, "Kept": 1}), {"Kept": 1})
        stack.params["Origins"] = "https://a.example,https://b.example"
        self.assertEqual(stack.resolve(cors), {"AllowOrigins": ["https://a.example", "https://b.example"]})

    def test_each_function_gets_its_own_environment(self):
        from bootstrap import Stack

        doc = {
            "Globals": {"Function": {"Environment": {"Variables": {"TABLE_NAME": "t"}}}},
            "Resources": {
                "Reads": {"Type": "AWS::Serverless::Function", "Properties": {"Environment": {"Variables": {"DATA_KEY_SECRET_ARN": "arn:k"}}}},
                "Plain": {"Type": "AWS::Serverless::Function", "Properties": {}},
            },
        }
        functions = Stack(doc, "http://127.0.0.1:9").stack_file()["functions"]
        self.assertEqual(functions["Reads"], {"TABLE_NAME": "t", "DATA_KEY_SECRET_ARN": "arn:k"})
        self.assertEqual(functions["Plain"], {"TABLE_NAME": "t"})


class LeastPrivilege(unittest.TestCase):
    """Over the template as CloudFormation gets it (after the SAM transform): every
    function has a role of its own whose statements each name their resources — no
    managed policy (SAM's defaults grant logs and SQS on every resource), no `*` but for
    X-Ray, which takes no other."""

    @classmethod
    def setUpClass(cls):
        from samtranslator.parser.parser import Parser
        from samtranslator.translator.translator import Translator

        import template as cfn
        from validate_template import MANAGED, packaged

        sam = cfn.load(TEMPLATE)
        packaged(sam)
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        cls.resources = Translator(MANAGED, Parser()).translate(
            sam_template=sam, parameter_values={}, get_managed_policy_map=lambda: MANAGED
        )["Resources"]

    def test_no_managed_policy_and_no_wildcard_resource_but_xray(self):
        roles = {n: r for n, r in self.resources.items() if r["Type"] == "AWS::IAM::Role"}
        self.assertTrue(roles)
        for name, role in roles.items():
            self.assertNotIn("ManagedPolicyArns", role["Properties"], name)
            for policy in role["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    if "*" in resources:
                        self.assertTrue(all(a.startswith("xray:") for a in actions), f"{name}: {actions} on *")
                    for action in actions:
                        self.assertNotIn("*", action.split(":", 1)[1], f"{name}: wildcard action {action}")

    def test_no_key_is_in_an_environment_and_only_the_functions_that_use_the_keys_read_them(self):
        functions = {n: r for n, r in self.resources.items() if r["Type"] == "AWS::Lambda::Function"}
        readers = set()
        for name, function in functions.items():
            env = function["Properties"].get("Environment", {}).get("Variables", {})
            self.assertNotIn("DATA_KEY", env, name)
            self.assertNotIn("resolve:secretsmanager", json.dumps(env), name)
            if "DATA_KEY_SECRET_ARN" in env:
                self.assertEqual(env["DATA_KEY_SECRET_ARN"], {"Ref": "DataKeySecret"}, name)
                readers.add(name)
        # The functions that seal, pepper or sign (shared's `secrets-manager` feature).
        self.assertEqual(readers, {"IdentityFunction", "OrganizationFunction", "WebhookDeliveryFunction"})
        for name, function in functions.items():
            role = self.resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
            reads = [
                statement["Resource"]
                for policy in role["Properties"].get("Policies", [])
                for statement in policy["PolicyDocument"]["Statement"]
                if "secretsmanager:GetSecretValue" in statement["Action"]
            ]
            self.assertEqual(reads, [{"Ref": "DataKeySecret"}] if name in readers else [], name)

    def test_every_function_runs_with_a_role_of_its_own(self):
        functions = {n: r for n, r in self.resources.items() if r["Type"] == "AWS::Lambda::Function"}
        roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
        self.assertEqual(len(roles), len(set(roles)), "two functions share a role")
        for role in roles:
            self.assertEqual(self.resources[role]["Type"], "AWS::IAM::Role")

    def test_the_settings_pages_may_write_their_logs_and_traces_and_nothing_else(self):
        function = self.resources["SettingsPagesFunction"]["Properties"]
        role = self.resources[function["Role"]["Fn::GetAtt"][0]]
        actions = {
            action
            for policy in role["Properties"]["Policies"]
            for statement in policy["PolicyDocument"]["Statement"]
            for action in statement["Action"]
        }
        self.assertEqual(
            actions, {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
        )


if __name__ == "__main__":
    unittest.main()
