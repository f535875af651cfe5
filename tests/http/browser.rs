//! The settings pages and their browser sessions, as a browser meets them over HTTP: the
//! pages and assets with their headers, a sign-in that sets an HttpOnly cookie instead of
//! answering with the token, and the CSRF header every change signed in by that cookie
//! needs. (`settings_ui` drives the pages in a real browser.)

use plexmcp_tests::fixtures::PASSWORD;
use plexmcp_tests::{stack, unique, Account, Api, Resp};
use reqwest::Method;
use serde_json::json;

const CSRF: (&str, &str) = ("X-PlexMCP-CSRF", "1");

fn header<'a>(resp: &'a Resp, name: &str) -> &'a str {
    resp.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// Signs in as a browser: the session comes back as a cookie, `name=value` for the
/// requests that follow.
async fn browser_login(api: &Api, email: &str) -> (Resp, String) {
    let login = api
        .send(
            api.raw(Method::POST, "/v1/auth/login")
                .header("X-PlexMCP-Session", "cookie")
                .json(&json!({ "email": email, "password": PASSWORD })),
        )
        .await
        .expect(200);
    let cookie = header(&login, "set-cookie").to_owned();
    let pair = cookie.split(';').next().unwrap().to_owned();
    (login, pair)
}

#[tokio::test]
async fn a_browser_session_is_an_httponly_cookie_and_changes_need_the_csrf_header() {
    let api = stack().api();
    let account = Account::create(&api).await;
    let (login, cookie) = browser_login(&api, &account.email).await;
    assert!(login.body.get("token").is_none(), "{}", login.body);
    assert!(login.body["session_id"].is_string());
    let set = header(&login, "set-cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=2592000"] {
        assert!(set.contains(attribute), "{set}");
    }
    // The local stack is plain http on loopback: only there may Secure be left out.
    assert!(!set.contains("Secure"), "{set}");

    let me = api
        .send(api.raw(Method::GET, "/v1/me").header("cookie", &cookie))
        .await
        .expect(200);
    assert_eq!(me.body["email"], account.email.as_str());

    let slug = unique("web-");
    let create = |csrf: bool| {
        let request = api
            .raw(Method::POST, "/v1/orgs")
            .header("cookie", &cookie)
            .json(&json!({ "name": "Browser Org", "slug": slug }));
        if csrf {
            request.header(CSRF.0, CSRF.1)
        } else {
            request
        }
    };
    api.send(create(false)).await.problem(403, "forbidden");
    api.send(
        api.raw(Method::GET, &format!("/v1/orgs/{slug}"))
            .header("cookie", &cookie),
    )
    .await
    .problem(404, "not_found");
    api.send(create(true)).await.expect(201);
    // Org routes take the cookie too, and hold changes to the same rule.
    let rename = |csrf: Option<&str>| {
        let request = api
            .raw(Method::PATCH, &format!("/v1/orgs/{slug}"))
            .header("cookie", &cookie)
            .json(&json!({ "name": "Renamed in a browser" }));
        match csrf {
            Some(value) => request.header(CSRF.0, value),
            None => request,
        }
    };
    api.send(rename(None)).await.problem(403, "forbidden");
    api.send(rename(Some("0"))).await.problem(403, "forbidden");
    let renamed = api.send(rename(Some("1"))).await.expect(200);
    assert_eq!(renamed.body["name"], "Renamed in a browser");

    // A Bearer header wins over the cookie, even a bad one.
    api.send(
        api.raw(Method::GET, "/v1/me")
            .header("cookie", &cookie)
            .bearer_auth("pms.not.a.token"),
    )
    .await
    .problem(401, "unauthorized");
    // API clients are unchanged: a Bearer sign-in answers with the token, no cookie.
    let bearer = api
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": account.email, "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert!(bearer.body["token"].is_string());
    assert!(bearer.headers.get("set-cookie").is_none());

    // Signing out needs the header too, ends the session and clears the cookie.
    api.send(
        api.raw(Method::POST, "/v1/auth/logout")
            .header("cookie", &cookie),
    )
    .await
    .problem(403, "forbidden");
    let out = api
        .send(
            api.raw(Method::POST, "/v1/auth/logout")
                .header("cookie", &cookie)
                .header(CSRF.0, CSRF.1),
        )
        .await
        .expect(204);
    assert!(header(&out, "set-cookie").contains("Max-Age=0"));
    api.send(api.raw(Method::GET, "/v1/me").header("cookie", &cookie))
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn off_loopback_the_cookie_is_host_prefixed_and_secure_and_the_bare_name_is_ignored() {
    let api = stack().api();
    let account = Account::create(&api).await;
    // As a deployed API is asked: for its own host name, over https at the edge.
    let host = ("host", "api.plexmcp.example");
    let login = api
        .send(
            api.raw(Method::POST, "/v1/auth/login")
                .header(host.0, host.1)
                .header("X-PlexMCP-Session", "cookie")
                .json(&json!({ "email": account.email, "password": PASSWORD })),
        )
        .await
        .expect(200);
    let set = header(&login, "set-cookie");
    assert!(set.starts_with("__Host-plexmcp_session="), "{set}");
    for attribute in ["; Secure", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Domain="), "{set}");
    let pair = set.split(';').next().unwrap();
    let me = |cookie: String| {
        let api = api.clone();
        async move {
            api.send(
                api.raw(Method::GET, "/v1/me")
                    .header(host.0, host.1)
                    .header("cookie", cookie),
            )
            .await
        }
    };
    me(pair.to_owned()).await.expect(200);
    // The same token under the bare name (a cookie a sibling subdomain could plant) is
    // not a session there.
    let bare = pair.replacen("__Host-", "", 1);
    me(bare).await.problem(401, "unauthorized");
}

#[tokio::test]
async fn the_settings_pages_are_served_with_a_strict_policy_and_hashed_assets() {
    let api = stack().api();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/", "/settings"] {
        let resp = no_redirects.get(api.url(path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 308, "{path}");
        assert_eq!(resp.headers()["location"], "/settings/");
    }
    for path in ["/settings/", "/settings/orgs/acme/general"] {
        let page = api.send(api.raw(Method::GET, path)).await.expect(200);
        assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
        let csp = header(&page, "content-security-policy");
        assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(header(&page, "x-frame-options"), "DENY");
        assert_eq!(header(&page, "cache-control"), "no-cache");
        let html = page.body.as_str().unwrap();
        assert!(html.contains("<main"), "{html}");
        let script = html
            .split("src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        assert!(script.starts_with("/settings/assets/app."), "{script}");
        let asset = api.send(api.raw(Method::GET, script)).await.expect(200);
        assert_eq!(
            header(&asset, "content-type"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            header(&asset, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header(&asset, "x-content-type-options"), "nosniff");
    }
    api.send(api.raw(Method::GET, "/settings/assets/app.js"))
        .await
        .problem(404, "not_found");
    api.send(api.raw(Method::POST, "/settings/"))
        .await
        .problem(405, "method_not_allowed");
}
