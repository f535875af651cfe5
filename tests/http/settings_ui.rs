//! The settings pages in headless Chromium, driven by Selenium (tests/settings_ui.py):
//! sign up, a refused field shown next to it, create and rename an organization, sign
//! out and in; axe-core on every screen at 375 and 1440 px, screenshots of each under
//! target/screenshots/.

#[test]
fn a_person_manages_an_organization_in_a_real_browser() {
    plexmcp_tests::python_check("settings_ui.py");
}
