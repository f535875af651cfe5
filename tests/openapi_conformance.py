#!/usr/bin/env python3
"""Checks that /v1/openapi.json describes exactly what the server does, with the other
side's libraries: the document validates as OpenAPI 3.1 (openapi-spec-validator), every
exchange of a scripted client session — successes and problems — validates against it
(openapi-core: path, parameters, security, status, content type, body schema), and
every operation in the document is exercised by the session.

The same session measures what each operation costs in DynamoDB: the server counts its
calls, Scans and round trips with an SDK interceptor (`x-plexmcp-dynamodb-calls:
N;scans=S;trips=T`; calls sent side by side share a round trip), and for each operation
the most round trips any successful exchange waited for must stay within the design's
budget of 3 and no Scan — or within the recorded exception below, which says why. The
calls (what an operation costs) are recorded beside them.
`--round-trips FILE` writes the counts as JSON (for `make bench`).

Usage: openapi_conformance.py BASE_URL [--round-trips FILE]
"""

import argparse
import http.server
import json
import os
import sys
import threading
import time
import uuid

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import jsonschema
import pyotp

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_spec_validator import validate

parser = argparse.ArgumentParser()
parser.add_argument("base_url")
parser.add_argument("--round-trips", metavar="FILE")
args = parser.parse_args()
BASE = args.base_url.rstrip("/")

BUDGET = 3
# Operations allowed over the budget, with the count the session sees and why. PIN-gated
# actions run here with PIN protection on.
OVER_BUDGET = {
    ("post", "/v1/orgs/{slug}/delete"): (4, "the password's attempt is reserved on the address's login budget before argon2, which must commit before the check"),
    ("post", "/v1/orgs/{slug}/usage"): (4, "an API key's first use in a minute writes last_used_at once the read shows it due (+1); the day and month counters are two ADDs sent side by side"),
}
round_trips = {}  # (method, template) -> {"trips": max, "calls": max, "scans": total, "exchanges": n}
session = requests.Session()
spec = session.get(f"{BASE}/v1/openapi.json").json()
assert spec["openapi"].startswith("3.1"), spec["openapi"]
validate(spec)
spec["servers"] = [{"url": BASE}]
# RFC 9457 bodies are JSON too.
openapi = OpenAPI.from_dict(spec, config=Config(extra_media_type_deserializers={"application/problem+json": json.loads}))
exercised = set()
bodies = {}  # (method, template) -> the body of its first successful exchange
checked = 0


def call(method, path, token=None, body=None, expect=None, template=None, raw=None, headers=None):
    global checked
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    kwargs = {"json": body} if body is not None else {}
    if raw is not None:
        kwargs = {"data": raw}
        hdrs.setdefault("Content-Type", "application/json")
    prepared = session.prepare_request(requests.Request(method, f"{BASE}{path}", headers=hdrs, **kwargs))
    response = session.send(prepared)
    if expect is not None:
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
    openapi_request = RequestsOpenAPIRequest(prepared)
    if response.status_code < 400:
        openapi.validate_request(openapi_request)
    openapi.validate_response(openapi_request, RequestsOpenAPIResponse(response))
    checked += 1
    operation = (method.lower(), template or path.split("?")[0])
    exercised.add(operation)
    if response.status_code < 400:
        bodies.setdefault(operation, body)
        calls, rest = response.headers["x-plexmcp-dynamodb-calls"].split(";scans=")
        scans, trips = rest.split(";trips=")
        cost = round_trips.setdefault(operation, {"trips": 0, "calls": 0, "scans": 0, "exchanges": 0})
        cost["trips"] = max(cost["trips"], int(trips))
        cost["calls"] = max(cost["calls"], int(calls))
        cost["scans"] += int(scans)
        cost["exchanges"] += 1
    return response.json() if response.content else None


def iam_signed(path):
    """The headers of `GET path` signed as the gateway's IAM role signs its lookups."""
    request = AWSRequest(method="GET", url=f"{BASE}{path}")
    SigV4Auth(Credentials("local", "local"), "execute-api", "us-east-1").add_auth(request)
    return {name: value for name, value in request.headers.items() if name.lower() != "host"}


def user():
    email = f"oa-{uuid.uuid4().hex[:12]}@example.com"
    call("POST", "/v1/auth/signup", body={"email": email, "password": "correct horse battery", "name": "Spec"}, expect=202)
    login = call("POST", "/v1/auth/login", body={"email": email, "password": "correct horse battery"}, expect=200)
    return email, login["token"], login["session_id"]


def verification_token(email, mails=1):
    """The token of the newest verification mail to `email`, from the local mailbox, once
    `mails` of them arrived."""
    for _ in range(150):
        items = session.get(f"{BASE}/_local/mailbox", params={"to": email}).json()["items"]
        found = [m["token"] for m in items if m["subject"].startswith("Verify your e-mail")]
        if len(found) >= mails:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no verification mail to {email}")


call("GET", "/v1/health", expect=200)
call("GET", "/v1/openapi.json", expect=200)
email, token, session_id = user()
call("POST", "/v1/auth/signup", body={"email": email, "password": "correct horse battery", "name": "Again"}, expect=202)
call("POST", "/v1/auth/signup", body={"email": "nope", "password": "x", "name": ""}, expect=422)
call("POST", "/v1/auth/login", body={"email": email, "password": "wrong password"}, expect=401)
me = call("GET", "/v1/me", token, expect=200)
call("GET", "/v1/me", "garbage", expect=401)

slug = f"oa-{uuid.uuid4().hex[:10]}"
created = call("POST", "/v1/orgs", token, {"name": "Spec Org", "slug": slug, "description": "d"}, expect=201)
call("POST", "/v1/orgs", token, {"name": "Spec Org", "slug": slug}, expect=409)
# The gateway's lookup of the org's host name (IAM-signed), and of a name nobody has.
host_path = "/v1/hostnames/{host}"
looked_up = call("GET", f"/v1/hostnames/{created['api_hostname']}", headers=iam_signed(f"/v1/hostnames/{created['api_hostname']}"), expect=200, template=host_path)
assert looked_up == {"org_id": created["id"], "slug": slug, "status": "active"}, looked_up
call("GET", "/v1/hostnames/nobody.example.com", headers=iam_signed("/v1/hostnames/nobody.example.com"), expect=404, template=host_path)
org_path = "/v1/orgs/{slug}"
call("GET", f"/v1/orgs/{slug}", token, expect=200, template=org_path)
call("GET", "/v1/orgs/no-such-org", token, expect=404, template=org_path)
call("PATCH", f"/v1/orgs/{slug}", token, {"name": "Renamed", "description": None}, expect=200, template=org_path)
call("PATCH", f"/v1/orgs/{slug}", token, {"slug": "other"}, expect=422, template=org_path)
call("PATCH", f"/v1/orgs/{slug}", token, raw=b"{oops", expect=400, template=org_path)

other_email, other_token, _ = user()
other_id = call("GET", "/v1/me", other_token, expect=200)["id"]
members = f"/v1/orgs/{slug}/members"
invitation = call("POST", members, token, {"email": other_email, "role": "member"}, expect=201, template="/v1/orgs/{slug}/members")
invitations = f"/v1/orgs/{slug}/invitations"
call("GET", f"{invitations}?limit=5", token, expect=200, template="/v1/orgs/{slug}/invitations")
call("GET", f"{invitations}?cursor=forged", token, expect=400, template="/v1/orgs/{slug}/invitations")
call("GET", f"{invitations}/{invitation['id']}", token, expect=200, template="/v1/orgs/{slug}/invitations/{invitation_id}")
call("GET", "/v1/me/invitations", other_token, expect=200)
mine = "/v1/me/invitations/{invitation_id}"
call("POST", f"/v1/me/invitations/{invitation['id']}/accept", token, expect=404, template=mine + "/accept")
call("POST", f"/v1/me/invitations/{invitation['id']}/accept", other_token, expect=403, template=mine + "/accept")
call("POST", "/v1/me/verify-email", other_token, expect=429)
# A minute later (time moves for this one profile), a new link goes out.
def move_to_the_past(pk, sk, attribute):
    """What a client cannot do: move time for one item of the table."""
    boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local").update_item(
        TableName=os.environ["TABLE_NAME"],
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        UpdateExpression="SET #at = :past",
        ExpressionAttributeNames={"#at": attribute},
        ExpressionAttributeValues={":past": {"S": "2020-01-01T00:00:00.000Z"}},
    )


move_to_the_past(f"USER#{other_id}", "PROFILE", "verification_sent_at")
call("POST", "/v1/me/verify-email", other_token, expect=202)
call("POST", "/v1/auth/verify-email", body={"token": "pmv.usr_nope.x"}, expect=404)
call("POST", "/v1/auth/verify-email", body={"token": verification_token(other_email, mails=2)}, expect=200)
call("POST", "/v1/me/verify-email", other_token, expect=409)
call("POST", f"/v1/me/invitations/{invitation['id']}/accept", other_token, expect=200, template=mine + "/accept")
declined = call("POST", members, token, {"email": f"oa-{uuid.uuid4().hex[:12]}@example.com", "role": "viewer"}, expect=201, template="/v1/orgs/{slug}/members")
call("DELETE", f"{invitations}/{declined['id']}", token, expect=204, template="/v1/orgs/{slug}/invitations/{invitation_id}")
call("DELETE", f"{invitations}/{declined['id']}", token, expect=404, template="/v1/orgs/{slug}/invitations/{invitation_id}")
third_email, third_token, _ = user()
declined = call("POST", members, token, {"email": third_email, "role": "viewer"}, expect=201, template="/v1/orgs/{slug}/members")
call("POST", f"/v1/me/invitations/{declined['id']}/decline", third_token, expect=204, template=mine + "/decline")
call("GET", f"{members}?limit=1", token, expect=200, template="/v1/orgs/{slug}/members")
member = "/v1/orgs/{slug}/members/{user_id}"
call("PATCH", f"{members}/{other_id}", other_token, {"role": "owner"}, expect=403, template=member)
call("PATCH", f"{members}/{other_id}", token, {"role": "admin"}, expect=200, template=member)
call("GET", f"{members}/{other_id}", other_token, expect=200, template=member)
call("GET", f"{members}/usr_unknown", token, expect=404, template=member)
call("DELETE", f"{members}/{me['id']}", token, expect=409, template=member)
call("DELETE", f"{members}/{other_id}", token, expect=200, template=member)

second = call("POST", "/v1/auth/login", body={"email": email, "password": "correct horse battery"}, expect=200)
call("GET", "/v1/me/sessions", token, expect=200)
call("DELETE", f"/v1/me/sessions/{second['session_id']}", token, expect=204, template="/v1/me/sessions/{session_id}")
call("DELETE", f"/v1/me/sessions/{second['session_id']}", token, expect=404, template="/v1/me/sessions/{session_id}")
call("POST", "/v1/me/sessions/revoke-all", token, expect=200)
call("POST", "/v1/auth/logout", token, expect=204)

# Two-factor authentication, with a real authenticator library.
email, token, _ = user()
call("POST", "/v1/me/2fa/setup", token, {"password": "wrong password"}, expect=403)
setup = call("POST", "/v1/me/2fa/setup", token, {"password": "correct horse battery"}, expect=200)
totp = pyotp.parse_uri(setup["otpauth_uri"])
call("POST", "/v1/me/2fa/enable", token, {"code": "000000"}, expect=422)
enabled = call("POST", "/v1/me/2fa/enable", token, {"code": totp.at(time.time())}, expect=200)
challenge = call("POST", "/v1/auth/login", body={"email": email, "password": "correct horse battery"}, expect=200)
assert challenge["two_factor_required"] is True
call("POST", "/v1/auth/login/2fa", body={"challenge_token": challenge["challenge_token"], "code": "000000"}, expect=401)
call("POST", "/v1/auth/login/2fa", body={"challenge_token": challenge["challenge_token"], "backup_code": enabled["backup_codes"][0]}, expect=200)
regenerated = call("POST", "/v1/me/2fa/backup-codes", token, {"code": totp.at(time.time() + 30)}, expect=200)
call("POST", "/v1/me/2fa/disable", token, {"password": "correct horse battery", "backup_code": regenerated["backup_codes"][0]}, expect=204)
call("POST", "/v1/me/2fa/disable", token, {"password": "correct horse battery", "code": "123456"}, expect=409)

# PIN protection and what it guards: MCPs, API keys, billing, usage.
email, token, _ = user()
slug = f"oa-{uuid.uuid4().hex[:10]}"
guarded = call("POST", "/v1/orgs", token, {"name": "Guarded", "slug": slug}, expect=201)
org = f"/v1/orgs/{slug}"
T = "/v1/orgs/{slug}"
call("GET", f"{org}/security", token, expect=200, template=T + "/security")
call("PUT", f"{org}/security/pin", token, {"pin": "123456", "pin_confirmation": "123456"}, expect=422, template=T + "/security/pin")
call("PUT", f"{org}/security/pin", token, {"pin": "840317", "pin_confirmation": "840317"}, expect=200, template=T + "/security/pin")
pin = {"X-PlexMCP-PIN": "840317"}
mcp = call("POST", f"{org}/mcps", token, {"name": "Weather", "url": "https://weather.example.com/mcp"}, expect=201, template=T + "/mcps")
call("POST", f"{org}/mcps", token, {"name": "Bad", "url": "ftp://x"}, expect=422, template=T + "/mcps")
call("GET", f"{org}/mcps?limit=10", token, expect=200, template=T + "/mcps")
M = T + "/mcps/{mcp_id}"
call("GET", f"{org}/mcps/{mcp['id']}", token, expect=200, template=M)
call("PATCH", f"{org}/mcps/{mcp['id']}", token, {"config": {"region": "eu"}}, expect=200, template=M)
call("PUT", f"{org}/mcps/{mcp['id']}/health", token, {"status": "degraded"}, expect=200, template=M + "/health")
key = call("POST", f"{org}/api-keys", token, {"name": "CI"}, expect=201, template=T + "/api-keys")
call("GET", f"{org}/api-keys", token, expect=200, template=T + "/api-keys")
call("POST", f"{org}/usage", key["key"], {"mcp_id": mcp["id"], "requests": 5, "tokens": 9}, expect=200, template=T + "/usage")
records = [{"mcp_id": mcp["id"], "requests": 2, "tokens": 3}] * 3
call("POST", f"{org}/usage/batch", key["key"], {"records": records}, expect=200, template=T + "/usage/batch")
call("POST", f"{org}/usage/batch", key["key"], {"records": []}, expect=422, template=T + "/usage/batch")
call("GET", f"{org}/usage?from=2026-01-01&to=2026-01-31", token, expect=200, template=T + "/usage")
call("GET", f"{org}/usage?from=soon", token, expect=400, template=T + "/usage")
call("GET", f"{org}/billing", token, expect=200, template=T + "/billing")
call("PUT", f"{org}/billing", token, {"plan": "pro"}, expect=403, template=T + "/billing")
call("PUT", f"{org}/billing", token, {"plan": "pro"}, expect=200, template=T + "/billing", headers=pin)
call("DELETE", f"{org}/mcps/{mcp['id']}", token, expect=403, template=M, headers={"X-PlexMCP-PIN": "271828"})
call("DELETE", f"{org}/mcps/{mcp['id']}", token, expect=204, template=M, headers=pin)
call("DELETE", f"{org}/api-keys/{key['id']}", token, expect=204, template=T + "/api-keys/{key_id}", headers=pin)
call("DELETE", f"{org}/security/pin", token, expect=204, template=T + "/security/pin", headers=pin)

# Audit logs (the org is on Pro now) and the personal trail.
A = T + "/audit-logs"
call("GET", f"{org}/audit-logs?limit=5", token, expect=200, template=A)
call("GET", f"{org}/audit-logs?category=billing&action=billing.*&from=2026-01-01T00:00:00Z", token, expect=200, template=A)
call("GET", f"{org}/audit-logs?category=nope", token, expect=400, template=A)
verification = call("GET", f"{org}/audit-logs/verify", token, expect=200, template=A + "/verify")
assert verification["valid"] is True, verification
call("GET", "/v1/me/audit-logs?limit=3", token, expect=200)
call("POST", f"{org}/audit-logs/export", token, {"format": "json", "category": "billing"}, expect=202, template=A + "/export")
call("POST", f"{org}/audit-logs/export", token, {"format": "json", "from": "yesterday"}, expect=422, template=A + "/export")

# Data export: start, list, read until ready (with its download link).
E = T + "/exports"
job = call("POST", f"{org}/exports", token, {"format": "csv", "include": ["mcps", "usage"]}, expect=202, template=E)
call("POST", f"{org}/exports", token, {"format": "xml", "include": ["mcps"]}, expect=422, template=E)
call("GET", f"{org}/exports?limit=5", token, expect=200, template=E)
deadline = time.time() + 30
while True:
    export = call("GET", f"{org}/exports/{job['id']}", token, expect=200, template=E + "/{export_id}")
    if export["status"] not in ("pending", "running") or time.time() > deadline:
        break
    time.sleep(0.3)
assert export["status"] == "ready" and export["download_url"], export
call("GET", f"{org}/exports/exp_01JDQX3Z8E6V4W2N9KQ5M7R1TA", token, expect=404, template=E + "/{export_id}")

# The custom domain (Pro plan): set, read, check DNS (nothing published: pending), remove.
D = T + "/custom-domain"
domain = f"api-{uuid.uuid4().hex[:12]}.example.com"
call("PUT", f"{org}/custom-domain", token, {"domain": domain}, expect=200, template=D)
call("PUT", f"{org}/custom-domain", token, {"domain": "*.example.com"}, expect=422, template=D)
call("GET", f"{org}/custom-domain", token, expect=200, template=D)
checked_domain = call("POST", f"{org}/custom-domain/verify", token, expect=200, template=D + "/verify")
assert checked_domain["status"] == "pending" and checked_domain["reason"], checked_domain
call("DELETE", f"{org}/custom-domain", token, expect=204, template=D)
call("GET", f"{org}/custom-domain", token, expect=404, template=D)

# Webhook endpoints (the test stack allows loopback targets).
call("GET", "/v1/webhooks/event-types", expect=200)
W = T + "/webhooks"
hook = call("POST", f"{org}/webhooks", token, {"url": "http://127.0.0.1:9/hook", "events": ["mcp.created"]}, expect=201, template=W)
assert hook["secret"].startswith("whsec_")
call("POST", f"{org}/webhooks", token, {"url": "http://127.0.0.1:9/hook", "events": ["mcp.nope"]}, expect=422, template=W)
call("GET", f"{org}/webhooks?limit=5", token, expect=200, template=W)
H = W + "/{webhook_id}"
call("GET", f"{org}/webhooks/{hook['id']}", token, expect=200, template=H)
call("PATCH", f"{org}/webhooks/{hook['id']}", token, {"enabled": False, "description": "paused"}, expect=200, template=H)
call("POST", f"{org}/webhooks/{hook['id']}/rotate-secret", token, expect=200, template=H + "/rotate-secret")
queued = call("POST", f"{org}/webhooks/{hook['id']}/test", token, expect=409, template=H + "/test")
call("PATCH", f"{org}/webhooks/{hook['id']}", token, {"enabled": True}, expect=200, template=H)
queued = call("POST", f"{org}/webhooks/{hook['id']}/test", token, expect=202, template=H + "/test")
deadline = time.time() + 15
while True:
    logged = call("GET", f"{org}/webhooks/{hook['id']}/deliveries?limit=5", token, expect=200, template=H + "/deliveries")["items"]
    if logged or time.time() > deadline:
        break
    time.sleep(0.3)
assert logged and logged[0]["message_id"] == queued["message_id"], logged
call("POST", f"{org}/webhooks/{hook['id']}/deliveries/{logged[0]['id']}/redeliver", token, expect=202, template=H + "/deliveries/{delivery_id}/redeliver")
call("POST", f"{org}/webhooks/{hook['id']}/deliveries/dlv_01JDQX3Z8E6V4W2N9KQ5M7R1TA/redeliver", token, expect=404, template=H + "/deliveries/{delivery_id}/redeliver")

# Every event an endpoint can subscribe to, and Send Test, arrives as the document's
# `webhooks` section says: the payload's schema and the Standard Webhooks headers.
received = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        received.append((self.headers, self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
listed = call("GET", "/v1/webhooks/event-types", expect=200)
catalogue = [e["name"] for e in listed["items"] + listed["opt_in"]]
listener = call("POST", f"{org}/webhooks", token, {"url": f"http://127.0.0.1:{receiver.server_port}/events", "events": catalogue}, expect=201, template=W)
evented = call("POST", f"{org}/mcps", token, {"name": "Evented", "url": "https://evented.example.com/mcp"}, expect=201, template=T + "/mcps")
call("PATCH", f"{org}/mcps/{evented['id']}", token, {"name": "Evented again"}, expect=200, template=M)
call("PUT", f"{org}/mcps/{evented['id']}/health", token, {"status": "down"}, expect=200, template=M + "/health")
call("POST", f"{org}/usage", token, {"mcp_id": evented["id"], "requests": 25000, "tokens": 1}, expect=200, template=T + "/usage")
evented_key = call("POST", f"{org}/api-keys", token, {"name": "Evented"}, expect=201, template=T + "/api-keys")
call("DELETE", f"{org}/api-keys/{evented_key['id']}", token, expect=204, template=T + "/api-keys/{key_id}")
joining = call("POST", f"{org}/members", token, {"email": other_email, "role": "viewer"}, expect=201, template=T + "/members")
call("POST", f"/v1/me/invitations/{joining['id']}/accept", other_token, expect=200, template=mine + "/accept")
call("DELETE", f"{org}/members/{other_id}", token, expect=200, template=member)
call("DELETE", f"{org}/mcps/{evented['id']}", token, expect=204, template=M)
# The opt-in event: a pending domain whose 48 hours are over expires at its next check.
call("PUT", f"{org}/custom-domain", token, {"domain": f"api-{uuid.uuid4().hex[:12]}.example.com"}, expect=200, template=D)
move_to_the_past(f"ORG#{guarded['id']}", "CUSTOMDOMAIN", "expires_at")
assert call("POST", f"{org}/custom-domain/verify", token, expect=200, template=D + "/verify")["status"] == "expired"
call("DELETE", f"{org}/custom-domain", token, expect=204, template=D)
call("POST", f"{org}/webhooks/{listener['id']}/test", token, expect=202, template=H + "/test")
expected = set(catalogue) | {"webhook.test"}
deadline = time.time() + 30
while {json.loads(body)["type"] for _, body in received} < expected and time.time() < deadline:
    time.sleep(0.2)
arrived = {}
for headers, body in received:
    payload = json.loads(body)
    delivery = spec["webhooks"][payload["type"]]["post"]
    schema = {**delivery["requestBody"]["content"]["application/json"]["schema"], "components": spec["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(payload)
    for header in delivery["parameters"]:
        assert headers.get(header["name"]), f"{payload['type']} arrived without {header['name']}"
    arrived[payload["type"]] = arrived.get(payload["type"], 0) + 1
assert set(arrived) == expected, f"events that did not arrive: {sorted(expected - set(arrived))}"
assert set(spec["webhooks"]) == expected, sorted(spec["webhooks"])
call("DELETE", f"{org}/webhooks/{listener['id']}", token, expect=204, template=H)

# Who may call what: an operation names `api_key` in its security exactly when an org API
# key (member rights at most) may do it; every other one refuses a valid key of the org.
probe = call("POST", f"{org}/api-keys", token, {"name": "Probe"}, expect=201, template=T + "/api-keys")
owner_id = call("GET", "/v1/me", token, expect=200)["id"]
probe_mcp = call("POST", f"{org}/mcps", token, {"name": "Probe", "url": "https://probe.example.com/mcp"}, expect=201, template=T + "/mcps")
probe_invitation = call("POST", f"{org}/members", token, {"email": f"oa-{uuid.uuid4().hex[:12]}@example.com", "role": "viewer"}, expect=201, template=T + "/members")
ids = {"slug": slug, "mcp_id": probe_mcp["id"], "webhook_id": hook["id"], "delivery_id": logged[0]["id"], "export_id": job["id"],
       "key_id": probe["id"], "user_id": owner_id, "host": created["api_hostname"], "invitation_id": probe_invitation["id"], "session_id": "ses_01JDQX3Z8E6V4W2N9KQ5M7R1TA"}
queries = {"/v1/orgs/{slug}/usage": "?from=2026-01-01&to=2026-01-31"}
# A valid body (one that answered before; the deletion comes last), so what refuses is the key.
bodies.setdefault(("post", "/v1/orgs/{slug}/delete"), {"confirm_name": "Guarded", "password": "correct horse battery"})
for template, item in sorted(spec["paths"].items()):
    for method, operation in sorted(item.items()):
        schemes = {name for requirement in operation["security"] for name in requirement}
        if not schemes:
            continue  # public
        path = template.format(**ids) + queries.get(template, "")
        if "api_key" not in schemes:
            answer = session.request(method, f"{BASE}{path}", headers={"Authorization": f"Bearer {probe['key']}"}, json=bodies.get((method, template)))
            assert answer.status_code in (401, 403), f"{method} {template} says it refuses API keys but answered one {answer.status_code} {answer.text}"
        elif method == "get":
            answer = session.request(method, f"{BASE}{path}", headers={"Authorization": f"Bearer {probe['key']}"})
            assert answer.status_code not in (401, 403), f"{method} {template} says it takes API keys but answered one {answer.status_code} {answer.text}"
call("DELETE", f"{org}/webhooks/{hook['id']}", token, expect=204, template=H)
call("GET", f"{org}/webhooks/{hook['id']}", token, expect=404, template=H)

# Last: the Danger Zone deletes the org.
D = T + "/delete"
call("POST", f"{org}/delete", token, {"confirm_name": "guarded", "password": "correct horse battery"}, expect=422, template=D)
call("POST", f"{org}/delete", token, {"confirm_name": "Guarded"}, expect=422, template=D)
call("POST", f"{org}/delete", token, {"confirm_name": "Guarded", "password": "correct horse battery"}, expect=202, template=D)
call("GET", org, token, expect=404, template=T)
call("POST", f"{org}/delete", token, {"confirm_name": "Guarded", "password": "correct horse battery"}, expect=404, template=D)

documented = {(m, p) for p, item in spec["paths"].items() for m in item if m in ("get", "post", "put", "patch", "delete")}
missing = documented - exercised
undocumented = exercised - documented
assert not missing, f"operations in the document that the session did not exercise: {sorted(missing)}"
assert not undocumented, f"exchanges the document does not describe: {sorted(undocumented)}"
unmeasured = documented - set(round_trips)
assert not unmeasured, f"operations without a successful exchange to measure: {sorted(unmeasured)}"
over = []
for operation, cost in sorted(round_trips.items()):
    allowed, _ = OVER_BUDGET.get(operation, (BUDGET, ""))
    if cost["scans"] or cost["trips"] > allowed:
        over.append(f"{operation}: {cost['trips']} round trips ({cost['calls']} calls), {cost['scans']} scans (allowed {allowed}, no Scan)")
assert not over, "DynamoDB round trips over budget:\n" + "\n".join(over)
stale = [op for op, (allowed, _) in OVER_BUDGET.items() if op in round_trips and round_trips[op]["trips"] < allowed]
assert not stale, f"operations now cheaper than their recorded exception (lower it): {stale}"
if args.round_trips:
    rows = [
        {"method": m.upper(), "route": p, **cost, "budget": OVER_BUDGET.get((m, p), (BUDGET, ""))[0], "why": OVER_BUDGET.get((m, p), (0, ""))[1]}
        for (m, p), cost in sorted(round_trips.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    with open(args.round_trips, "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=1)

print(f"OpenAPI conformance: document valid; {checked} exchanges over {len(documented)} operations validated")
