"""schemathesis, a conformance tool nobody here wrote, over every operation of the
OpenAPI document, against a running stack: once with a person's session, once with an
org API key. Fails on any 5xx, any answer the document does not describe, any
schema-valid request refused or schema-invalid one accepted, and on the warnings that
mean the document misleads a client (see tests/schemathesis.toml).

Usage: schemathesis_run.py BASE_URL. Knobs: ST_MAX_EXAMPLES (per operation, default 12),
ST_SEED (default fixed, so CI replays the same cases; set another to explore).
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

BASE = sys.argv[1].rstrip("/")
HERE = Path(__file__).resolve().parent
PASSWORD = "correct horse battery"
http = requests.Session()


def call(method, path, token=None, body=None, expect=200):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = http.request(method, f"{BASE}{path}", json=body, headers=headers)
    assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def person():
    """A new account whose address is verified (with the link of its mail, read from the
    local mailbox), so it may accept invitations."""
    email = f"st-{uuid.uuid4().hex[:12]}@example.com"
    call("POST", "/v1/auth/signup", body={"email": email, "password": PASSWORD, "name": "Schemathesis"}, expect=202)
    for _ in range(150):
        mail = http.get(f"{BASE}/_local/mailbox", params={"to": email}).json()["items"]
        if mail:
            break
        time.sleep(0.1)
    assert mail, f"no verification mail to {email}"
    call("POST", "/v1/auth/verify-email", body={"token": mail[0]["token"]})
    return email, sign_in(email)


def sign_in(email):
    return call("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD})


def org(token, plan=None):
    slug = f"st-{uuid.uuid4().hex[:10]}"
    call("POST", "/v1/orgs", token, {"name": f"Schemathesis {slug}", "slug": slug}, expect=201)
    if plan:
        call("PUT", f"/v1/orgs/{slug}/billing", token, {"plan": plan})
    return slug


# The run's org, on the plan that opens every route.
email, login = person()
token = login["token"]
slug = org(token, plan="enterprise")
api_key = call("POST", f"/v1/orgs/{slug}/api-keys", token, {"name": "schemathesis"}, expect=201)
usage_mcp = call("POST", f"/v1/orgs/{slug}/mcps", token, {"name": "usage", "url": "https://mcp.example.com"}, expect=201)
call("PUT", f"/v1/orgs/{slug}/custom-domain", token, {"domain": f"{slug}.example.com"})
_, host_login = person()
# Orgs of their own for what would change the run's org for every later case: PIN
# protection, the plan, the deletion.
settings_org = org(token)
doomed_org = org(token)
doomed_name = call("GET", f"/v1/orgs/{doomed_org}", token)["name"]
# logout ends the session it is sent with, and revoke-all every other one: they get
# sessions of other people.
_, leaving = person()
_, revoking = person()


def objects():
    """One of each object for the path parameters, a set for each pass: a pass may
    delete them (later cases then meet a 404), or fill the org up to a limit."""
    mcp = call("POST", f"/v1/orgs/{slug}/mcps", token, {"name": "target", "url": "https://mcp.example.com"}, expect=201)
    webhook = call("POST", f"/v1/orgs/{slug}/webhooks", token, {"url": "http://127.0.0.1:9/hook", "events": ["mcp.created"]}, expect=201)
    call("POST", f"/v1/orgs/{slug}/webhooks/{webhook['id']}/test", token, expect=202)
    export = call("POST", f"/v1/orgs/{slug}/exports", token, {"format": "json", "include": ["mcps"]}, expect=202)
    member_email, member_login = person()
    invitation = call("POST", f"/v1/orgs/{slug}/members", token, {"email": member_email, "role": "member"}, expect=201)
    call("POST", f"/v1/me/invitations/{invitation['id']}/accept", member_login["token"])
    pending = call("POST", f"/v1/orgs/{slug}/members", token, {"email": f"st-{uuid.uuid4().hex[:12]}@example.com", "role": "viewer"}, expect=201)
    # Invitations to the run's person, from other orgs, to accept and to decline.
    incoming = [
        call("POST", f"/v1/orgs/{org(host_login['token'])}/members", host_login["token"], {"email": email, "role": "viewer"}, expect=201)
        for _ in range(2)
    ]
    deliveries = f"/v1/orgs/{slug}/webhooks/{webhook['id']}/deliveries"
    for _ in range(100):
        logged = call("GET", deliveries, token)["items"]
        if logged:
            break
        time.sleep(0.1)
    assert logged, "the test event was attempted"
    return {
        "ST_MCP_ID": mcp["id"],
        "ST_WEBHOOK_ID": webhook["id"],
        "ST_DELIVERY_ID": logged[0]["id"],
        "ST_EXPORT_ID": export["id"],
        "ST_USER_ID": call("GET", "/v1/me", member_login["token"])["id"],
        "ST_INVITATION_ID": pending["id"],
        "ST_ACCEPTED_INVITATION_ID": incoming[0]["id"],
        "ST_DECLINED_INVITATION_ID": incoming[1]["id"],
        "ST_SESSION_ID": sign_in(email)["session_id"],
    }


env = {
    **os.environ,
    "ST_BASE": BASE,
    "ST_TOKEN": token,
    "ST_LOGOUT_TOKEN": leaving["token"],
    "ST_REVOKE_ALL_TOKEN": revoking["token"],
    "ST_SLUG": slug,
    "ST_SETTINGS_SLUG": settings_org,
    "ST_DOOMED_SLUG": doomed_org,
    "ST_DOOMED_NAME": doomed_name,
    "ST_USAGE_MCP_ID": usage_mcp["id"],
    "ST_PASSWORD": PASSWORD,
    "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
    "PYTHONPATH": str(HERE),
}


def run(label, credential, objects, *selection):
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file", str(HERE / "schemathesis.toml"),
        "run", f"{BASE}/v1/openapi.json",
        "--max-examples", os.environ.get("ST_MAX_EXAMPLES", "12"),
        "--seed", os.environ.get("ST_SEED", "20261129"),
        *selection,
    ]
    print(f"== schemathesis, {label}", flush=True)
    return subprocess.run(command, env={**env, **objects, "ST_CREDENTIAL": credential}, cwd=HERE).returncode


for_person, for_key = objects(), objects()
failed = run("a person's session", token, for_person)
# An API key reaches its own org's routes only; the others answer 401 by design.
failed |= run("an org API key", api_key["key"], for_key, "--phases", "fuzzing", "--include-path-regex", "^/v1/orgs/\\{slug\\}")
sys.exit(1 if failed else 0)
