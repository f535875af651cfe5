#!/usr/bin/env python3
"""An integrator's client, generated at test time by openapi-python-client (pinned in
infra/requirements.txt) from the document the running server serves, drives a scenario
against it using only the generated code: sign up and in, an org, a stale and a fresh
If-Match, an MCP created twice with one Idempotency-Key, an API key that lists the MCPs,
a PIN that guards a deletion and the plan change, a webhook endpoint, an export read until
ready, and the audit log. Each answer is the generated model the document promises.

Usage: generated_client.py BASE_URL
"""

import importlib
import os
import subprocess
import sys
import tempfile
import time
import uuid

BASE = sys.argv[1].rstrip("/")
ROOT = tempfile.mkdtemp(prefix="plexmcp-client-")
# The generator formats its output with ruff, installed beside it.
env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
subprocess.run(
    [os.path.join(os.path.dirname(sys.executable), "openapi-python-client"), "generate",
     "--url", f"{BASE}/v1/openapi.json", "--meta", "none", "--output-path", os.path.join(ROOT, "plexmcp_client")],
    check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
)
sys.path.insert(0, ROOT)


def api(module):
    return importlib.import_module(f"plexmcp_client.api.{module}")


from plexmcp_client import AuthenticatedClient, Client  # noqa: E402
from plexmcp_client import models as m  # noqa: E402

identity = api("identity.signup"), api("identity.login")
signup, login = identity
create_org, get_org, update_org = api("organizations.create_org"), api("organizations.get_org"), api("organizations.update_org")
create_mcp, list_mcps, delete_mcp = api("mcps.create_mcp"), api("mcps.list_mcps"), api("mcps.delete_mcp")
create_api_key = api("api_keys.create_api_key")
set_pin = api("security.set_pin")
change_plan = api("billing.change_plan")
create_webhook = api("webhooks.create_webhook")
create_export, get_export = api("exports.create_export"), api("exports.get_export")
list_audit_logs = api("audit.list_audit_logs")


def ok(response, status, model):
    assert response.status_code == status, f"{response.status_code}: {response.content!r}"
    assert isinstance(response.parsed, model), type(response.parsed)
    return response.parsed


def problem(response, status, code):
    assert response.status_code == status, f"{response.status_code}: {response.content!r}"
    assert isinstance(response.parsed, m.Problem) and response.parsed.code == code, response.parsed
    return response.parsed


public = Client(base_url=BASE)
email = f"gen-{uuid.uuid4().hex[:12]}@example.com"
ok(signup.sync_detailed(client=public, body=m.SignupRequest(email=email, password="correct horse battery", name="Generated")), 202, m.VerificationSent)
session = ok(login.sync_detailed(client=public, body=m.LoginRequest(email=email, password="correct horse battery")), 200, m.SessionCreated)
assert isinstance(session.token, str) and session.token
me = AuthenticatedClient(base_url=BASE, token=session.token)

slug = f"gen-{uuid.uuid4().hex[:10]}"
org = ok(create_org.sync_detailed(client=me, body=m.CreateOrg(name="Generated Org", slug=slug)), 201, m.OrgView)
assert org.plan == m.OrgViewPlan.FREE
read = get_org.sync_detailed(slug, client=me)
version = read.headers["etag"]
ok(update_org.sync_detailed(slug, client=me, body=m.UpdateOrg(name="Renamed"), if_match=version), 200, m.OrgView)
problem(update_org.sync_detailed(slug, client=me, body=m.UpdateOrg(name="Stale"), if_match=version), 412, "precondition_failed")
assert ok(get_org.sync_detailed(slug, client=me), 200, m.OrgView).name == "Renamed"

key = f"create-weather-{uuid.uuid4().hex}"
body = m.CreateMcp(name="Weather", url="https://weather.example.com/mcp")
first = create_mcp.sync_detailed(slug, client=me, body=body, idempotency_key=key)
again = create_mcp.sync_detailed(slug, client=me, body=body, idempotency_key=key)
mcp = ok(first, 201, m.McpView)
assert ok(again, 201, m.McpView).id == mcp.id and again.headers.get("idempotent-replayed") == "true", again.headers
problem(create_mcp.sync_detailed(slug, client=me, body=m.CreateMcp(name="Other", url="https://other.example.com/mcp"), idempotency_key=key), 422, "idempotency_key_reused")
assert mcp.transport == m.McpViewTransport.STREAMABLE_HTTP and mcp.health == m.McpViewHealth.UNKNOWN

created_key = ok(create_api_key.sync_detailed(slug, client=me, body=m.CreateApiKey(name="CI")), 201, m.ApiKeyCreated)
as_key = AuthenticatedClient(base_url=BASE, token=created_key.key)
assert [item.id for item in ok(list_mcps.sync_detailed(slug, client=as_key), 200, m.PageMcpView).items] == [mcp.id]

ok(set_pin.sync_detailed(slug, client=me, body=m.SetPin(pin="840317", pin_confirmation="840317")), 200, m.SecurityView)
problem(delete_mcp.sync_detailed(slug, mcp.id, client=me), 403, "pin_required")
problem(change_plan.sync_detailed(slug, client=me, body=m.ChangePlan(plan=m.ChangePlanPlan.PRO), x_plex_mcp_pin="271828"), 403, "pin_invalid")
billing = ok(change_plan.sync_detailed(slug, client=me, body=m.ChangePlan(plan=m.ChangePlanPlan.PRO), x_plex_mcp_pin="840317"), 200, m.BillingView)
assert billing.plan == m.BillingViewPlan.PRO

hook = ok(create_webhook.sync_detailed(slug, client=me, body=m.CreateWebhook(url="http://127.0.0.1:9/plexmcp", events=[m.EventType.MCP_DELETED])), 201, m.WebhookCreated)
assert hook.secret.startswith("whsec_")
deleted = delete_mcp.sync_detailed(slug, mcp.id, client=me, x_plex_mcp_pin="840317")
assert deleted.status_code == 204, deleted

job = ok(create_export.sync_detailed(slug, client=me, body=m.CreateExport(format_=m.Format.JSON, include=[m.Category.MCPS, m.Category.WEBHOOKS])), 202, m.ExportView)
deadline = time.time() + 30
while True:
    export = ok(get_export.sync_detailed(slug, job.id, client=me), 200, m.ExportView)
    if export.status not in ("pending", "running") or time.time() > deadline:
        break
    time.sleep(0.3)
assert export.status == "ready" and export.download_url, export

entries = ok(list_audit_logs.sync_detailed(slug, client=me, limit=50), 200, m.PageAuditLogEntry).items
actions = {entry.action for entry in entries}
assert {"org.created", "mcp.created", "mcp.deleted", "billing.plan_changed"} <= actions, actions
assert all(entry.actor.type_ == m.ActorType.USER for entry in entries), [e.actor for e in entries]
assert all(isinstance(entry.category, m.AuditCategory) for entry in entries)
print(f"generated client: {len(entries)} audit entries read, scenario passed")
