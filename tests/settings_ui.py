#!/usr/bin/env python3
"""The settings pages in a real browser: Debian's headless Chromium, driven by Selenium
through ChromeDriver, against the local stack. A person signs up, is refused a bad slug
with the problem's detail next to the field, creates an organization, renames it, signs
out and signs in again; the session cookie is never visible to the page's scripts.

Every screen is checked with axe-core (npm), run in the same browser: no serious or
critical violation. Screenshots of every screen at 375 and 1440 px wide are written
under target/screenshots/.

Usage: settings_ui.py BASE_URL
"""

import json
import pathlib
import sys
import tempfile
import uuid

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
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


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_window_size(WIDTHS[-1], 1000)
    return driver


driver = browser()
wait = WebDriverWait(driver, 15)
screens = []


def heading(text):
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), text))


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
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, max(height, 600))
        driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    driver.set_window_size(WIDTHS[-1], 1000)
    screens.append(name)


def fill(form_label, values):
    form = driver.find_element(By.CSS_SELECTOR, f'form[aria-label="{form_label}"]')
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

    driver.find_element(By.LINK_TEXT, "Sign up").click()
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

    driver.find_element(By.XPATH, "//button[text()='Sign out']").click()
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
    driver.find_element(By.PARTIAL_LINK_TEXT, "Engines of Ada").click()
    heading("General")
finally:
    logs = driver.get_log("browser")
    driver.quit()

errors = [entry for entry in logs if entry["level"] == "SEVERE" and "401" not in entry["message"]
          and "422" not in entry["message"]]
assert not errors, json.dumps(errors, indent=1)
print(f"settings pages: {len(screens)} screens checked with axe-core at {WIDTHS} px; screenshots in {SHOTS}")
