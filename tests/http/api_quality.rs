//! Bad input of every kind is a clear 4xx problem response and changes nothing.

use plexmcp_tests::{stack, Api, OrgFixture, CORS_ORIGIN};
use reqwest::Method;
use serde_json::json;

async fn raw_patch(
    api: &Api,
    org: &OrgFixture,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> plexmcp_tests::Resp {
    let mut request = api
        .raw(Method::PATCH, &org.path(""))
        .bearer_auth(&org.owner.token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    api.send(request).await
}

#[tokio::test]
async fn malformed_wrongly_typed_unlabelled_and_oversized_bodies_are_4xx_and_change_nothing() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let before = api
        .get(&org.path(""), &org.owner.token)
        .await
        .expect(200)
        .body;

    raw_patch(
        &api,
        &org,
        b"{\"name\": ".to_vec(),
        Some("application/json"),
    )
    .await
    .problem(400, "malformed_body");
    raw_patch(
        &api,
        &org,
        b"not json at all".to_vec(),
        Some("application/json"),
    )
    .await
    .problem(400, "malformed_body");
    raw_patch(&api, &org, b"[]".to_vec(), Some("application/json"))
        .await
        .problem(422, "validation_failed");
    raw_patch(
        &api,
        &org,
        b"{\"name\": [1]}".to_vec(),
        Some("application/json"),
    )
    .await
    .problem(422, "validation_failed");
    let unknown = raw_patch(
        &api,
        &org,
        b"{\"owner\": \"me\"}".to_vec(),
        Some("application/json"),
    )
    .await
    .problem(422, "validation_failed");
    assert_eq!(unknown.body["errors"][0]["field"], "owner");
    raw_patch(
        &api,
        &org,
        b"{\"name\": \"Plain\"}".to_vec(),
        Some("text/plain"),
    )
    .await
    .problem(415, "unsupported_media_type");
    raw_patch(&api, &org, b"{\"name\": \"None\"}".to_vec(), None)
        .await
        .problem(415, "unsupported_media_type");
    let huge =
        serde_json::to_vec(&json!({ "name": "Big", "description": "x".repeat(1024 * 1024) }))
            .unwrap();
    raw_patch(&api, &org, huge, Some("application/json"))
        .await
        .problem(413, "payload_too_large");
    // A 2 MB body is read to its end and answered, as API Gateway does (up to 10 MB), so
    // the same keep-alive connection serves the next request.
    let two_mb = serde_json::to_vec(&json!({ "description": "y".repeat(2 << 20) })).unwrap();
    for _ in 0..3 {
        raw_patch(&api, &org, two_mb.clone(), Some("application/json"))
            .await
            .problem(413, "payload_too_large");
        api.get(&org.path(""), &org.owner.token).await.expect(200);
    }
    // A vendor +json type is JSON.
    raw_patch(
        &api,
        &org,
        b"{\"description\": \"ok\"}".to_vec(),
        Some("application/merge-patch+json"),
    )
    .await
    .expect(200);
    api.patch(
        &org.path(""),
        &org.owner.token,
        json!({ "description": before["description"] }),
    )
    .await
    .expect(200);

    assert_eq!(
        api.get(&org.path(""), &org.owner.token)
            .await
            .expect(200)
            .body,
        before
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_responses() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    api.get("/v1/nothing-here", &org.owner.token)
        .await
        .problem(404, "not_found");
    // Outside /v1 and the settings pages (`/` itself redirects to them: see `browser`).
    api.call(Method::GET, "/nowhere", None, None)
        .await
        .problem(404, "not_found");
    api.call(Method::DELETE, "/v1/auth/signup", None, None)
        .await
        .problem(405, "method_not_allowed");
    api.call(
        Method::PUT,
        &org.path(""),
        Some(&org.owner.token),
        Some(json!({})),
    )
    .await
    .problem(405, "method_not_allowed");
}

#[tokio::test]
async fn a_listed_origin_gets_its_preflight_and_cors_headers_and_no_other_does() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let preflight = |origin: &'static str, method: &'static str| {
        api.send(
            api.raw(Method::OPTIONS, &org.path(""))
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header("access-control-request-headers", "authorization,if-match"),
        )
    };
    // The gateway answers the preflight (as API Gateway does); the functions never see it.
    let allowed = preflight(CORS_ORIGIN, "PATCH").await;
    assert_eq!(allowed.status, 204, "{:?}", allowed.body);
    let header = |resp: &plexmcp_tests::Resp, name: &str| {
        resp.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some(CORS_ORIGIN)
    );
    let methods = header(&allowed, "access-control-allow-methods").unwrap();
    assert!(methods.split(',').any(|m| m == "PATCH"), "{methods}");
    let headers = header(&allowed, "access-control-allow-headers").unwrap();
    for needed in [
        "authorization",
        "if-match",
        "idempotency-key",
        "x-plexmcp-pin",
    ] {
        assert!(headers.split(',').any(|h| h == needed), "{headers}");
    }
    assert_eq!(
        header(&allowed, "access-control-max-age").as_deref(),
        Some("600")
    );
    // A page of the listed origin reads the answer and the headers a client needs.
    let read = api
        .send(
            api.raw(Method::GET, &org.path(""))
                .bearer_auth(&org.owner.token)
                .header("origin", CORS_ORIGIN),
        )
        .await
        .expect(200);
    assert_eq!(
        header(&read, "access-control-allow-origin").as_deref(),
        Some(CORS_ORIGIN)
    );
    let exposed = header(&read, "access-control-expose-headers").unwrap();
    for needed in ["etag", "x-request-id", "location", "retry-after"] {
        assert!(exposed.split(',').any(|h| h == needed), "{exposed}");
    }
    // Any other origin (or method) gets no CORS headers: the browser keeps the answer.
    for (origin, method) in [("https://evil.example", "PATCH"), (CORS_ORIGIN, "TRACE")] {
        let refused = preflight(origin, method).await;
        assert!(header(&refused, "access-control-allow-origin").is_none());
    }
    let elsewhere = api
        .send(
            api.raw(Method::GET, &org.path(""))
                .bearer_auth(&org.owner.token)
                .header("origin", "https://evil.example"),
        )
        .await
        .expect(200);
    assert!(header(&elsewhere, "access-control-allow-origin").is_none());
    // An OPTIONS that is no preflight reaches the functions: no such method there.
    api.call(Method::OPTIONS, &org.path(""), Some(&org.owner.token), None)
        .await
        .problem(405, "method_not_allowed");
}

#[tokio::test]
async fn login_and_signup_bodies_are_validated_before_anything_happens() {
    let api = stack().api();
    api.post("/v1/auth/login", None, json!({ "email": "a@example.com" }))
        .await
        .problem(422, "validation_failed");
    api.post("/v1/auth/login", None, json!({ "email": 1, "password": 2 }))
        .await
        .problem(422, "validation_failed");
    let unlabelled = api
        .send(api.raw(Method::POST, "/v1/auth/signup").body("{}"))
        .await;
    assert_eq!(
        (unlabelled.status, unlabelled.code()),
        (415, "unsupported_media_type")
    );
}

#[tokio::test]
async fn extreme_dates_are_400_before_any_date_arithmetic() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let (_, key) = org.api_key(&api).await;
    // Any well-formed key used to crash the process here, before authentication.
    let forged_key = "pmcp_0000000000000000000000000000000000000000000";
    for query in [
        "to=-262143-01-01",
        "to=+262142-12-31",
        "from=-262143-01-01",
        "from=1999-12-31",
        "to=2101-01-01",
        "from=0000-01-01&to=0000-01-30",
    ] {
        for token in [forged_key, key.as_str(), org.owner.token.as_str()] {
            api.get(&org.path(&format!("/usage?{query}")), token)
                .await
                .problem(400, "invalid_query");
        }
    }
    api.get(&org.path("/usage?from=2000-01-01&to=2000-12-31"), &key)
        .await
        .expect(200);
    api.get(&org.path("/usage?to=2000-01-05"), &key)
        .await
        .expect(200);
}

#[tokio::test]
async fn paths_that_do_not_decode_are_problem_responses() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    for path in [
        "/v1/orgs/%FF".to_owned(),
        "/v1/orgs/%FF/members".to_owned(),
        org.path("/members/%C0%AF"),
        org.path("/mcps/%FF%FE"),
        "/v1/me/sessions/%FF".to_owned(),
        "/v1/me/invitations/%FF/accept".to_owned(),
    ] {
        for method in [Method::GET, Method::DELETE, Method::POST] {
            let resp = api
                .send(
                    api.raw(method.clone(), &path)
                        .bearer_auth(&org.owner.token)
                        .json(&json!({})),
                )
                .await;
            assert!(
                (400..500).contains(&resp.status),
                "{method} {path}: {}",
                resp.status
            );
            assert!(
                resp.content_type().starts_with("application/problem+json"),
                "{method} {path}: {} {}",
                resp.content_type(),
                resp.body
            );
        }
    }
}

#[tokio::test]
async fn no_answer_that_carries_a_token_or_a_callers_data_may_be_stored_by_a_cache() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let (_, key) = org.api_key(&api).await;
    let login = api
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": org.owner.email, "password": plexmcp_tests::fixtures::PASSWORD }),
        )
        .await
        .expect(200);
    let answers = [
        login,
        api.get("/v1/me", &org.owner.token).await.expect(200),
        api.get(&org.path("/members"), &org.member.token)
            .await
            .expect(200),
        api.get(&org.path("/mcps"), &key).await.expect(200),
        api.post(
            &org.path("/api-keys"),
            Some(&org.owner.token),
            json!({ "name": "k" }),
        )
        .await
        .expect(201),
        api.get(&org.path("/nowhere"), &org.owner.token)
            .await
            .problem(404, "not_found"),
        api.get("/v1/me", "pms.garbage")
            .await
            .problem(401, "unauthorized"),
    ];
    for answer in answers {
        assert_eq!(
            answer
                .headers
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{} {}",
            answer.status,
            answer.body
        );
    }
}

#[tokio::test]
async fn every_answer_names_its_request_and_a_problem_quotes_it() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let id = |resp: &plexmcp_tests::Resp| {
        resp.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no X-Request-Id: {:?}", resp.headers))
            .to_owned()
    };
    let ok = api.get(&org.path(""), &org.owner.token).await.expect(200);
    let again = api.get(&org.path(""), &org.owner.token).await.expect(200);
    assert!(id(&ok).starts_with("req_"), "{}", id(&ok));
    assert_ne!(id(&ok), id(&again), "one id per request");
    let problems = [
        api.get(&org.path(""), "pms.not.a.token")
            .await
            .problem(401, "unauthorized"),
        api.get("/v1/no-such-route", &org.owner.token)
            .await
            .problem(404, "not_found"),
        raw_patch(&api, &org, b"{".to_vec(), Some("application/json"))
            .await
            .problem(400, "malformed_body"),
    ];
    for problem in &problems {
        assert_eq!(problem.body["request_id"], id(problem).as_str());
    }
    // A client's own id is logged beside ours, never taken as ours.
    let theirs = api
        .send(
            api.raw(Method::GET, &org.path(""))
                .bearer_auth(&org.owner.token)
                .header("X-Request-Id", "client-trace-42"),
        )
        .await
        .expect(200);
    assert!(id(&theirs).starts_with("req_"));
}

#[tokio::test]
async fn every_created_resource_says_where_it_lives() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let slug = plexmcp_tests::unique("loc-");
    let token = &org.owner.token;
    let created = [
        api.post(
            "/v1/orgs",
            Some(token),
            json!({ "name": "Located", "slug": slug }),
        )
        .await,
        api.post(
            &org.path("/mcps"),
            Some(token),
            json!({ "name": "Weather", "url": "https://weather.example.com/mcp" }),
        )
        .await,
        api.post(
            &org.path("/webhooks"),
            Some(token),
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["mcp.created"] }),
        )
        .await,
        api.post(
            &org.path("/members"),
            Some(token),
            json!({ "email": "located@example.com", "role": "viewer" }),
        )
        .await,
        api.post(&org.path("/api-keys"), Some(token), json!({ "name": "CI" }))
            .await,
    ];
    for answer in created {
        let answer = answer.expect(201);
        let location = answer
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location: {}", answer.body))
            .to_owned();
        let id = answer.body["id"].as_str().unwrap();
        if location.contains("/api-keys/") {
            // A key is never read back; its path is where it is revoked.
            assert_eq!(location, org.path(&format!("/api-keys/{id}")));
            api.delete(&location, token).await.expect(204);
            continue;
        }
        let read = api.get(&location, token).await.expect(200);
        assert_eq!(read.body["id"], id, "{location}");
    }
}

/// `If-Match` with a stale version is 412 and changes nothing; the current one (or `*`)
/// passes and the answer carries the new version.
#[tokio::test]
async fn a_change_sent_with_a_stale_etag_is_412_and_changes_nothing() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let token = &org.owner.token;
    let mcp = org.mcp(&api).await;
    let webhook = api
        .post(
            &org.path("/webhooks"),
            Some(token),
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["mcp.created"] }),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let etag = |resp: &plexmcp_tests::Resp| {
        resp.headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no ETag: {:?}", resp.headers))
            .to_owned()
    };
    let patch = |path: String, version: String, body: serde_json::Value| {
        let api = api.clone();
        let token = token.clone();
        async move {
            api.send(
                api.raw(Method::PATCH, &path)
                    .bearer_auth(token)
                    .header("If-Match", version)
                    .json(&body),
            )
            .await
        }
    };
    for (path, field) in [
        (org.path(""), "description"),
        (org.path(&format!("/mcps/{mcp}")), "name"),
        (org.path(&format!("/webhooks/{webhook}")), "description"),
    ] {
        let read = api.get(&path, token).await.expect(200);
        let version = etag(&read);
        assert_eq!(
            etag(&api.get(&path, token).await.expect(200)),
            version,
            "stable"
        );
        let changed = patch(path.clone(), version.clone(), json!({ field: "First" }))
            .await
            .expect(200);
        let newer = etag(&changed);
        assert_ne!(newer, version, "{path}");
        let reread = api.get(&path, token).await.expect(200);
        assert_eq!(
            etag(&reread),
            newer,
            "{path}: {} then {}",
            changed.body,
            reread.body
        );
        // The old version is stale now: refused, nothing changes.
        patch(path.clone(), version, json!({ field: "Second" }))
            .await
            .problem(412, "precondition_failed");
        let now = api.get(&path, token).await.expect(200);
        assert_eq!(now.body[field], "First", "{path}");
        patch(
            path.clone(),
            "W/".to_owned() + &newer,
            json!({ field: "Weak" }),
        )
        .await
        .problem(412, "precondition_failed");
        patch(path.clone(), "*".into(), json!({ field: "Any" }))
            .await
            .expect(200);
    }
    // A member's role: the member is read alone (any member may), with its version.
    let path = org.path(&format!("/members/{}", org.member.id));
    let read = api.get(&path, &org.viewer.token).await.expect(200);
    assert_eq!(read.body["role"], "member");
    let version = etag(&read);
    let changed = patch(path.clone(), version.clone(), json!({ "role": "viewer" }))
        .await
        .expect(200);
    assert_eq!(changed.body["role"], "viewer");
    assert_eq!(
        etag(&api.get(&path, token).await.expect(200)),
        etag(&changed)
    );
    patch(path.clone(), version, json!({ "role": "admin" }))
        .await
        .problem(412, "precondition_failed");
    assert_eq!(
        api.get(&path, token).await.expect(200).body["role"],
        "viewer"
    );
    api.get(&org.path("/members/usr_unknown"), token)
        .await
        .problem(404, "not_found");
}

/// The PIN settings and the plan: a PUT/DELETE sent with a stale `If-Match` is 412 and
/// changes nothing; with the current version it passes and answers the next one.
#[tokio::test]
async fn pin_and_plan_changes_sent_with_a_stale_etag_are_412() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let token = &org.owner.token;
    let etag = |resp: &plexmcp_tests::Resp| resp.headers["etag"].to_str().unwrap().to_owned();
    let send = |method: Method, path: String, version: String, pin: &'static str, body| {
        let (api, token) = (api.clone(), token.clone());
        async move {
            let mut request = api
                .raw(method, &path)
                .bearer_auth(token)
                .header("If-Match", version)
                .header("X-PlexMCP-PIN", pin);
            if let Some(body) = body {
                request = request.json(&body);
            }
            api.send(request).await
        }
    };
    let (security, pin) = (org.path("/security"), org.path("/security/pin"));
    let off = etag(&api.get(&security, token).await.expect(200));
    let body = || Some(json!({ "pin": "840317", "pin_confirmation": "840317" }));
    let on = send(Method::PUT, pin.clone(), off.clone(), "", body())
        .await
        .expect(200);
    assert_eq!(
        etag(&on),
        etag(&api.get(&security, token).await.expect(200))
    );
    // Set from the version where it was off: that is not the org any more.
    send(Method::PUT, pin.clone(), off.clone(), "840317", body())
        .await
        .problem(412, "precondition_failed");
    send(Method::DELETE, pin.clone(), off, "840317", None)
        .await
        .problem(412, "precondition_failed");
    let still = api.get(&security, token).await.expect(200);
    assert_eq!(still.body["pin_protection_enabled"], true);
    send(Method::DELETE, pin.clone(), etag(&on), "840317", None)
        .await
        .expect(204);

    let billing = org.path("/billing");
    let free = etag(&api.get(&billing, token).await.expect(200));
    let plan = |name: &str| Some(json!({ "plan": name }));
    let pro = send(Method::PUT, billing.clone(), free.clone(), "", plan("pro"))
        .await
        .expect(200);
    assert_eq!(
        etag(&pro),
        etag(&api.get(&billing, token).await.expect(200))
    );
    send(Method::PUT, billing.clone(), free.clone(), "", plan("team"))
        .await
        .problem(412, "precondition_failed");
    // Back to the plan the stale version showed: still another version (its history).
    send(Method::PUT, billing.clone(), etag(&pro), "", plan("free"))
        .await
        .expect(200);
    send(Method::PUT, billing.clone(), free, "", plan("free"))
        .await
        .problem(412, "precondition_failed");
    assert_eq!(
        api.get(&billing, token).await.expect(200).body["plan"],
        "free"
    );
}

#[tokio::test]
async fn a_post_retried_with_its_idempotency_key_acts_once_and_answers_the_same() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let create = |token: String, key: &'static str, name: &'static str| {
        let (api, path) = (api.clone(), org.path("/mcps"));
        async move {
            let mut request = api
                .raw(Method::POST, &path)
                .bearer_auth(token)
                .json(&json!({ "name": name, "url": "https://weather.example.com/mcp" }));
            if !key.is_empty() {
                request = request.header("Idempotency-Key", key);
            }
            api.send(request).await
        }
    };
    let owner = org.owner.token.clone();
    let first = create(owner.clone(), "create-weather-1", "Weather")
        .await
        .expect(201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = create(owner.clone(), "create-weather-1", "Weather")
        .await
        .expect(201);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body, "the same answer");
    assert_eq!(again.headers["location"], first.headers["location"]);
    // The same key with another request is refused; another caller's key is its own.
    create(owner.clone(), "create-weather-1", "Storms")
        .await
        .problem(422, "idempotency_key_reused");
    let theirs = create(org.admin.token.clone(), "create-weather-1", "Weather")
        .await
        .expect(201);
    assert_ne!(theirs.body["id"], first.body["id"]);
    // Without a key, two requests are two MCPs.
    create(owner.clone(), "", "Twin").await.expect(201);
    create(owner.clone(), "", "Twin").await.expect(201);
    let list = api.get(&org.path("/mcps"), &owner).await.expect(200);
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "Weather").count(),
        2,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| **n == "Twin").count(),
        2,
        "{names:?}"
    );
    // A refusal is an answer too: replayed as it was, acting no more than the first.
    let refused = api
        .send(
            api.raw(Method::POST, &org.path("/mcps"))
                .bearer_auth(&owner)
                .header("Idempotency-Key", "bad-url")
                .json(&json!({ "name": "Bad", "url": "ftp://nope" })),
        )
        .await
        .problem(422, "validation_failed");
    let replayed = api
        .send(
            api.raw(Method::POST, &org.path("/mcps"))
                .bearer_auth(&owner)
                .header("Idempotency-Key", "bad-url")
                .json(&json!({ "name": "Bad", "url": "ftp://nope" })),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(replayed.body["detail"], refused.body["detail"]);
    let bad_key = api
        .send(
            api.raw(Method::POST, &org.path("/mcps"))
                .bearer_auth(&owner)
                .header("Idempotency-Key", "")
                .json(&json!({ "name": "Empty key", "url": "https://a.example.com/mcp" })),
        )
        .await;
    bad_key.problem(400, "bad_request");
}
