// What a TypeScript client of the API relies on, compiled with `tsc --strict` against the
// types openapi-typescript generates from the document (generated/openapi.d.ts, made by
// `make contract`): it switches exhaustively over the enumerations (a value the document
// forgot, or one it lists and the switch does not, fails the build), reads the login answer
// without optional tokens, and reads each webhook payload by its event type.
import type { components, webhooks } from "./generated/openapi";

type Schemas = components["schemas"];

function unreachable(value: never): never {
  throw new Error(`a value the document does not list: ${String(value)}`);
}

export function transport(value: Schemas["McpView"]["transport"]): string {
  switch (value) {
    case "streamable_http":
      return "Streamable HTTP";
    case "sse":
      return "Server-sent events";
    default:
      return unreachable(value);
  }
}

export function health(value: Schemas["McpView"]["health"]): string {
  switch (value) {
    case "unknown":
    case "healthy":
    case "degraded":
    case "down":
      return value;
    default:
      return unreachable(value);
  }
}

export function role(value: Schemas["Role"]): number {
  switch (value) {
    case "owner":
      return 4;
    case "admin":
      return 3;
    case "member":
      return 2;
    case "viewer":
      return 1;
    default:
      return unreachable(value);
  }
}

export function plan(value: Schemas["BillingView"]["plan"]): string {
  switch (value) {
    case "free":
    case "pro":
    case "team":
    case "enterprise":
      return value;
    default:
      return unreachable(value);
  }
}

export function category(value: Schemas["AuditLogEntry"]["category"]): string {
  switch (value) {
    case "authentication":
    case "mcp":
    case "api_key":
    case "team":
    case "settings":
    case "billing":
      return value;
    default:
      return unreachable(value);
  }
}

export function actor(value: Schemas["AuditLogEntry"]["actor"]): string {
  switch (value.type) {
    case "user":
      return value.email ?? value.id;
    case "api_key":
    case "system":
    case "network":
      return value.id;
    default:
      return unreachable(value.type);
  }
}

export function eventType(value: Schemas["EventType"]): string {
  switch (value) {
    case "mcp.created":
    case "mcp.updated":
    case "mcp.deleted":
    case "mcp.health_changed":
    case "api_key.created":
    case "api_key.revoked":
    case "team.member_added":
    case "team.member_removed":
    case "usage.threshold":
    case "custom_domain.status_changed":
      return value;
    default:
      return unreachable(value);
  }
}

export function deliveryStatus(value: Schemas["DeliveryView"]["status"]): boolean {
  switch (value) {
    case "succeeded":
      return true;
    case "failed":
      return false;
    default:
      return unreachable(value);
  }
}

/** The bearer token of a sign-in, or the challenge of its second step. */
export function signedIn(answer: Schemas["LoginResponse"]): string {
  if ("challenge_token" in answer) {
    return answer.challenge_token;
  }
  if ("token" in answer) {
    const token: string = answer.token;
    return token;
  }
  return answer.session_id; // a browser session: the token is in the cookie
}

type Delivered<E extends keyof webhooks> =
  NonNullable<webhooks[E]["post"]["requestBody"]>["content"]["application/json"];

export function onMcpCreated(payload: Delivered<"mcp.created">): string {
  const type: "mcp.created" = payload.type;
  return `${type}: ${payload.data.name} (${payload.data.mcp_id}) at ${payload.data.url}`;
}

export function onUsageThreshold(payload: Delivered<"usage.threshold">): number {
  return payload.data.threshold_percent;
}

export function onCustomDomainStatusChanged(payload: Delivered<"custom_domain.status_changed">): string {
  const { domain, from, to, reason } = payload.data;
  const served: boolean = to === "active";
  return `${domain}: ${from} → ${to}${served ? " (served)" : ""}${reason ? ` — ${reason}` : ""}`;
}

export function onTest(payload: Delivered<"webhook.test">): string {
  return payload.data.message;
}
