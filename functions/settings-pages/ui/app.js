// The settings pages: plain modern JS against the same HTTP API as every client. The
// session is an HttpOnly cookie this script never sees (signed in with
// `X-PlexMCP-Session: cookie`); every change carries `X-PlexMCP-CSRF: 1`.

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const sections = document.getElementById("sections");
const status = document.getElementById("status");

/** A problem (RFC 9457) the API answered with. */
class Problem extends Error {
  constructor(body, httpStatus) {
    super(body.detail || body.title || `HTTP ${httpStatus}`);
    this.body = body;
    this.status = httpStatus;
  }
}

async function api(method, path, body, headers = {}) {
  const init = { method, credentials: "same-origin", headers: { ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-PlexMCP-CSRF"] = "1";
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Problem(data || {}, response.status);
  return data;
}

/** Builds an element: h("label", { for: "x" }, "text", child…). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** A problem's detail, with what the person can do about a lock or a limit. */
function describe(error) {
  const body = error.body || {};
  if (body.retry_after) return `${error.message} Try again in ${minutes(body.retry_after)}.`;
  return error.message;
}

const minutes = (seconds) => (seconds < 90 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`);
const when = (time) => (time ? new Date(time).toLocaleString() : "—");

function say(message) {
  status.textContent = message;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => (status.textContent = ""), 6000);
}

let fieldIds = 0;

/** A labelled input with a place for its error; `name` is the API's field name. */
function field(label, name, attrs = {}, hint) {
  const id = `f${++fieldIds}`;
  const error = h("span", { id: `${id}-error`, class: "field-error", "data-error-for": name });
  const hintEl = hint ? h("span", { id: `${id}-hint`, class: "hint" }, hint) : null;
  const control = h(attrs.multiline ? "textarea" : "input", {
    id, name, ...attrs, multiline: null, value: attrs.multiline ? null : attrs.value,
    "aria-describedby": [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" "),
  });
  if (attrs.multiline && attrs.value !== undefined) control.value = attrs.value;
  return h("label", { for: id }, label, hintEl, control, error);
}

/**
 * A form that sends `submit(values)`; a problem's `errors[]` go next to their fields,
 * anything else above the button.
 */
function form(title, fields, buttonText, submit, extra = {}) {
  const formError = h("p", { class: "form-error", role: "alert" });
  const button = h("button", { type: "submit", class: extra.buttonClass || false }, buttonText);
  const el = h("form", { novalidate: true, "aria-label": title }, ...fields, formError, button);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const e of el.querySelectorAll(".field-error")) e.textContent = "";
    for (const c of el.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
    formError.textContent = "";
    const data = new FormData(el);
    const values = Object.fromEntries(data.entries());
    button.disabled = true;
    try {
      await submit(values, data);
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      let placed = false;
      for (const { field: name, message } of error.body.errors || []) {
        const slot = el.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
        if (!slot) continue;
        slot.textContent = message;
        el.querySelector(`[name="${CSS.escape(name)}"]`)?.setAttribute("aria-invalid", "true");
        placed = true;
      }
      if (!placed) formError.textContent = describe(error);
      (el.querySelector('[aria-invalid="true"]') || formError).focus?.();
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

function show(title, ...content) {
  document.title = `${title} · PlexMCP Settings`;
  main.replaceChildren(h("h1", {}, title), ...content);
  main.focus();
}

const go = (hash) => {
  if (location.hash === hash) route();
  else location.hash = hash;
};

// Who is signed in, or null; `known` once asked.
let me = null;
let known = false;

async function loadMe() {
  known = true;
  try {
    me = await api("GET", "/v1/me");
  } catch (error) {
    if (error instanceof Problem && error.status === 401) me = null;
    else throw error;
  }
  nav.replaceChildren(
    ...(me
      ? [
          h("a", { href: "#/orgs" }, "Organizations"),
          h("a", { href: "#/account" }, "Account"),
          h("span", { class: "muted" }, me.email),
          h("button", { type: "button", class: "secondary", onclick: signOut }, "Sign out"),
        ]
      : [h("a", { href: "#/login" }, "Sign in"), h("a", { href: "#/signup" }, "Sign up")]),
  );
}

async function signOut() {
  await api("POST", "/v1/auth/logout");
  me = null;
  say("Signed out.");
  go("#/login");
}

const SESSION = { "X-PlexMCP-Session": "cookie" };

function loginView() {
  show(
    "Sign in",
    h("section", { class: "card" },
      form("Sign in", [
        field("E-mail", "email", { type: "email", autocomplete: "username", required: true }),
        field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
      ], "Sign in", async (values) => {
        const answer = await api("POST", "/v1/auth/login", values, SESSION);
        if (answer.two_factor_required) return secondStepView(answer.challenge_token);
        await signedIn();
      }),
      h("p", {}, "No account yet? ", h("a", { href: "#/signup" }, "Sign up")),
    ),
  );
}

function secondStepView(challenge) {
  show(
    "Two-factor authentication",
    h("section", { class: "card" },
      h("p", {}, "Enter the 6-digit code from your authenticator app, or one of your backup codes."),
      form("Second factor", [
        field("Code", "code", { inputmode: "numeric", autocomplete: "one-time-code", required: true }),
      ], "Verify", async ({ code }) => {
        const factor = /^\d{6}$/.test(code.trim()) ? { code: code.trim() } : { backup_code: code.trim() };
        await api("POST", "/v1/auth/login/2fa", { challenge_token: challenge, ...factor }, SESSION);
        await signedIn();
      }),
    ),
  );
}

async function signedIn() {
  await loadMe();
  say(`Signed in as ${me.email}.`);
  go("#/orgs");
}

// The link of the verification mail: no session needed, the token is the proof.
async function verifyEmailView(token) {
  try {
    const answer = await api("POST", "/v1/auth/verify-email", { token: token || "" });
    show("E-mail verified", h("section", { class: "card" },
      h("p", { role: "status" }, `${answer.email} is verified: you can accept invitations to organizations.`),
      h("a", { href: "#/" }, "Continue")));
  } catch (error) {
    if (!(error instanceof Problem)) throw error;
    show("E-mail not verified", h("section", { class: "card" },
      h("p", { class: "form-error", role: "alert" }, error.message),
      h("a", { href: "#/account" }, "Ask for a new link")));
  }
}

function signupView() {
  show(
    "Create your account",
    h("section", { class: "card" },
      form("Sign up", [
        field("Name", "name", { autocomplete: "name", required: true }),
        field("E-mail", "email", { type: "email", autocomplete: "email", required: true }),
        field("Password", "password", { type: "password", autocomplete: "new-password", required: true },
          "At least 12 characters."),
      ], "Create account", async (values) => {
        await api("POST", "/v1/auth/signup", values);
        await api("POST", "/v1/auth/login", { email: values.email, password: values.password }, SESSION);
        await signedIn();
      }),
      h("p", {}, "Have an account? ", h("a", { href: "#/login" }, "Sign in")),
    ),
  );
}

function orgsView() {
  const list = me.organizations.length
    ? h("ul", { class: "orgs" }, me.organizations.map((org) =>
        h("li", {}, h("a", { href: `#/orgs/${org.slug}/general` }, org.name, " ",
          h("span", { class: "muted" }, `(${org.slug}, ${org.role})`)))))
    : h("p", { class: "muted" }, "You are not in any organization yet.");
  show(
    "Organizations",
    h("section", { class: "card" }, h("h2", {}, "Your organizations"), list),
    h("section", { class: "card" },
      h("h2", {}, "Create an organization"),
      form("Create an organization", [
        field("Name", "name", { required: true, maxlength: 100 }),
        field("Slug", "slug", { required: true, maxlength: 48, autocapitalize: "none" },
          "Lowercase letters, digits and hyphens; it cannot be changed later."),
        field("Description", "description", { multiline: true, maxlength: 500 }),
      ], "Create organization", async (values) => {
        const org = await api("POST", "/v1/orgs", { ...values, description: values.description || null });
        await loadMe();
        say(`Created ${org.name}.`);
        go(`#/orgs/${org.slug}/general`);
      }),
    ),
  );
}

// ---- Helpers of the org pages -------------------------------------------------------

const org = (slug, rest = "") => `/v1/orgs/${encodeURIComponent(slug)}${rest}`;

/** A table with a caption, column headers and rows of cells (nodes or text). */
function table(caption, headers, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  // Scrolls sideways on narrow screens: focusable, so the keyboard can scroll it too.
  return h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
    ));
}

function button(text, onclick, cls = "secondary", attrs = {}) {
  return h("button", { type: "button", class: cls, onclick, ...attrs }, text);
}

/** Runs an action from a button; a problem is said, not thrown. */
async function act(control, action) {
  control.disabled = true;
  try {
    await action();
  } catch (error) {
    if (!(error instanceof Problem)) throw error;
    say(describe(error));
  } finally {
    control.disabled = false;
  }
}

const pinDialog = document.createElement("dialog");
pinDialog.setAttribute("aria-labelledby", "pin-title");
document.body.append(pinDialog);

/**
 * Asks for the org PIN after a gated action answered `pin_required` or `pin_invalid`
 * (with the attempts left); resolves to the PIN, or null when cancelled.
 */
function askPin(problem) {
  return new Promise((resolve) => {
    const input = h("input", {
      id: "pin-input", name: "pin", inputmode: "numeric", autocomplete: "off",
      maxlength: 6, required: true, "aria-describedby": "pin-why",
    });
    const why = problem.code === "pin_invalid"
      ? `That PIN is not right: ${problem.attempts_remaining} attempt${problem.attempts_remaining === 1 ? "" : "s"} left before PIN checks lock for 15 minutes.`
      : "This action is PIN-protected: enter the organization's 6-digit PIN.";
    const done = (value) => {
      pinDialog.close();
      resolve(value);
    };
    const dialogForm = h("form", { method: "dialog", "aria-label": "PIN" },
      h("h2", { id: "pin-title" }, "Organization PIN"),
      h("p", { id: "pin-why", class: problem.code === "pin_invalid" ? "form-error" : "" }, why),
      h("label", { for: "pin-input" }, "PIN", input),
      h("div", { class: "actions" },
        h("button", { type: "submit" }, "Confirm"),
        button("Cancel", () => done(null))),
    );
    dialogForm.addEventListener("submit", (event) => {
      event.preventDefault();
      done(input.value.trim());
    });
    pinDialog.oncancel = () => resolve(null);
    pinDialog.replaceChildren(dialogForm);
    pinDialog.showModal();
    input.focus();
  });
}

/** A PIN-gated request: asks for the PIN as often as the server wants it. */
async function gated(method, path, body) {
  let pin = null;
  for (;;) {
    try {
      return await api(method, path, body, pin === null ? {} : { "X-PlexMCP-PIN": pin });
    } catch (error) {
      const code = error instanceof Problem && error.body.code;
      if (code !== "pin_required" && code !== "pin_invalid") throw error;
      pin = await askPin(error.body);
      if (pin === null) throw new Problem({ detail: "Cancelled: nothing was changed." }, 0);
    }
  }
}

/** Polls `load` every second until `done(result)`; shows `progress` meanwhile. */
async function poll(load, done, progress, limit = 120) {
  for (let i = 0; i < limit; i++) {
    const result = await load();
    if (done(result)) return result;
    progress(result);
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Problem({ detail: "Still not done: check again later." }, 0);
}

/** A text file offered for download (backup codes), made in the page. */
function downloadLink(text, filename, label) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  return h("a", { href: url, download: filename, class: "button secondary" }, label);
}

// ---- Org sections -------------------------------------------------------------------

const SECTIONS = [
  ["general", "General", generalView],
  ["team", "Team", teamView],
  ["mcps", "MCP servers", mcpsView],
  ["security", "Security", securityView],
  ["webhooks", "Webhooks", webhooksView],
  ["domain", "Custom domain", domainView],
  ["audit", "Audit logs", auditView],
  ["export", "Data export", exportView],
  ["danger", "Danger zone", dangerView],
];

function sectionNav(slug, current) {
  sections.hidden = false;
  sections.replaceChildren(...SECTIONS.map(([key, label]) =>
    h("a", { href: `#/orgs/${slug}/${key}`, "aria-current": key === current ? "page" : false }, label)));
}

async function generalView(slug) {
  const current = await api("GET", org(slug));
  show(
    "General",
    h("section", { class: "card" },
      h("h2", {}, "Organization"),
      form("General settings", [
        field("Name", "name", { value: current.name, required: true, maxlength: 100 }),
        field("Slug", "slug", { value: current.slug, readonly: true }, "The slug cannot be changed."),
        field("Description", "description", { multiline: true, value: current.description, maxlength: 500 }),
      ], "Save changes", async ({ name, description }) => {
        const saved = await api("PATCH", org(slug), { name, description });
        await loadMe();
        say(`Saved: ${saved.name}.`);
      }),
      h("p", { class: "muted" }, `API host name: ${current.api_hostname || "—"}.`),
    ),
    h("section", { class: "card" },
      h("h2", {}, "Plan"),
      form("Plan", [
        h("label", { for: "plan" }, "Plan",
          h("select", { id: "plan", name: "plan" },
            PLANS.map((plan) => h("option", { value: plan, selected: plan === current.plan }, plan)))),
      ], "Change plan", async ({ plan }) => {
        const billing = await gated("PUT", org(slug, "/billing"), { plan });
        say(`The plan is ${billing.plan}.`);
      }),
    ),
  );
}

const PLANS = ["free", "pro", "team", "enterprise"];

const ROLES = ["owner", "admin", "member", "viewer"];

function roleSelect(name, value, label) {
  return h("select", { name, "aria-label": label },
    ROLES.map((role) => h("option", { value: role, selected: role === value }, role)));
}

async function teamView(slug) {
  const [members, invitations] = await Promise.all([
    api("GET", org(slug, "/members?limit=200")),
    api("GET", org(slug, "/invitations?limit=200")).catch(() => ({ items: [] })),
  ]);
  const rows = members.items.map((m) => {
    const select = roleSelect("role", m.role, `Role of ${m.email}`);
    select.addEventListener("change", () => act(select, async () => {
      await api("PATCH", org(slug, `/members/${m.user_id}`), { role: select.value });
      say(`${m.email} is now ${select.value}.`);
    }));
    const remove = button("Remove", () => act(remove, async () => {
      await gated("DELETE", org(slug, `/members/${m.user_id}`));
      say(`Removed ${m.email}.`);
      route();
    }), "secondary", { "aria-label": `Remove ${m.email}` });
    return [m.name, m.email, select, when(m.joined_at), remove];
  });
  show(
    "Team",
    h("section", { class: "card" }, h("h2", {}, "Members"),
      table("Members of the organization", ["Name", "E-mail", "Role", "Joined", ""], rows, "No members.")),
    h("section", { class: "card" }, h("h2", {}, "Invite someone"),
      form("Invite", [
        field("E-mail", "email", { type: "email", required: true }),
        h("label", { for: "invite-role" }, "Role",
          h("select", { id: "invite-role", name: "role" },
            ROLES.map((r) => h("option", { value: r, selected: r === "member" }, r)))),
      ], "Send invitation", async (values) => {
        await api("POST", org(slug, "/members"), values);
        say(`Invited ${values.email}.`);
        route();
      }),
      table("Pending invitations", ["E-mail", "Role", "Expires"],
        invitations.items.filter((i) => i.status === "pending").map((i) => [i.email, i.role, when(i.expires_at)]),
        "No pending invitations."),
    ),
  );
}

async function mcpsView(slug) {
  const mcps = await api("GET", org(slug, "/mcps?limit=200"));
  const rows = mcps.items.map((m) => {
    const remove = button("Delete", () => act(remove, async () => {
      await gated("DELETE", org(slug, `/mcps/${m.id}`));
      say(`Deleted ${m.name}.`);
      route();
    }), "secondary", { "aria-label": `Delete ${m.name}` });
    return [m.name, m.url, m.transport, m.health, remove];
  });
  show(
    "MCP servers",
    h("section", { class: "card" }, h("h2", {}, "Servers"),
      table("MCP servers of the organization", ["Name", "URL", "Transport", "Health", ""], rows, "No MCP servers yet.")),
    h("section", { class: "card" }, h("h2", {}, "Add a server"),
      form("Add an MCP server", [
        field("Name", "name", { required: true, maxlength: 100 }),
        field("URL", "url", { type: "url", required: true }, "https://…"),
      ], "Add server", async (values) => {
        const created = await api("POST", org(slug, "/mcps"), values);
        say(`Added ${created.name}.`);
        route();
      }),
    ),
  );
}

async function securityView(slug) {
  const security = await api("GET", org(slug, "/security"));
  const on = security.pin_protection_enabled;
  show(
    "Security",
    h("section", { class: "card" },
      h("h2", {}, "PIN protection"),
      h("p", {}, on
        ? `PIN protection is on (PIN set ${when(security.pin_set_at)}). Deleting MCP servers, revoking API keys, removing members and changing the plan ask for it.`
        : "PIN protection is off. Turn it on to ask for a 6-digit PIN before sensitive actions."),
      form(on ? "Change the PIN" : "Set a PIN", [
        field(on ? "New PIN" : "PIN", "pin", { inputmode: "numeric", autocomplete: "off", maxlength: 6, required: true },
          "6 digits; not a simple sequence."),
        field("Confirm the PIN", "pin_confirmation", { inputmode: "numeric", autocomplete: "off", maxlength: 6, required: true }),
      ], on ? "Change PIN" : "Turn on PIN protection", async (values) => {
        await gated("PUT", org(slug, "/security/pin"), values);
        say(on ? "PIN changed." : "PIN protection is on.");
        route();
      }),
      on ? button("Turn off PIN protection", (event) => act(event.target, async () => {
        await gated("DELETE", org(slug, "/security/pin"));
        say("PIN protection is off.");
        route();
      })) : null,
    ),
  );
}

function eventChoice(type) {
  const id = `event-${type.name.replace(/[._]/g, "-")}`;
  return h("label", { class: "check", for: id },
    h("input", { type: "checkbox", id, name: "events", value: type.name }),
    ` ${type.name}`, h("span", { class: "hint" }, ` — ${type.description}`));
}

async function webhooksView(slug) {
  const [hooks, types] = await Promise.all([
    api("GET", org(slug, "/webhooks?limit=100")),
    api("GET", "/v1/webhooks/event-types"),
  ]);
  const cards = await Promise.all(hooks.items.map(async (hook) => {
    const deliveries = await api("GET", org(slug, `/webhooks/${hook.id}/deliveries?limit=10`));
    const secret = h("p", { "aria-live": "polite" });
    const test = button("Send test", () => act(test, async () => {
      await api("POST", org(slug, `/webhooks/${hook.id}/test`));
      say("Test event queued: it shows in the delivery log in a moment.");
      setTimeout(route, 1500);
    }));
    const rotate = button("Rotate secret", () => act(rotate, async () => {
      const rotated = await api("POST", org(slug, `/webhooks/${hook.id}/rotate-secret`));
      secret.replaceChildren("New signing secret (shown once): ", h("code", {}, rotated.secret),
        ` — the previous one works until ${when(rotated.previous_secret_expires_at)}.`);
    }));
    const remove = button("Delete", () => act(remove, async () => {
      await api("DELETE", org(slug, `/webhooks/${hook.id}`));
      say("Endpoint deleted.");
      route();
    }), "secondary", { "aria-label": `Delete the endpoint ${hook.url}` });
    return h("section", { class: "card webhook" },
      h("h2", {}, hook.url),
      h("p", { class: "muted" }, `${hook.enabled ? "Enabled" : `Disabled (${hook.disabled_reason || "by hand"})`} · ${hook.events.join(", ")}`),
      h("div", { class: "actions" }, test, rotate, remove),
      secret,
      table(`Recent deliveries to ${hook.url}`, ["Event", "Status", "HTTP", "Attempt", "When"],
        deliveries.items.map((d) => [d.event, d.status, d.response_status ?? "—", String(d.attempt), when(d.created_at)]),
        "No deliveries yet."),
    );
  }));
  show(
    "Webhooks",
    ...cards,
    h("section", { class: "card" }, h("h2", {}, "Add an endpoint"),
      form("Add a webhook endpoint", [
        field("Endpoint URL", "url", { type: "url", required: true }, "https:// — it receives signed POSTs (Standard Webhooks)."),
        h("fieldset", {},
          h("legend", {}, "Events"),
          h("span", { "data-error-for": "events", class: "field-error" }),
          types.items.map(eventChoice)),
        h("fieldset", {},
          h("legend", {}, "More events (off unless chosen)"),
          types.opt_in.map(eventChoice)),
      ], "Add endpoint", async (values, data) => {
        const hook = await api("POST", org(slug, "/webhooks"), { url: values.url, events: data.getAll("events") });
        say("Endpoint added.");
        await route();
        main.append(h("section", { class: "card", role: "alert" },
          "Signing secret (shown once): ", h("code", {}, hook.secret)));
      }),
    ),
  );
}

async function domainView(slug) {
  const domain = await api("GET", org(slug, "/custom-domain")).catch((error) => {
    if (error instanceof Problem && error.status === 404) return null;
    throw error;
  });
  // Once verified, the certificate's validation record joins them (ACM renews it while
  // the record stays published).
  const validation = domain && domain.certificate && domain.certificate.validation_record;
  const records = domain && table(`DNS records for ${domain.domain}`, ["Type", "Name", "Value"], [
    ["CNAME", domain.domain, h("code", {}, domain.cname_target)],
    ["TXT", domain.txt_record.name, h("code", {}, domain.txt_record.value)],
    ...(validation ? [[validation.type, validation.name, h("code", {}, validation.value)]] : []),
  ], "");
  const verify = domain && button("Verify domain", () => act(verify, async () => {
    await api("POST", org(slug, "/custom-domain/verify"));
    say("Checking DNS…");
    await poll(() => api("GET", org(slug, "/custom-domain")), (d) => d.status !== "pending" || d.last_checked_at,
      () => say("Checking DNS…"), 30);
    route();
  }), "");
  show(
    "Custom domain",
    h("section", { class: "card" },
      h("h2", {}, domain ? domain.domain : "Use your own domain"),
      domain
        ? [
            h("p", {}, `Status: ${domain.status.replace("_", " ")}${domain.reason ? ` — ${domain.reason}` : ""}. Last checked ${when(domain.last_checked_at)}.`),
            domain.certificate && h("p", {}, `Certificate: ${domain.certificate.status.replace("_", " ")}.${domain.status === "active" ? ` Serving API calls since ${when(domain.active_at)}.` : ""}`),
            h("p", {}, "Add these records at your DNS provider, then verify:"),
            records,
            h("div", { class: "actions" }, verify,
              button("Remove domain", (event) => act(event.target, async () => {
                await api("DELETE", org(slug, "/custom-domain"));
                say("Domain removed.");
                route();
              }))),
          ]
        : form("Custom domain", [field("Domain", "domain", { required: true, placeholder: "mcp.example.com" })],
            "Add domain", async (values) => {
              await api("PUT", org(slug, "/custom-domain"), values);
              route();
            }),
    ),
  );
}

async function auditView(slug, cursor) {
  const params = new URLSearchParams(auditView.filters || {});
  params.set("limit", "25");
  if (cursor) params.set("cursor", cursor);
  const page = await api("GET", org(slug, `/audit-logs?${params}`));
  const next = page.next_cursor && button("Next page", () => auditView(slug, page.next_cursor).catch(route));
  const exportStatus = h("p", { "aria-live": "polite" });
  show(
    "Audit logs",
    h("section", { class: "card" },
      form("Filter the audit log", [
        field("From", "from", { type: "datetime-local", value: auditView.local?.from || "" }),
        field("To", "to", { type: "datetime-local", value: auditView.local?.to || "" }),
        field("User", "actor", { value: auditView.filters?.actor || "" }, "A user id (usr_…) or an API key id."),
        field("Action", "action", { value: auditView.filters?.action || "" }, "For example mcp.deleted."),
      ], "Apply filters", async (values) => {
        const filters = {};
        for (const key of ["from", "to"]) if (values[key]) filters[key] = new Date(values[key]).toISOString();
        for (const key of ["actor", "action"]) if (values[key].trim()) filters[key] = values[key].trim();
        auditView.filters = filters;
        auditView.local = { from: values.from, to: values.to };
        await auditView(slug);
      }),
    ),
    h("section", { class: "card" },
      table("Audit log entries, newest first", ["When", "Who", "Action", "Target", "Outcome"],
        page.items.map((e) => [when(e.occurred_at), e.actor.email || e.actor.id, e.action, `${e.target.type} ${e.target.id}`, e.outcome]),
        "No entries match."),
      h("div", { class: "actions" }, next,
        button("Export as CSV", (event) => act(event.target, async () => {
          const job = await api("POST", org(slug, "/audit-logs/export"), { format: "csv", ...(auditView.filters || {}) });
          await waitForExport(slug, job, exportStatus);
        }))),
      exportStatus,
    ),
  );
}

/** Shows an export's progress until its file is ready, then a link to it. */
async function waitForExport(slug, job, where) {
  const ready = await poll(() => api("GET", org(slug, `/exports/${job.id}`)),
    (e) => e.status === "ready" || e.status === "failed",
    (e) => where.replaceChildren(h("progress", { "aria-label": "Export progress" }), ` ${e.status}…`));
  if (ready.status === "failed") {
    where.replaceChildren(`The export failed: ${ready.error || "unknown error"}.`);
    return;
  }
  where.replaceChildren(`Ready (${ready.size_bytes} bytes). `,
    h("a", { href: ready.download_url, download: "", class: "button", id: `download-${ready.id}` },
      `Download ${ready.format.toUpperCase()}`),
    " — the link works for 15 minutes.");
}

const CATEGORIES = ["mcps", "api_keys", "members", "usage", "webhooks", "audit_logs"];

async function exportView(slug) {
  const progress = h("div", { "aria-live": "polite" });
  show(
    "Data export",
    h("section", { class: "card" },
      h("h2", {}, "Export your data"),
      form("Export data", [
        h("fieldset", {},
          h("legend", {}, "Data to include"),
          h("span", { "data-error-for": "include", class: "field-error" }),
          CATEGORIES.map((c) => h("label", { class: "check", for: `include-${c}` },
            h("input", { type: "checkbox", id: `include-${c}`, name: "include", value: c, checked: true }),
            ` ${c.replace("_", " ")}`))),
        h("label", { for: "export-format" }, "Format",
          h("select", { id: "export-format", name: "format" },
            h("option", { value: "json" }, "JSON"), h("option", { value: "csv" }, "CSV (zip)"))),
      ], "Generate export", async (values, data) => {
        const job = await api("POST", org(slug, "/exports"), { format: values.format, include: data.getAll("include") });
        await waitForExport(slug, job, progress);
      }),
      progress,
    ),
  );
}

async function dangerView(slug) {
  const current = await api("GET", org(slug));
  show(
    "Danger zone",
    h("section", { class: "card danger" },
      h("h2", {}, "Delete this organization"),
      h("p", {}, "Everything goes: MCP servers, API keys, members, usage, webhooks, the custom domain, exports and the audit log. Billing records are kept. This cannot be undone."),
      form("Delete the organization", [
        field(`Type the organization's name (${current.name}) to confirm`, "confirm_name", { required: true, autocomplete: "off" }),
        field("Your password", "password", { type: "password", autocomplete: "current-password", required: true }),
        me.two_factor_enabled
          ? field("Authentication code or backup code", "code", { autocomplete: "one-time-code", required: true })
          : null,
      ].filter(Boolean), "Delete organization", async (values) => {
        const body = { confirm_name: values.confirm_name, password: values.password };
        if (values.code) body.code = values.code.trim();
        await gated("POST", org(slug, "/delete"), body);
        await loadMe();
        say(`${current.name} is being deleted.`);
        go("#/orgs");
      }, { buttonClass: "danger" }),
    ),
  );
}

// ---- Account: two-factor authentication and sessions --------------------------------

/** "Chrome on Linux" from a user agent; the whole string stays in the title. */
function device(userAgent) {
  if (!userAgent) return "Unknown device";
  const browsers = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"],
    ["curl/", "curl"], ["python-requests", "Python requests"], ["reqwest", "reqwest"]];
  const systems = [["Android", "Android"], ["iPhone", "iOS"], ["iPad", "iPadOS"], ["Windows", "Windows"],
    ["Mac OS X", "macOS"], ["Linux", "Linux"]];
  const browser = browsers.find(([mark]) => userAgent.includes(mark))?.[1] || "A client";
  const system = systems.find(([mark]) => userAgent.includes(mark))?.[1];
  return h("span", { title: userAgent }, system ? `${browser} on ${system}` : browser);
}

async function accountView() {
  const sessions = await api("GET", "/v1/me/sessions");
  const twoFactor = h("div", {});
  const rows = sessions.items.map((s) => {
    const revoke = s.current
      ? h("span", { class: "muted" }, "This session")
      : button("Revoke", () => act(revoke, async () => {
          await api("DELETE", `/v1/me/sessions/${s.id}`);
          say("Session revoked.");
          route();
        }), "secondary", { "aria-label": `Revoke the session from ${s.ip || "unknown address"} last seen ${when(s.last_seen_at)}` });
    return [device(s.user_agent), s.ip || "—", when(s.last_seen_at), revoke];
  });
  show(
    "Account",
    h("section", { class: "card" }, h("h2", {}, "Two-factor authentication"), twoFactor),
    h("section", { class: "card" }, h("h2", {}, "Sessions"),
      table("Your sessions", ["Device", "IP address", "Last seen", ""], rows, "No sessions."),
      sessions.items.length > 1
        ? button("Sign out all other sessions", (event) => act(event.target, async () => {
            const revoked = await api("POST", "/v1/me/sessions/revoke-all");
            say(`Signed out ${revoked.revoked} other session${revoked.revoked === 1 ? "" : "s"}.`);
            route();
          }))
        : null),
  );
  twoFactorPanel(twoFactor);
}

function backupCodesPanel(codes) {
  const text = codes.join("\n");
  const copy = button("Copy codes", () => navigator.clipboard.writeText(text).then(() => say("Copied.")));
  return h("div", { class: "backup-codes", role: "region", "aria-label": "Backup codes" },
    h("p", {}, "Backup codes — each works once. Save them now: they are not shown again."),
    h("ul", { class: "codes" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
    h("div", { class: "actions" }, copy, downloadLink(text, "plexmcp-backup-codes.txt", "Download codes")));
}

function twoFactorPanel(where) {
  if (me.two_factor_enabled) {
    const shown = h("div", {});
    where.replaceChildren(
      h("p", {}, "Two-factor authentication is on."),
      h("h3", {}, "Backup codes"),
      form("New backup codes", [field("Authentication code", "code", { inputmode: "numeric", autocomplete: "one-time-code", required: true })],
        "Regenerate backup codes", async (values) => {
          const answer = await api("POST", "/v1/me/2fa/backup-codes", { code: values.code.trim() });
          shown.replaceChildren(backupCodesPanel(answer.backup_codes));
        }),
      shown,
      h("h3", {}, "Turn off two-factor authentication"),
      form("Turn off two-factor authentication", [
        field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
        field("Authentication code", "code", { inputmode: "numeric", autocomplete: "one-time-code", required: true }),
      ], "Turn off 2FA", async (values) => {
        await api("POST", "/v1/me/2fa/disable", { password: values.password, code: values.code.trim() });
        await loadMe();
        say("Two-factor authentication is off.");
        route();
      }, { buttonClass: "danger" }),
    );
    return;
  }
  where.replaceChildren(
    h("p", {}, "Protect your account with a code from an authenticator app at every sign-in."),
    form("Set up two-factor authentication", [
      field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
    ], "Set up 2FA", async (values) => {
      const setup = await api("POST", "/v1/me/2fa/setup", { password: values.password });
      where.replaceChildren(
        h("p", {}, "Scan this QR code with your authenticator app, or type the key by hand."),
        h("img", { src: setup.qr_code, alt: "QR code of the two-factor key", width: 200, height: 200 }),
        h("p", {}, "Key: ", h("code", { id: "totp-key" }, setup.secret)),
        form("Verify two-factor authentication", [
          field("Code from the app", "code", { inputmode: "numeric", autocomplete: "one-time-code", required: true }),
        ], "Verify and turn on", async ({ code }) => {
          const answer = await api("POST", "/v1/me/2fa/enable", { code: code.trim() });
          await loadMe();
          say("Two-factor authentication is on.");
          where.replaceChildren(h("p", {}, "Two-factor authentication is on."), backupCodesPanel(answer.backup_codes));
        }),
      );
    }),
  );
}

// ---- Routing ------------------------------------------------------------------------

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  sections.hidden = true;
  try {
    if (!known) await loadMe();
    if (parts[0] === "signup") return signupView();
    if (parts[0] && parts[0].startsWith("verify-email")) {
      return await verifyEmailView(new URLSearchParams(parts[0].split("?")[1] || "").get("token"));
    }
    if (me === null || parts[0] === "login") return loginView();
    if (parts[0] === "account") return await accountView();
    const section = parts[0] === "orgs" && parts[1] && SECTIONS.find(([key]) => key === parts[2]);
    if (section) {
      sectionNav(parts[1], section[0]);
      return await section[2](parts[1]);
    }
    return orgsView();
  } catch (error) {
    if (error instanceof Problem && error.status === 401) {
      me = null;
      return loginView();
    }
    show("Something went wrong", h("p", { class: "form-error", role: "alert" }, error.message));
  }
}

// The skip link moves focus without touching the URL, which names the page.
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", route);
route();
