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
    const values = Object.fromEntries(new FormData(el).entries());
    button.disabled = true;
    try {
      await submit(values);
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
      if (!placed) formError.textContent = error.message;
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

const SECTIONS = [["general", "General"]];

function sectionNav(slug, current) {
  sections.hidden = false;
  sections.replaceChildren(...SECTIONS.map(([key, label]) =>
    h("a", { href: `#/orgs/${slug}/${key}`, "aria-current": key === current ? "page" : false }, label)));
}

async function generalView(slug) {
  sectionNav(slug, "general");
  const org = await api("GET", `/v1/orgs/${encodeURIComponent(slug)}`);
  show(
    "General",
    h("section", { class: "card" },
      h("h2", {}, "Organization"),
      form("General settings", [
        field("Name", "name", { value: org.name, required: true, maxlength: 100 }),
        field("Slug", "slug", { value: org.slug, readonly: true }, "The slug cannot be changed."),
        field("Description", "description", { multiline: true, value: org.description, maxlength: 500 }),
      ], "Save changes", async ({ name, description }) => {
        const saved = await api("PATCH", `/v1/orgs/${encodeURIComponent(slug)}`, { name, description });
        await loadMe();
        say(`Saved: ${saved.name}.`);
      }),
    ),
  );
}

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  sections.hidden = true;
  try {
    if (!known) await loadMe();
    if (parts[0] === "signup") return signupView();
    if (me === null || parts[0] === "login") return loginView();
    if (parts[0] === "orgs" && parts[1] && parts[2] === "general") return await generalView(parts[1]);
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
