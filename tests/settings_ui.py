#!/usr/bin/env python3
"""The settings pages in a real browser: Debian's headless Chromium, driven by Selenium
through ChromeDriver, against the local stack. A person signs up (a refused field shows
the problem's detail next to it), creates an organization, renames it, signs out and in,
invites a colleague, adds a custom domain, sets a PIN, deletes an MCP server through the
PIN dialog (a wrong PIN first), enables 2FA with a code pyotp computes from the page's
manual key, revokes another session, adds a webhook and sends a test to a receiver on
loopback (its signature checked with the Standard Webhooks library), filters the audit
log, generates a JSON export and downloads it, and deletes the organization. The
session cookie is never visible to the page's scripts.

Every screen is checked with axe-core (npm), run in the same browser: no serious or
critical violation. Screenshots of every screen at 375 and 1440 px wide are written
under target/screenshots/.

Usage: settings_ui.py BASE_URL
"""

import http.server
import json
import os
import pathlib
import sys
import tempfile
import threading
import time
import uuid

import pyotp
import requests
from standardwebhooks.webhooks import Webhook

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE = sys.argv[1].rstrip("/")
ROOT = pathlib.Path(__file__).resolve().parent.parent
SHOTS = ROOT / "target" / "screenshots"
AXE = (ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js").read_text()
WIDTHS = (375, 1440)
PASSWORD = "correct horse battery staple"
PIN, WRONG_PIN = "902514", "271828"
DOWNLOADS = pathlib.Path(tempfile.mkdtemp(prefix="downloads-"))

# The webhook receiver: records what it is sent, answers 200.
received = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(DOWNLOADS), "download.prompt_for_download": False,
    })
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_window_size(WIDTHS[-1], 1000)
    return driver


driver = browser()
wait = WebDriverWait(driver, 15)
screens = []


def heading(text):
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), text))


def publish(rows):
    """Publishes the records the page lists (type, name, value) in the test's DNS zone."""
    zone_file = pathlib.Path(os.environ["DNS_ZONE_FILE"])
    zone = json.loads(zone_file.read_text())
    for row in rows:
        kind, name, value = (cell.text for cell in row.find_elements(By.TAG_NAME, "td"))
        zone[name] = [[kind, value]]
    written = zone_file.with_suffix(".tmp")
    written.write_text(json.dumps(zone))
    written.rename(zone_file)


def screen(name):
    """Screenshots and an axe-core check at every width."""
    for width in WIDTHS:
        driver.set_window_size(width, 1000)
        driver.execute_script(AXE)
        result = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations), e => done(String(e)));"
        )
        assert isinstance(result, list), result
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
            for v in result
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"{name} at {width}px: axe-core found\n" + "\n".join(bad)
        driver.execute_script("window.scrollTo(0, 0)")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, max(height, 600))
        driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    driver.set_window_size(WIDTHS[-1], 1000)
    screens.append(name)


def click(by, value):
    """Clicks what the page shows once it is there and clickable, again if the page
    re-rendered it between the find and the click."""
    def clicked(_):
        try:
            wait.until(EC.element_to_be_clickable((by, value))).click()
            return True
        except StaleElementReferenceException:
            return False
    wait.until(clicked)


def fill(form_label, values):
    form = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'form[aria-label="{form_label}"]')))
    for name, value in values.items():
        control = form.find_element(By.NAME, name)
        control.clear()
        control.send_keys(value)
    return form


def submit(form):
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def field_error(form, name):
    return form.find_element(By.CSS_SELECTOR, f'[data-error-for="{name}"]').text


def said(text):
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), text))


SHOTS.mkdir(parents=True, exist_ok=True)
try:
    driver.get(f"{BASE}/")
    assert driver.current_url == f"{BASE}/settings/", driver.current_url
    heading("Sign in")
    screen("sign-in")

    click(By.LINK_TEXT, "Sign up")
    heading("Create your account")
    email = f"ui-{uuid.uuid4().hex[:12]}@example.com"
    form = fill("Sign up", {"name": "Ada Lovelace", "email": email, "password": "short"})
    submit(form)
    wait.until(lambda _: field_error(form, "password"))
    control = form.find_element(By.NAME, "password")
    assert control.get_attribute("aria-invalid") == "true"
    error_id = form.find_element(By.CSS_SELECTOR, '[data-error-for="password"]').get_attribute("id")
    assert error_id in control.get_attribute("aria-describedby").split(), "the error is the field's description"
    screen("sign-up-refused")
    form = fill("Sign up", {"password": PASSWORD})
    submit(form)
    heading("Organizations")
    said(f"Signed in as {email}")
    # The session is an HttpOnly cookie: no script of the page can read it.
    assert "plexmcp_session" not in driver.execute_script("return document.cookie")
    assert any(c["name"] == "plexmcp_session" and c["httpOnly"] for c in driver.get_cookies())
    screen("organizations")

    slug = f"ui-{uuid.uuid4().hex[:8]}"
    form = fill("Create an organization", {"name": "Analytical Engines", "slug": "Not A Slug!"})
    submit(form)
    wait.until(lambda _: field_error(form, "slug"))
    screen("create-organization-refused")
    form = fill("Create an organization", {"slug": slug, "description": "Difference and analytical engines"})
    submit(form)
    heading("General")
    assert driver.current_url.endswith(f"#/orgs/{slug}/general"), driver.current_url
    form = driver.find_element(By.CSS_SELECTOR, 'form[aria-label="General settings"]')
    assert form.find_element(By.NAME, "slug").get_attribute("readonly") is not None
    screen("general")

    # Keyboard only: Enter in the field saves the form.
    form = fill("General settings", {"name": "Engines of Ada"})
    form.find_element(By.NAME, "name").send_keys(Keys.ENTER)
    said("Saved: Engines of Ada")
    driver.refresh()
    heading("General")
    form = driver.find_element(By.CSS_SELECTOR, 'form[aria-label="General settings"]')
    assert form.find_element(By.NAME, "name").get_attribute("value") == "Engines of Ada"

    # The skip link shows when focused and takes focus to the content, staying on the page.
    skip = driver.find_element(By.CSS_SELECTOR, "a.skip")
    driver.execute_script("arguments[0].focus()", skip)
    assert skip.location["x"] >= 0 and skip.is_displayed()
    skip.send_keys(Keys.ENTER)
    assert driver.switch_to.active_element.get_attribute("id") == "main"
    heading("General")

    click(By.XPATH, "//button[text()='Sign out']")
    heading("Sign in")
    said("Signed out")
    assert not any(c["name"] == "plexmcp_session" for c in driver.get_cookies())
    form = fill("Sign in", {"email": email, "password": "wrong password entirely"})
    submit(form)
    wait.until(lambda _: driver.find_element(By.CSS_SELECTOR, 'form[aria-label="Sign in"] .form-error').text)
    screen("sign-in-refused")
    form = fill("Sign in", {"password": PASSWORD})
    submit(form)
    heading("Organizations")
    click(By.PARTIAL_LINK_TEXT, "Engines of Ada")
    heading("General")

    def section(label, title):
        click(By.LINK_TEXT, label)
        heading(title)

    # Team and the custom domain: their screens, with what they offer.
    section("Team", "Team")
    assert email in driver.find_element(By.TAG_NAME, "main").text
    form = fill("Invite", {"email": f"colleague-{uuid.uuid4().hex[:8]}@example.com"})
    submit(form)
    said("Invited")
    screen("team")
    # A custom domain needs a paid plan: refused with the reason, then the plan changes.
    section("Custom domain", "Custom domain")
    domain = f"mcp-{uuid.uuid4().hex[:8]}.example.com"
    form = fill("Custom domain", {"domain": domain})
    submit(form)
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main .form-error"), "Pro, Team and Enterprise"))
    section("General", "General")
    form = driver.find_element(By.CSS_SELECTOR, 'form[aria-label="Plan"]')
    form.find_element(By.CSS_SELECTOR, 'option[value="pro"]').click()
    submit(form)
    said("The plan is pro")
    section("Custom domain", "Custom domain")
    form = fill("Custom domain", {"domain": domain})
    submit(form)
    wait.until(EC.presence_of_element_located((By.XPATH, "//td[text()='TXT']")))
    # Published at the DNS provider (the test's DNS server on loopback) as the page says,
    # then verified: the worker gets its certificate and serves it; the page lists the
    # certificate's validation record beside the CNAME and the TXT.
    publish(driver.find_elements(By.XPATH, "//main//table//tr[td]"))
    click(By.XPATH, "//button[text()='Verify domain']")
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "main"), "Status: verified"))
    deadline = time.time() + 30
    while "Serving API calls since" not in driver.find_element(By.TAG_NAME, "main").text:
        assert time.time() < deadline, driver.find_element(By.TAG_NAME, "main").text
        time.sleep(0.5)
        driver.refresh()
        heading("Custom domain")
    names = [row.find_elements(By.TAG_NAME, "td")[1].text for row in driver.find_elements(By.XPATH, "//main//table//tr[td]")]
    assert len(names) == 3 and names[2].endswith(f".{domain}."), names
    screen("custom-domain")

    # A PIN, then an MCP server deleted through the PIN dialog: a wrong PIN first.
    section("Security", "Security")
    form = fill("Set a PIN", {"pin": PIN, "pin_confirmation": PIN})
    submit(form)
    said("PIN protection is on")
    screen("security")
    section("MCP servers", "MCP servers")
    form = fill("Add an MCP server", {"name": "Weather", "url": "https://weather.example.com/mcp"})
    submit(form)
    said("Added Weather")
    screen("mcp-servers")
    click(By.CSS_SELECTOR, 'button[aria-label="Delete Weather"]')
    dialog = wait.until(EC.visibility_of_element_located((By.TAG_NAME, "dialog")))
    assert "PIN-protected" in dialog.text
    dialog.find_element(By.NAME, "pin").send_keys(WRONG_PIN + Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "dialog"), "4 attempts left"))
    screen("pin-dialog")
    field_pin = driver.find_element(By.CSS_SELECTOR, "dialog [name=pin]")
    field_pin.send_keys(PIN + Keys.ENTER)
    said("Deleted Weather")
    assert "Weather" not in driver.find_element(By.TAG_NAME, "main").text

    # 2FA with a code computed by a real authenticator from the page's manual key.
    click(By.LINK_TEXT, "Account")
    heading("Account")
    form = fill("Set up two-factor authentication", {"password": PASSWORD})
    submit(form)
    key = wait.until(EC.visibility_of_element_located((By.ID, "totp-key"))).text
    screen("two-factor-setup")
    form = fill("Verify two-factor authentication", {"code": pyotp.TOTP(key).now()})
    submit(form)
    said("Two-factor authentication is on")
    codes = [c.text for c in driver.find_elements(By.CSS_SELECTOR, ".backup-codes code")]
    assert len(codes) == 10, codes
    assert driver.find_element(By.LINK_TEXT, "Download codes").get_attribute("download")
    screen("backup-codes")

    # Another session (a second device) is listed and revoked.
    other = requests.post(f"{BASE}/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10).json()
    assert other["two_factor_required"]
    other = requests.post(f"{BASE}/v1/auth/login/2fa",
                          json={"challenge_token": other["challenge_token"], "backup_code": codes[-1]}, timeout=10).json()
    assert requests.get(f"{BASE}/v1/me", headers={"Authorization": f"Bearer {other['token']}"}, timeout=10).ok
    driver.refresh()
    heading("Account")
    revoke = wait.until(EC.element_to_be_clickable((By.XPATH, "//button[text()='Revoke']")))
    screen("sessions")
    revoke.click()
    said("Session revoked")
    gone = requests.get(f"{BASE}/v1/me", headers={"Authorization": f"Bearer {other['token']}"}, timeout=10)
    assert gone.status_code == 401, gone.text

    # A webhook to a receiver on loopback, and Send Test.
    click(By.LINK_TEXT, "Organizations")
    heading("Organizations")
    click(By.PARTIAL_LINK_TEXT, "Engines of Ada")
    heading("General")
    section("Webhooks", "Webhooks")
    form = fill("Add a webhook endpoint", {"url": f"http://127.0.0.1:{receiver.server_port}/hook"})
    # The opt-in event type is offered under its own heading, unticked.
    opt_in = form.find_element(By.CSS_SELECTOR, 'input[value="custom_domain.status_changed"]')
    assert not opt_in.is_selected()
    assert "More events" in opt_in.find_element(By.XPATH, "ancestor::fieldset/legend").text
    form.find_element(By.CSS_SELECTOR, 'input[value="mcp.created"]').click()
    submit(form)
    secret = wait.until(EC.visibility_of_element_located((By.XPATH, "//section[@role='alert']/code"))).text
    assert secret.startswith("whsec_"), secret
    click(By.XPATH, "//button[text()='Send test']")
    said("Test event queued")
    deadline = time.time() + 20
    while not received and time.time() < deadline:
        time.sleep(0.2)
    assert received, "the receiver got no test event"
    headers, body = received[0]
    Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    wait.until(EC.presence_of_element_located((By.XPATH, "//td[text()='200']")))
    screen("webhooks")

    # A JSON export, generated, then downloaded by the browser.
    section("Audit logs", "Audit logs")
    form = fill("Filter the audit log", {"action": "mcp.deleted"})
    submit(form)
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "tbody"), "mcp.deleted"))
    screen("audit-logs")
    section("Data export", "Data export")
    submit(driver.find_element(By.CSS_SELECTOR, 'form[aria-label="Export data"]'))
    link = WebDriverWait(driver, 60).until(EC.element_to_be_clickable((By.PARTIAL_LINK_TEXT, "Download JSON")))
    screen("data-export")
    link.click()
    deadline = time.time() + 20
    while time.time() < deadline and not [f for f in DOWNLOADS.iterdir() if f.suffix == ".json"]:
        time.sleep(0.2)
    files = [f for f in DOWNLOADS.iterdir() if f.suffix == ".json"]
    assert files, f"no JSON download in {list(DOWNLOADS.iterdir())}"
    exported = json.loads(files[0].read_text())
    assert exported, exported

    # The danger zone: the name, the password, a backup code, and the PIN.
    section("Danger zone", "Danger zone")
    form = fill("Delete the organization", {"confirm_name": "engines of ada", "password": PASSWORD, "code": codes[0]})
    submit(form)
    wait.until(lambda _: field_error(form, "confirm_name"))
    screen("danger-zone")
    form = fill("Delete the organization", {"confirm_name": "Engines of Ada"})
    submit(form)
    wait.until(EC.visibility_of_element_located((By.TAG_NAME, "dialog")))
    driver.find_element(By.CSS_SELECTOR, "dialog [name=pin]").send_keys(PIN + Keys.ENTER)
    heading("Organizations")
    said("is being deleted")
    assert "Engines of Ada" not in driver.find_element(By.TAG_NAME, "main").text

    # Signing in now takes the second step: a spent backup code is refused, a fresh one works.
    click(By.XPATH, "//button[text()='Sign out']")
    heading("Sign in")
    submit(fill("Sign in", {"email": email, "password": PASSWORD}))
    heading("Two-factor authentication")
    form = fill("Second factor", {"code": codes[0]})
    submit(form)
    wait.until(lambda _: form.find_element(By.CSS_SELECTOR, ".form-error").text)
    screen("sign-in-second-step")
    submit(fill("Second factor", {"code": codes[1]}))
    heading("Organizations")
    said(f"Signed in as {email}")
except Exception:
    # What the page showed when the journey stopped, for whoever reads the failure.
    driver.save_screenshot(str(SHOTS / "failure.png"))
    print("page at failure:", driver.current_url, "\n", driver.find_element(By.TAG_NAME, "body").text, file=sys.stderr)
    raise
finally:
    logs = driver.get_log("browser")
    driver.quit()

# Refusals the journey provokes on purpose are logged by the browser as failed loads.
expected = ("401", "403", "404", "422")
errors = [entry for entry in logs if entry["level"] == "SEVERE" and not any(f"status of {code}" in entry["message"] for code in expected)]
assert not errors, json.dumps(errors, indent=1)
print(f"settings pages: {len(screens)} screens checked with axe-core at {WIDTHS} px; screenshots in {SHOTS}")
