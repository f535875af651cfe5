//! The settings pages in headless Chromium, driven by Selenium (tests/settings_ui.py):
//! sign up, a refused field shown next to it, create and rename an organization, sign
//! out and in; axe-core on every screen at 375 and 1440 px, screenshots of each under
//! target/screenshots/. On the stack whose domain worker is quick: a custom domain is
//! published in the binary's DNS server, verified and served while the page is open.

#[test]
fn a_person_manages_an_organization_in_a_real_browser() {
    plexmcp_tests::python_check_on(
        plexmcp_tests::stack_checking_domains_every_second(),
        "settings_ui.py",
    );
}
