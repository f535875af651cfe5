"""The template check must fail on the mistakes it exists to catch, and pass on ours."""

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


if __name__ == "__main__":
    unittest.main()
