"""What JSON Schema cannot say, taught to schemathesis: each hook only ever replaces a
value that is valid on its own with another valid one, so a case the tool made invalid
on purpose stays invalid.

- `pin_confirmation` is the same PIN again;
- a date range has `from` before `to` (and a usage range at most 366 days);
- `slug` in a PATCH of the org may only repeat the current slug;
- a usage record (or each of a batch) names one of the org's MCPs;
- the password and the name typed to confirm are the account's and the org's (a wrong
  one is a 422 by design, and would hide what the tool is there to find);
- an authenticator code is the current one of the secret the run last set up (pyotp, as
  a person's authenticator app would compute it);
- a PIN-gated call on the settings org sends its current PIN (the hooks follow it as the
  run changes it), so the run never locks the PIN;
- a second factor is either `code` or `backup_code`;
- a webhook's host must resolve to public addresses: every generated one points at a
  loopback receiver (the local stack allows private targets), so no case waits on DNS;
- an `Idempotency-Key` is new for each request, as a client makes it (the tool repeats
  the few short keys it generates, and the same key with another request is a 422
  `idempotency_key_reused` by design).
"""

import datetime as dt
import os
import re
import uuid

import pyotp
import schemathesis

PIN = re.compile(r"^[0-9]{6}$")
IDEMPOTENCY_KEY = re.compile(r"^[!-~]{1,255}$")
# The settings org's PIN as the run has set it (None while protection is off).
current_pin = {"pin": None}
# The run's person's last 2FA secret (from setup).
totp = {"secret": None}


def operation_id(ctx):
    return ctx.operation.definition.raw.get("operationId") if ctx.operation else None


def _date(value, parse):
    try:
        return parse(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _ordered(query, parse, longest=None):
    start, end = _date(query.get("from"), parse), _date(query.get("to"), parse)
    if start is None or end is None:
        return query
    if start > end:
        query["from"], query["to"] = query["to"], query["from"]
        start, end = end, start
    if longest is not None and end - start > longest:
        query["from"] = (end - longest).isoformat()
    return query


def _rfc3339(value):
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _query(op, query):
    if op == "get_usage":
        start, end = _date(query.get("from"), dt.date.fromisoformat), _date(query.get("to"), dt.date.fromisoformat)
        today = dt.datetime.now(dt.timezone.utc).date()
        if start is not None and end is None:
            # `to` is today: `from` within the year before it.
            query["from"] = min(max(start, today - dt.timedelta(days=365)), today).isoformat()
        return _ordered(query, dt.date.fromisoformat, dt.timedelta(days=365))
    if op in ("list_audit_logs", "verify_audit_logs"):
        return _ordered(query, _rfc3339)
    return query


def _valid_text(value, longest):
    return isinstance(value, str) and 1 <= len(value) <= longest


def _body(op, body):
    if op == "set_pin" and isinstance(body.get("pin"), str) and PIN.match(body["pin"]) and PIN.match(str(body.get("pin_confirmation"))):
        body["pin_confirmation"] = body["pin"]
    if op == "update_org" and isinstance(body.get("slug"), str):
        body["slug"] = os.environ["ST_SLUG"]
    if op == "record_usage" and isinstance(body.get("mcp_id"), str):
        body["mcp_id"] = os.environ["ST_USAGE_MCP_ID"]
    if op == "record_usage_batch" and isinstance(body.get("records"), list):
        for record in body["records"]:
            if isinstance(record, dict) and isinstance(record.get("mcp_id"), str):
                record["mcp_id"] = os.environ["ST_USAGE_MCP_ID"]
    if op in ("create_webhook", "update_webhook") and _valid_text(body.get("url"), 2048):
        if re.match(r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+(?:[/?][^#]*)?$", body["url"]):
            body["url"] = "http://127.0.0.1:9/hook"
    if op == "export_audit_logs":
        body = _ordered(body, _rfc3339)
    if op in ("login_second_factor", "disable_two_factor"):
        # Exactly one of `code` and `backup_code`.
        sent = [k for k in ("code", "backup_code") if isinstance(body.get(k), str)]
        if len(sent) == 2:
            del body["backup_code"]
        elif not sent and body.get("code") is None and body.get("backup_code") is None:
            body.pop("backup_code", None)
            body["code"] = "000000"
    if op in ("enable_two_factor", "regenerate_backup_codes", "disable_two_factor") and totp["secret"]:
        if isinstance(body.get("code"), str) and PIN.match(body["code"]):
            body["code"] = pyotp.TOTP(totp["secret"]).now()
    if op in ("setup_two_factor", "delete_organization", "disable_two_factor") and _valid_text(body.get("password"), 1024):
        body["password"] = os.environ["ST_PASSWORD"]
    if op == "delete_organization" and _valid_text(body.get("confirm_name"), 100):
        body["confirm_name"] = os.environ["ST_DOOMED_NAME"]
    return body


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """On every case of every phase (the map hooks skip the coverage phase)."""
    op = operation_id(ctx)
    if isinstance(case.query, dict):
        # A cursor is a value only the server makes (signed): the tool cannot make one.
        if isinstance(case.query.get("cursor"), str):
            del case.query["cursor"]
        case.query = _query(op, case.query)
    if isinstance(case.body, dict):
        case.body = _body(op, case.body)
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and IDEMPOTENCY_KEY.match(key):
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    settings_org = (case.path_parameters or {}).get("slug") == os.environ["ST_SETTINGS_SLUG"]
    # Not on a case that leaves a header out on purpose (setting headers makes it positive).
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    if settings_org and not negative and current_pin["pin"] and any(p.name == "X-PlexMCP-PIN" for p in ctx.operation.headers):
        case.headers = {**(case.headers or {}), "X-PlexMCP-PIN": current_pin["pin"]}


@schemathesis.hook
def after_call(ctx, case, response):
    op = operation_id(ctx)
    if op == "setup_two_factor" and response.status_code == 200:
        totp["secret"] = response.json()["secret"]
    elif op == "set_pin" and response.status_code == 200:
        current_pin["pin"] = case.body["pin"]
    elif op == "disable_pin" and response.status_code == 204:
        current_pin["pin"] = None
