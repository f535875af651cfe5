"""Verifies delivered webhooks with the public Standard Webhooks library.

Reads JSON from stdin: [{"secret": "whsec_…", "headers": {...}, "body": "..."}] and
verifies each request with `standardwebhooks.Webhook(secret).verify(body, headers)`,
which checks the signature and that the timestamp is within five minutes. Prints the
number verified; exits non-zero on the first request that does not verify.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook

requests = json.load(sys.stdin)
for i, request in enumerate(requests):
    try:
        Webhook(request["secret"]).verify(request["body"], request["headers"])
    except Exception as error:  # the library raises WebhookVerificationError
        sys.exit(f"request {i} does not verify with its secret: {error!r}")
print(f"verified {len(requests)}")
