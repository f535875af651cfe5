//! Signup, login (with throttling), logout and the profile, as a client sees them.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use plexmcp_tests::fixtures::PASSWORD;
use plexmcp_tests::{audit_chain, set_attribute, stack, unique, Account};
use serde_json::json;

fn email() -> String {
    format!("{}@example.com", unique("id-"))
}

#[tokio::test]
async fn signup_creates_an_account_with_a_unique_case_insensitive_email() {
    let api = stack().api();
    let email = email();
    api.post(
        "/v1/auth/signup",
        None,
        json!({ "email": email.to_uppercase(), "password": PASSWORD, "name": "  Ada  " }),
    )
    .await
    .expect(202);
    let account = Account::login(&api, &email).await;
    let me = api.get("/v1/me", &account.token).await.expect(200);
    assert_eq!(me.body["email"], email, "stored lower-case");
    assert_eq!(me.body["name"], "Ada");
    assert_eq!(me.body["email_verified"], false);
    assert!(me.body.get("password_hash").is_none());

    // The same address again: the same answer, and the account is unchanged.
    api.post(
        "/v1/auth/signup",
        None,
        json!({ "email": email, "password": "another password 123", "name": "Twin" }),
    )
    .await
    .expect(202);
    api.post(
        "/v1/auth/login",
        None,
        json!({ "email": email, "password": "another password 123" }),
    )
    .await
    .problem(401, "invalid_credentials");
    let audit = audit_chain(&format!("USER#{}", account.id)).await;
    assert_eq!(audit[0]["action"], "user.signed_up");
    assert!(!audit[0].to_string().contains(PASSWORD));
}

#[tokio::test]
async fn concurrent_signups_with_one_email_create_one_account() {
    let api = stack().api();
    let email = email();
    let attempts = (0..8).map(|i| {
        api.post(
            "/v1/auth/signup",
            None,
            json!({ "email": email, "password": format!("{PASSWORD} {i}"), "name": "Racer" }),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    // One password won: exactly one of the eight signs in. (The address's login budget
    // is reset before each try: five wrong ones would lock it before the winner's turn.)
    let mut signed_in = 0;
    for i in 0..8 {
        plexmcp_tests::delete_item(&format!("THROTTLE#LOGIN#EMAIL#{email}"), "THROTTLE").await;
        let login = api
            .post(
                "/v1/auth/login",
                None,
                json!({ "email": email, "password": format!("{PASSWORD} {i}") }),
            )
            .await;
        signed_in += usize::from(login.status == 200);
    }
    assert_eq!(signed_in, 1);
}

#[tokio::test]
async fn an_address_has_one_account_however_it_is_spelled() {
    let api = stack().api();
    let local = unique("idn-");
    api.post(
        "/v1/auth/signup",
        None,
        json!({ "email": format!("{local}@Bu\u{308}cher.example"), "password": PASSWORD, "name": "Jose\u{301}" }),
    )
    .await
    .expect(202);
    let stored = format!("{local}@xn--bcher-kva.example");
    let account = Account::login(&api, &stored).await;
    let me = api.get("/v1/me", &account.token).await.expect(200);
    assert_eq!(me.body["email"], stored.as_str());
    assert_eq!(me.body["name"], "Jos\u{E9}");
    for spelling in [
        format!("{local}@bücher.example"),
        format!("{}@BÜCHER.EXAMPLE", local.to_uppercase()),
    ] {
        api.post(
            "/v1/auth/signup",
            None,
            json!({ "email": spelling, "password": PASSWORD, "name": "Twin" }),
        )
        .await
        .expect(202);
        api.post(
            "/v1/auth/login",
            None,
            json!({ "email": spelling, "password": PASSWORD }),
        )
        .await
        .expect(200);
    }
    for hidden in [
        format!("{local}\u{200B}@example.com"),
        format!("{local}@exa\u{FEFF}mple.com"),
        format!("{local}\u{2028}x@example.com"),
    ] {
        let refused = api
            .post(
                "/v1/auth/signup",
                None,
                json!({ "email": hidden, "password": PASSWORD, "name": "Ada" }),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(refused.body["errors"][0]["field"], "email");
    }
    api.post(
        "/v1/auth/signup",
        None,
        json!({ "email": email(), "password": PASSWORD, "name": "A\u{200C}da" }),
    )
    .await
    .problem(422, "validation_failed");
}

#[tokio::test]
async fn signup_rejects_bad_fields_all_at_once() {
    let api = stack().api();
    let resp = api
        .post(
            "/v1/auth/signup",
            None,
            json!({ "email": "not-an-email", "password": "short", "name": "" }),
        )
        .await
        .problem(422, "validation_failed");
    let fields: Vec<&str> = resp.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password", "name"]);
    let too_long = "x".repeat(129);
    api.post(
        "/v1/auth/signup",
        None,
        json!({ "email": email(), "password": too_long, "name": "A" }),
    )
    .await
    .problem(422, "validation_failed");
    api.post(
        "/v1/auth/signup",
        None,
        json!({ "email": email(), "password": PASSWORD, "name": "A", "role": "owner" }),
    )
    .await
    .problem(422, "validation_failed");
}

#[tokio::test]
async fn login_gives_a_session_and_the_same_answer_for_unknown_email_and_wrong_password() {
    let api = stack().api();
    let account = Account::create(&api).await;
    let login = api
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": account.email.to_uppercase(), "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert!(login.body["token"].as_str().unwrap().len() > 43);
    assert!(login.body["session_id"]
        .as_str()
        .unwrap()
        .starts_with("ses_"));
    let expires =
        chrono::DateTime::parse_from_rfc3339(login.body["expires_at"].as_str().unwrap()).unwrap();
    assert!(
        (expires.with_timezone(&Utc) - Utc::now() - Duration::days(30))
            .num_minutes()
            .abs()
            < 2,
        "absolute expiry 30 days"
    );
    // Three round trips: the e-mail pointer and both login budgets in parallel, the
    // profile, the transaction.
    let (calls, scans) = login.dynamodb_calls();
    let trips = login.dynamodb_round_trips();
    assert!(
        trips <= 3 && calls <= 5 && scans == 0,
        "login made {calls} DynamoDB calls in {trips} round trips"
    );

    let wrong = api
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": account.email, "password": "wrong password" }),
        )
        .await
        .problem(401, "invalid_credentials");
    let unknown = api
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": email(), "password": "wrong password" }),
        )
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(wrong.body_of_any_request(), unknown.body_of_any_request());
}

#[tokio::test]
async fn five_failures_lock_login_for_fifteen_minutes_then_a_correct_password_resets() {
    let api = stack().api();
    let account = Account::create(&api).await;
    for _ in 0..5 {
        api.post(
            "/v1/auth/login",
            None,
            json!({ "email": account.email, "password": "nope nope" }),
        )
        .await
        .problem(401, "invalid_credentials");
    }
    let locked = api
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": account.email, "password": PASSWORD }),
        )
        .await
        .problem(429, "rate_limited");
    let retry = locked.body["retry_after"].as_u64().unwrap();
    assert!((800..=900).contains(&retry), "retry_after {retry}");
    assert_eq!(locked.headers["retry-after"], retry.to_string().as_str());

    // Move the lock 15 minutes into the past: the account opens again.
    let past = (Utc::now() - Duration::minutes(16)).to_rfc3339();
    set_attribute(
        &format!("THROTTLE#LOGIN#EMAIL#{}", account.email),
        "THROTTLE",
        "failures_at",
        AttributeValue::S(past),
    )
    .await;
    api.post(
        "/v1/auth/login",
        None,
        json!({ "email": account.email, "password": PASSWORD }),
    )
    .await
    .expect(200);
    // The counter restarted: four failures do not lock.
    for _ in 0..4 {
        api.post(
            "/v1/auth/login",
            None,
            json!({ "email": account.email, "password": "nope nope" }),
        )
        .await
        .expect(401);
    }
    api.post(
        "/v1/auth/login",
        None,
        json!({ "email": account.email, "password": PASSWORD }),
    )
    .await
    .expect(200);

    let actions: Vec<String> = audit_chain(&format!("USER#{}", account.id))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "auth.login_failed").count(),
        9
    );
}

#[tokio::test]
async fn failures_older_than_the_window_are_forgotten() {
    let api = stack().api();
    let account = Account::create(&api).await;
    let fail = || {
        api.post(
            "/v1/auth/login",
            None,
            json!({ "email": account.email, "password": "nope nope" }),
        )
    };
    for _ in 0..4 {
        fail().await.problem(401, "invalid_credentials");
    }
    // The last failure was 16 minutes ago: the four no longer count.
    set_attribute(
        &format!("THROTTLE#LOGIN#EMAIL#{}", account.email),
        "THROTTLE",
        "failures_at",
        AttributeValue::S((Utc::now() - Duration::minutes(16)).to_rfc3339()),
    )
    .await;
    for _ in 0..5 {
        fail().await.problem(401, "invalid_credentials");
    }
    fail().await.problem(429, "rate_limited");
}

#[tokio::test]
async fn twenty_parallel_wrong_passwords_get_at_most_five_checked() {
    let api = stack().api();
    let account = Account::create(&api).await;
    let guesses = (0..20).map(|i| {
        api.post(
            "/v1/auth/login",
            None,
            json!({ "email": account.email, "password": format!("guess {i:02} wrong") }),
        )
    });
    let results = futures::future::join_all(guesses).await;
    let checked = results.iter().filter(|r| r.status == 401).count();
    let refused = results.iter().filter(|r| r.status == 429).count();
    assert!(checked <= 5, "{checked} guesses were checked");
    assert_eq!(checked + refused, 20);
    api.post(
        "/v1/auth/login",
        None,
        json!({ "email": account.email, "password": PASSWORD }),
    )
    .await
    .problem(429, "rate_limited");
}

#[tokio::test]
async fn an_address_without_an_account_locks_exactly_like_one_with_an_account() {
    let api = stack().api();
    let account = Account::create(&api).await;
    let nobody = email();
    let mut answers = Vec::new();
    for address in [&account.email, &nobody] {
        let attempt = || {
            api.post(
                "/v1/auth/login",
                None,
                json!({ "email": address, "password": "nope nope" }),
            )
        };
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(attempt().await.status);
        }
        let mut locked = attempt()
            .await
            .problem(429, "rate_limited")
            .body_of_any_request();
        let retry = locked["retry_after"].take().as_u64().unwrap();
        assert!((800..=900).contains(&retry), "retry_after {retry}");
        // The detail says the seconds too.
        locked["detail"].take();
        answers.push((statuses, locked));
    }
    assert_eq!(answers[0].0, [401, 401, 401, 401, 401, 429]);
    assert_eq!(
        answers[0], answers[1],
        "a lockout tells nothing about accounts"
    );
}

#[tokio::test]
async fn a_network_with_a_hundred_failures_is_refused_for_every_address_and_successes_are_free() {
    let api = stack().api();
    let account = Account::create(&api).await;
    let network = stack().api_from_own_network();
    let login = |address: String, password: &'static str| {
        network.post(
            "/v1/auth/login",
            None,
            json!({ "email": address, "password": password }),
        )
    };
    // 99 failures: 5 checked against an unknown address, then 94 refused by its lock
    // (a refused attempt still counts for the network).
    let nobody = email();
    for _ in 0..5 {
        login(nobody.clone(), "nope nope")
            .await
            .problem(401, "invalid_credentials");
    }
    let refused = futures::future::join_all((0..94).map(|_| login(nobody.clone(), "nope nope")));
    assert!(refused.await.iter().all(|r| r.status == 429));
    // Right passwords take their attempt back: two in a row both pass at 99.
    for _ in 0..2 {
        login(account.email.clone(), PASSWORD).await.expect(200);
    }
    // The hundredth failure, with a well-formed address no one uses.
    login(email(), "nope nope")
        .await
        .problem(401, "invalid_credentials");
    let refused = login(account.email.clone(), PASSWORD)
        .await
        .problem(429, "rate_limited");
    assert!(refused.body["retry_after"].as_u64().unwrap() > 800);
    // The account itself is not locked: from another network it logs in.
    api.post(
        "/v1/auth/login",
        None,
        json!({ "email": account.email, "password": PASSWORD }),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn logout_revokes_the_session_at_once() {
    let api = stack().api();
    let account = Account::create(&api).await;
    api.call(
        reqwest::Method::POST,
        "/v1/auth/logout",
        Some(&account.token),
        None,
    )
    .await
    .expect(204);
    api.get("/v1/me", &account.token)
        .await
        .problem(401, "unauthorized");
    api.call(
        reqwest::Method::POST,
        "/v1/auth/logout",
        Some(&account.token),
        None,
    )
    .await
    .problem(401, "unauthorized");
}

#[tokio::test]
async fn me_lists_the_profile_and_organizations_within_three_round_trips() {
    let api = stack().api();
    let account = Account::create(&api).await;
    let slug = unique("me-");
    api.post(
        "/v1/orgs",
        Some(&account.token),
        json!({ "name": "Mine", "slug": slug }),
    )
    .await
    .expect(201);
    let me = api.get("/v1/me", &account.token).await.expect(200);
    assert_eq!(me.body["email"], account.email.as_str());
    assert_eq!(me.body["two_factor_enabled"], false);
    assert_eq!(me.body["organizations"][0]["slug"], slug.as_str());
    assert_eq!(me.body["organizations"][0]["role"], "owner");
    let (calls, scans) = me.dynamodb_calls();
    assert!(
        calls <= 3 && scans == 0,
        "GET /v1/me made {calls} DynamoDB calls"
    );
}

#[tokio::test]
async fn missing_malformed_and_forged_tokens_are_401() {
    let api = stack().api();
    let account = Account::create(&api).await;
    api.call(reqwest::Method::GET, "/v1/me", None, None)
        .await
        .problem(401, "unauthorized");
    api.get("/v1/me", "garbage")
        .await
        .problem(401, "unauthorized");
    // Right ids, wrong secret.
    let mut forged: Vec<&str> = account.token.split('.').collect();
    let secret = "A".repeat(43);
    forged[3] = &secret;
    api.get("/v1/me", &forged.join("."))
        .await
        .problem(401, "unauthorized");
}
