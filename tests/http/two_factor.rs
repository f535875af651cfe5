//! Two-factor authentication as a user and their authenticator app live it: enrollment
//! with a QR code, login with a challenge, backup codes, replays, races and the lock.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use chrono::{Duration, Utc};
use plexmcp_tests::fixtures::PASSWORD;
use plexmcp_tests::{
    audit_chain, authenticator_code, away_from_step_boundary, items, set_attribute, stack, Account,
    Api, Resp,
};
use reqwest::Method;
use serde_json::{json, Value};

struct Enrolled {
    account: Account,
    uri: String,
    spent_code: String,
    spent_step: i64,
    backup_codes: Vec<String>,
}

async fn post(api: &Api, path: &str, token: &str, body: Value) -> Resp {
    api.post(path, Some(token), body).await
}

async fn enroll(api: &Api) -> Enrolled {
    let account = Account::create(api).await;
    let two_factor = account.enable_two_factor(api).await;
    Enrolled {
        account,
        uri: two_factor.otpauth_uri,
        spent_code: two_factor.spent_code,
        spent_step: two_factor.spent_step,
        backup_codes: two_factor.backup_codes,
    }
}

/// The password step: a challenge, no session.
async fn challenge(api: &Api, email: &str) -> String {
    let login = api
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert_eq!(login.body["two_factor_required"], true, "{}", login.body);
    assert!(
        login.body.get("token").is_none(),
        "no session before the second factor"
    );
    login.body["challenge_token"].as_str().unwrap().to_owned()
}

async fn second_step(api: &Api, challenge: &str, factor: Value) -> Resp {
    let mut body = json!({ "challenge_token": challenge });
    body.as_object_mut()
        .unwrap()
        .extend(factor.as_object().unwrap().clone());
    api.post("/v1/auth/login/2fa", None, body).await
}

fn qr_content(data_url: &str) -> String {
    let png = base64::engine::general_purpose::STANDARD
        .decode(
            data_url
                .strip_prefix("data:image/png;base64,")
                .expect("a PNG data URL"),
        )
        .unwrap();
    let image = image::load_from_memory(&png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width() as usize,
        image.height() as usize,
        |x, y| image.get_pixel(x as u32, y as u32).0[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("the QR code decodes").1
}

#[tokio::test]
async fn enrollment_gives_an_otpauth_uri_a_matching_qr_code_and_ten_backup_codes() {
    let api = stack().api();
    let account = Account::create(&api).await;
    let setup = api
        .call(
            Method::POST,
            "/v1/me/2fa/setup",
            Some(&account.token),
            Some(json!({ "password": PASSWORD })),
        )
        .await
        .expect(200);
    let uri = setup.body["otpauth_uri"].as_str().unwrap();
    let secret = setup.body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    assert!(
        uri.starts_with(&format!(
            "otpauth://totp/PlexMCP:{}?",
            account.email.replace('@', "%40")
        )),
        "{uri}"
    );
    for part in [
        "issuer=PlexMCP",
        "algorithm=SHA1",
        "digits=6",
        "period=30",
        &format!("secret={secret}"),
    ] {
        assert!(uri.contains(part), "{uri} lacks {part}");
    }
    assert_eq!(
        qr_content(setup.body["qr_code"].as_str().unwrap()),
        uri,
        "the QR code encodes exactly the URI"
    );

    // Nothing is on until a code proves the authenticator has the secret.
    assert_eq!(
        api.get("/v1/me", &account.token).await.body["two_factor_enabled"],
        false
    );
    post(
        &api,
        "/v1/me/2fa/enable",
        &account.token,
        json!({ "code": "000000" }),
    )
    .await
    .problem(422, "validation_failed");
    away_from_step_boundary().await;
    let enabled = post(
        &api,
        "/v1/me/2fa/enable",
        &account.token,
        json!({ "code": authenticator_code(uri, 0) }),
    )
    .await
    .expect(200);
    let codes = enabled.body["backup_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes
        .iter()
        .all(|c| c.as_str().unwrap().len() == 11 && c.as_str().unwrap().as_bytes()[5] == b'-'));
    assert_eq!(enabled.body["other_sessions"], 0);
    assert_eq!(
        api.get("/v1/me", &account.token).await.expect(200).body["two_factor_enabled"],
        true
    );
    api.call(
        Method::POST,
        "/v1/me/2fa/setup",
        Some(&account.token),
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .problem(409, "two_factor_enabled");

    // At rest: the secret is sealed, the backup codes are argon2id hashes.
    let profile = &items(&format!("USER#{}", account.id), "PROFILE").await[0];
    let sealed = profile["totp_secret"].as_s().unwrap();
    assert!(!sealed.contains(secret) && profile.get("totp_pending").is_none());
    let stored = items(&format!("USER#{}", account.id), "BACKUPCODE#").await;
    assert_eq!(stored.len(), 10);
    assert!(stored
        .iter()
        .all(|c| c["code_hash"].as_s().unwrap().starts_with("$argon2id$")));
    for entry in audit_chain(&format!("USER#{}", account.id)).await {
        let text = entry.to_string();
        assert!(
            !text.contains(secret) && !codes.iter().any(|c| text.contains(c.as_str().unwrap())),
            "{text}"
        );
    }
}

#[tokio::test]
async fn setup_again_replaces_the_pending_secret() {
    let api = stack().api();
    let account = Account::create(&api).await;
    let first = api
        .call(
            Method::POST,
            "/v1/me/2fa/setup",
            Some(&account.token),
            Some(json!({ "password": PASSWORD })),
        )
        .await
        .expect(200);
    let second = api
        .call(
            Method::POST,
            "/v1/me/2fa/setup",
            Some(&account.token),
            Some(json!({ "password": PASSWORD })),
        )
        .await
        .expect(200);
    assert_ne!(first.body["secret"], second.body["secret"]);
    away_from_step_boundary().await;
    let stale = authenticator_code(first.body["otpauth_uri"].as_str().unwrap(), 0);
    let fresh = authenticator_code(second.body["otpauth_uri"].as_str().unwrap(), 0);
    if stale != fresh {
        post(
            &api,
            "/v1/me/2fa/enable",
            &account.token,
            json!({ "code": stale }),
        )
        .await
        .problem(422, "validation_failed");
    }
    post(
        &api,
        "/v1/me/2fa/enable",
        &account.token,
        json!({ "code": fresh }),
    )
    .await
    .expect(200);
    // Without a setup there is nothing to enable.
    let other = Account::create(&api).await;
    post(
        &api,
        "/v1/me/2fa/enable",
        &other.token,
        json!({ "code": "123456" }),
    )
    .await
    .problem(409, "two_factor_not_set_up");
}

#[tokio::test]
async fn login_needs_the_second_factor_and_each_time_step_works_once() {
    let api = stack().api();
    let user = enroll(&api).await;
    // The code that enabled 2FA is spent (it is within a step of now, whatever the time).
    let reused = second_step(
        &api,
        &challenge(&api, &user.account.email).await,
        json!({ "code": user.spent_code }),
    )
    .await;
    reused.problem(401, "invalid_code");

    // One step of clock drift either way is accepted, each step once (the step that
    // enabled 2FA is spent already); two steps is not.
    for offset in [-30, 30] {
        let c = challenge(&api, &user.account.email).await;
        away_from_step_boundary().await;
        let step = plexmcp_tests::time_step(offset);
        let code = authenticator_code(&user.uri, offset);
        let answer = second_step(&api, &c, json!({ "code": code })).await;
        if step == user.spent_step {
            answer.problem(401, "invalid_code");
            continue;
        }
        let session = answer.expect(200);
        api.get("/v1/me", session.body["token"].as_str().unwrap())
            .await
            .expect(200);
        second_step(
            &api,
            &challenge(&api, &user.account.email).await,
            json!({ "code": code }),
        )
        .await
        .problem(401, "invalid_code");
    }
    for offset in [-60, 60] {
        let c = challenge(&api, &user.account.email).await;
        second_step(
            &api,
            &c,
            json!({ "code": authenticator_code(&user.uri, offset) }),
        )
        .await
        .problem(401, "invalid_code");
    }
}

#[tokio::test]
async fn one_code_sent_twice_in_parallel_logs_in_once() {
    let api = stack().api();
    let user = enroll(&api).await;
    let (a, b) = (
        challenge(&api, &user.account.email).await,
        challenge(&api, &user.account.email).await,
    );
    away_from_step_boundary().await;
    let code = authenticator_code(&user.uri, 30);
    let (first, second) = tokio::join!(
        second_step(&api, &a, json!({ "code": code })),
        second_step(&api, &b, json!({ "code": code }))
    );
    let statuses = [first.status, second.status];
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_challenge_is_single_use_bound_to_its_user_and_expires() {
    let api = stack().api();
    let user = enroll(&api).await;
    let c = challenge(&api, &user.account.email).await;
    second_step(&api, &c, json!({ "backup_code": user.backup_codes[0] }))
        .await
        .expect(200);
    second_step(&api, &c, json!({ "backup_code": user.backup_codes[1] }))
        .await
        .problem(401, "unauthorized");

    // Another user's valid code does not complete this user's challenge.
    let other = enroll(&api).await;
    let c = challenge(&api, &user.account.email).await;
    second_step(&api, &c, json!({ "backup_code": other.backup_codes[0] }))
        .await
        .problem(401, "invalid_code");
    second_step(&api, "pmc.garbage", json!({ "code": "123456" }))
        .await
        .problem(401, "unauthorized");

    // Five minutes later the challenge is gone.
    let c = challenge(&api, &user.account.email).await;
    let challenge_id = c.split('.').nth(2).unwrap();
    let past = (Utc::now() - Duration::seconds(1)).to_rfc3339();
    set_attribute(
        &format!("USER#{}", user.account.id),
        &format!("CHALLENGE#{challenge_id}"),
        "expires_at",
        AttributeValue::S(past),
    )
    .await;
    second_step(&api, &c, json!({ "backup_code": user.backup_codes[2] }))
        .await
        .problem(401, "unauthorized");
    second_step(&api, &c, json!({ "code": "123456", "backup_code": "x" }))
        .await
        .problem(422, "validation_failed");
}

#[tokio::test]
async fn a_backup_code_works_once_even_when_two_requests_race_for_it() {
    let api = stack().api();
    let user = enroll(&api).await;
    let code = user.backup_codes[3].to_uppercase().replace('-', " ");
    let (a, b) = (
        challenge(&api, &user.account.email).await,
        challenge(&api, &user.account.email).await,
    );
    let (first, second) = tokio::join!(
        second_step(&api, &a, json!({ "backup_code": code })),
        second_step(&api, &b, json!({ "backup_code": code }))
    );
    let statuses = [first.status, second.status];
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    let c = challenge(&api, &user.account.email).await;
    second_step(&api, &c, json!({ "backup_code": user.backup_codes[3] }))
        .await
        .problem(401, "invalid_code");
    assert_eq!(
        items(&format!("USER#{}", user.account.id), "BACKUPCODE#")
            .await
            .len(),
        9
    );
    let actions: Vec<String> = audit_chain(&format!("USER#{}", user.account.id))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "2fa.backup_code_used")
            .count(),
        1,
        "{actions:?}"
    );
}

#[tokio::test]
async fn five_wrong_codes_lock_the_second_step_and_parallel_guesses_cannot_outrun_it() {
    let api = stack().api();
    let user = enroll(&api).await;
    let c = challenge(&api, &user.account.email).await;
    let guesses =
        (0..20).map(|i| second_step(&api, &c, json!({ "code": format!("{:06}", 100000 + i) })));
    let results = futures::future::join_all(guesses).await;
    let checked = results.iter().filter(|r| r.status == 401).count();
    assert!(checked <= 5, "{checked} guesses were checked");
    assert_eq!(
        checked + results.iter().filter(|r| r.status == 429).count(),
        20
    );
    let locked = second_step(&api, &c, json!({ "backup_code": user.backup_codes[0] }))
        .await
        .problem(429, "rate_limited");
    assert!(locked.body["retry_after"].as_u64().unwrap() > 800);

    let past = (Utc::now() - Duration::minutes(16)).to_rfc3339();
    set_attribute(
        &format!("USER#{}", user.account.id),
        "PROFILE",
        "two_factor_failures_at",
        AttributeValue::S(past),
    )
    .await;
    second_step(&api, &c, json!({ "backup_code": user.backup_codes[0] }))
        .await
        .expect(200);
    let actions: Vec<String> = audit_chain(&format!("USER#{}", user.account.id))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        actions.contains(&"2fa.failed".into()) && actions.contains(&"2fa.locked".into()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn regenerating_backup_codes_retires_the_old_set_and_keeps_sessions() {
    let api = stack().api();
    let user = enroll(&api).await;
    let c = challenge(&api, &user.account.email).await;
    let laptop = second_step(&api, &c, json!({ "backup_code": user.backup_codes[0] }))
        .await
        .expect(200);
    away_from_step_boundary().await;
    let fresh = post(
        &api,
        "/v1/me/2fa/backup-codes",
        &user.account.token,
        json!({ "code": authenticator_code(&user.uri, 30) }),
    )
    .await
    .expect(200);
    assert_eq!(fresh.body["other_sessions"], 1);
    api.get("/v1/me", laptop.body["token"].as_str().unwrap())
        .await
        .expect(200);
    let c = challenge(&api, &user.account.email).await;
    second_step(&api, &c, json!({ "backup_code": user.backup_codes[1] }))
        .await
        .problem(401, "invalid_code");
    let new_code = fresh.body["backup_codes"][0].as_str().unwrap();
    second_step(&api, &c, json!({ "backup_code": new_code }))
        .await
        .expect(200);
    post(
        &api,
        "/v1/me/2fa/backup-codes",
        &user.account.token,
        json!({ "code": "000000" }),
    )
    .await
    .problem(422, "validation_failed");
}

#[tokio::test]
async fn disabling_needs_the_password_and_a_second_factor() {
    let api = stack().api();
    let user = enroll(&api).await;
    let token = &user.account.token;
    post(
        &api,
        "/v1/me/2fa/disable",
        token,
        json!({ "password": "wrong password", "backup_code": user.backup_codes[0] }),
    )
    .await
    .problem(422, "validation_failed");
    post(
        &api,
        "/v1/me/2fa/disable",
        token,
        json!({ "password": PASSWORD, "backup_code": "zzzzz-zzzzz" }),
    )
    .await
    .problem(422, "validation_failed");
    post(
        &api,
        "/v1/me/2fa/disable",
        token,
        json!({ "password": PASSWORD }),
    )
    .await
    .problem(422, "validation_failed");
    assert_eq!(
        api.get("/v1/me", token).await.body["two_factor_enabled"],
        true
    );

    let off = post(
        &api,
        "/v1/me/2fa/disable",
        token,
        json!({ "password": PASSWORD, "backup_code": user.backup_codes[0] }),
    )
    .await
    .expect(204);
    assert_eq!(off.headers["plexmcp-other-sessions"], "0");
    assert_eq!(
        api.get("/v1/me", token).await.body["two_factor_enabled"],
        false
    );
    assert!(items(&format!("USER#{}", user.account.id), "BACKUPCODE#")
        .await
        .is_empty());
    let login = api
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": user.account.email, "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert!(login.body["token"].is_string(), "no second step any more");
    post(
        &api,
        "/v1/me/2fa/disable",
        token,
        json!({ "password": PASSWORD, "code": "123456" }),
    )
    .await
    .problem(409, "two_factor_not_enabled");
    let actions: Vec<String> = audit_chain(&format!("USER#{}", user.account.id))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for expected in ["2fa.setup_started", "2fa.enabled", "2fa.disabled"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_full_two_factor_login_stays_within_its_round_trip_budget() {
    let api = stack().api();
    let user = enroll(&api).await;
    let login = api
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": user.account.email, "password": PASSWORD }),
        )
        .await
        .expect(200);
    // Three round trips, two of them with parallel calls (see the identity tests).
    assert!(login.dynamodb_calls().0 <= 5 && login.dynamodb_round_trips() <= 3);
    away_from_step_boundary().await;
    let step = second_step(
        &api,
        login.body["challenge_token"].as_str().unwrap(),
        json!({ "code": authenticator_code(&user.uri, 30) }),
    )
    .await
    .expect(200);
    let (calls, scans) = step.dynamodb_calls();
    assert!(
        calls <= 3 && scans == 0,
        "the second step made {calls} calls"
    );
    let backup = second_step(
        &api,
        &challenge(&api, &user.account.email).await,
        json!({ "backup_code": user.backup_codes[0] }),
    )
    .await
    .expect(200);
    let (calls, _) = backup.dynamodb_calls();
    assert!(
        calls <= 3,
        "a backup-code step made {calls} calls (challenge, profile and codes are one query)"
    );
}

#[tokio::test]
async fn a_stolen_session_cannot_enroll_an_authenticator_without_the_password() {
    let api = stack().api();
    let account = Account::create(&api).await;
    let setup = |body: Option<Value>| {
        api.call(Method::POST, "/v1/me/2fa/setup", Some(&account.token), body)
    };
    setup(None).await.problem(415, "unsupported_media_type");
    setup(Some(json!({})))
        .await
        .problem(422, "validation_failed");
    for _ in 0..5 {
        let wrong = setup(Some(json!({ "password": "not the password" })))
            .await
            .problem(403, "password_incorrect");
        assert_eq!(wrong.body["errors"][0]["field"], "password");
    }
    // Counted like failed logins: the right password is now refused too, and so is login.
    setup(Some(json!({ "password": PASSWORD })))
        .await
        .problem(429, "rate_limited");
    api.post(
        "/v1/auth/login",
        None,
        json!({ "email": account.email, "password": PASSWORD }),
    )
    .await
    .problem(429, "rate_limited");
    let me = api.get("/v1/me", &account.token).await.expect(200);
    assert_eq!(me.body["two_factor_enabled"], false);
    let profile = items(&format!("USER#{}", account.id), "PROFILE").await;
    assert!(
        !profile[0].contains_key("totp_pending"),
        "no pending secret was stored"
    );
    let failed = audit_chain(&format!("USER#{}", account.id))
        .await
        .iter()
        .filter(|e| e["action"] == "2fa.setup_failed")
        .count();
    assert_eq!(failed, 5);
}
