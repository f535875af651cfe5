//! E-mail, as a person meets it: sign-up that never tells who has an account, the
//! verification link read from the local mailbox (what the mail worker handed to the
//! emulator's SES), invitations only for verified addresses, and the security notices.

use plexmcp_tests::fixtures::PASSWORD;
use plexmcp_tests::mailbox::{count, messages, wait_for};
use plexmcp_tests::{stack, unique, Account, OrgFixture};
use serde_json::json;
use std::time::Duration;

fn email() -> String {
    format!("{}@example.com", unique("mail-"))
}

async fn signup(api: &plexmcp_tests::Api, email: &str, password: &str) -> serde_json::Value {
    api.post(
        "/v1/auth/signup",
        None,
        json!({ "email": email, "password": password, "name": "Mail <b>Tester</b>" }),
    )
    .await
    .expect(202)
    .body
}

#[tokio::test]
async fn signup_mails_a_single_use_link_that_verifies_the_address() {
    let api = stack().api();
    let address = email();
    assert_eq!(
        signup(&api, &address, PASSWORD).await,
        json!({ "status": "verification_sent" })
    );
    let mail = wait_for(&api, &address, "Verify your e-mail").await;
    let token = mail["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("pmv."), "{token}");
    assert!(mail["text"].as_str().unwrap().contains(&token));
    assert!(mail["html"].as_str().unwrap().contains(&token));
    // The name the person typed is text in the HTML part, never markup.
    assert!(mail["html"]
        .as_str()
        .unwrap()
        .contains("Mail &lt;b&gt;Tester&lt;/b&gt;"));

    let account = Account::login(&api, &address).await;
    let me = api.get("/v1/me", &account.token).await.expect(200);
    assert_eq!(me.body["email_verified"], false);
    // An account may sign in and create organizations before verifying.
    api.post(
        "/v1/orgs",
        Some(&account.token),
        json!({ "name": "Early", "slug": unique("early-") }),
    )
    .await
    .expect(201);

    let verified = api
        .post("/v1/auth/verify-email", None, json!({ "token": token }))
        .await
        .expect(200);
    assert_eq!(
        verified.body,
        json!({ "email": address, "email_verified": true })
    );
    let me = api.get("/v1/me", &account.token).await.expect(200);
    assert_eq!(me.body["email_verified"], true);
    // Once only; and a forged or malformed token is refused without changing anything.
    api.post("/v1/auth/verify-email", None, json!({ "token": token }))
        .await
        .problem(404, "invalid_token");
    let forged = format!("{}x", &token[..token.len() - 1]);
    for bad in [forged.as_str(), "pmv.usr_nope.x", "", "pms.a.b.c"] {
        api.post("/v1/auth/verify-email", None, json!({ "token": bad }))
            .await
            .problem(404, "invalid_token");
    }
    api.post("/v1/auth/verify-email", None, json!({ "token": 7 }))
        .await
        .problem(422, "validation_failed");
    api.post("/v1/me/verify-email", Some(&account.token), json!({}))
        .await
        .problem(409, "email_already_verified");
    let audit = plexmcp_tests::audit_chain(&format!("USER#{}", account.id)).await;
    assert!(audit.iter().any(|e| e["action"] == "user.email_verified"));
    assert!(!audit.iter().any(|e| e.to_string().contains(&token)));
}

#[tokio::test]
async fn signup_answers_the_same_for_an_existing_address_and_tells_its_owner() {
    let api = stack().api();
    let address = email();
    let first = signup(&api, &address, PASSWORD).await;
    wait_for(&api, &address, "Verify your e-mail").await;
    let again = signup(&api, &address, "an attacker's password").await;
    assert_eq!(
        first, again,
        "no difference tells that the address has an account"
    );
    let notice = wait_for(&api, &address, "Someone tried to sign up").await;
    assert_eq!(notice["token"], serde_json::Value::Null);
    // At most one notice an hour, however often someone tries; no second account, no
    // second verification mail.
    signup(&api, &address, "a third password").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&api, &address, "Someone tried").await, 1);
    assert_eq!(count(&api, &address, "Verify your e-mail").await, 1);
    api.post(
        "/v1/auth/login",
        None,
        json!({ "email": address, "password": "an attacker's password" }),
    )
    .await
    .problem(401, "invalid_credentials");
}

#[tokio::test]
async fn an_invitation_is_accepted_only_by_a_verified_address() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let address = email();
    let invitation = api
        .post(
            &org.path("/members"),
            Some(&org.admin.token),
            json!({ "email": address, "role": "admin" }),
        )
        .await
        .expect(201);
    let id = invitation.body["id"].as_str().unwrap();
    // The invitee is told, with the org's name and a link naming the invitation.
    let mail = wait_for(&api, &address, "You are invited to join").await;
    assert_eq!(mail["token"], id);
    assert!(mail["text"].as_str().unwrap().contains("Fixture Org"));

    // Whoever signs up with the address first cannot take the invitation without the
    // mailbox.
    signup(&api, &address, PASSWORD).await;
    let squatter = Account::login(&api, &address).await;
    let accept = format!("/v1/me/invitations/{id}/accept");
    api.post(&accept, Some(&squatter.token), json!({}))
        .await
        .problem(403, "email_unverified");
    api.get(&org.path(""), &squatter.token)
        .await
        .problem(404, "not_found");
    // The owner of the mailbox verifies, and joins.
    squatter.verify_email(&api).await;
    api.post(&accept, Some(&squatter.token), json!({}))
        .await
        .expect(200);
    api.get(&org.path(""), &squatter.token).await.expect(200);
}

#[tokio::test]
async fn a_new_link_replaces_the_old_one_and_is_throttled() {
    let api = stack().api();
    let address = email();
    signup(&api, &address, PASSWORD).await;
    let first = wait_for(&api, &address, "Verify your e-mail").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let account = Account::login(&api, &address).await;
    // Within a minute of the last mail: refused, with when to come back.
    let throttled = api
        .post("/v1/me/verify-email", Some(&account.token), json!({}))
        .await
        .problem(429, "rate_limited");
    let retry = throttled.body["retry_after"].as_u64().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(count(&api, &address, "Verify your e-mail").await, 1);
    // A minute later (time moves for this profile), a new link goes out.
    plexmcp_tests::set_attribute(
        &format!("USER#{}", account.id),
        "PROFILE",
        "verification_sent_at",
        aws_sdk_dynamodb::types::AttributeValue::S("2020-01-01T00:00:00.000Z".into()),
    )
    .await;
    api.post("/v1/me/verify-email", Some(&account.token), json!({}))
        .await
        .expect(202);
    for _ in 0..150 {
        if count(&api, &address, "Verify your e-mail").await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let newest = messages(&api, &address).await[0]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(newest, first);
    api.post("/v1/auth/verify-email", None, json!({ "token": first }))
        .await
        .problem(404, "invalid_token");
    api.post("/v1/auth/verify-email", None, json!({ "token": newest }))
        .await
        .expect(200);
    api.post("/v1/me/verify-email", None, json!({}))
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn a_sign_in_from_a_new_device_and_turning_2fa_off_are_mailed() {
    let api = stack().api();
    let account = Account::create(&api).await;
    // The device of the sign-up is known: no notice for it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count(&api, &account.email, "New sign-in").await, 0);
    let from_elsewhere = api
        .send(
            api.raw(reqwest::Method::POST, "/v1/auth/login")
                .header("user-agent", "Evil Browser/1.0")
                .json(&json!({ "email": account.email, "password": PASSWORD })),
        )
        .await
        .expect(200);
    assert!(from_elsewhere.body["token"].is_string());
    let notice = wait_for(&api, &account.email, "New sign-in").await;
    assert!(notice["text"]
        .as_str()
        .unwrap()
        .contains("Evil Browser/1.0"));
    // The same device again: remembered, no second notice.
    api.send(
        api.raw(reqwest::Method::POST, "/v1/auth/login")
            .header("user-agent", "Evil Browser/1.0")
            .json(&json!({ "email": account.email, "password": PASSWORD })),
    )
    .await
    .expect(200);

    let two_factor = account.enable_two_factor(&api).await;
    api.post(
        "/v1/me/2fa/disable",
        Some(&account.token),
        json!({ "password": PASSWORD, "backup_code": two_factor.backup_codes[0] }),
    )
    .await
    .expect(204);
    wait_for(
        &api,
        &account.email,
        "Two-factor authentication was turned off",
    )
    .await;
    assert_eq!(count(&api, &account.email, "New sign-in").await, 1);
}

#[tokio::test]
async fn an_ses_outage_fails_no_request_and_loses_no_mail() {
    let stack = stack();
    let api = stack.api();
    // Failed sends come back after a second (the template's visibility timeout is 180 s).
    stack.set_visibility_timeout("MAIL_QUEUE_URL", 1).await;
    let address = email();
    let switch = stack.hooks_dir.join(format!("mail-fails.{address}"));
    std::fs::write(&switch, b"").unwrap();
    signup(&api, &address, PASSWORD).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(messages(&api, &address).await.is_empty(), "SES refused it");
    std::fs::remove_file(&switch).unwrap();
    let mail = wait_for(&api, &address, "Verify your e-mail").await;
    api.post(
        "/v1/auth/verify-email",
        None,
        json!({ "token": mail["token"] }),
    )
    .await
    .expect(200);
    // Sent once, however often the queue handed it over.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(messages(&api, &address).await.len(), 1);
}

#[tokio::test]
async fn the_owners_are_told_when_the_pin_locks() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    org.enable_pin(&api, "840317").await;
    let guess = |pin: &'static str| {
        let (api, path, token) = (
            api.clone(),
            org.path("/security/pin"),
            org.admin.token.clone(),
        );
        async move {
            api.send(
                api.raw(reqwest::Method::DELETE, &path)
                    .bearer_auth(token)
                    .header("X-PlexMCP-PIN", pin),
            )
            .await
        }
    };
    let subject = "The PIN of Fixture Org is locked";
    for _ in 0..4 {
        guess("111111").await.problem(403, "pin_invalid");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        count(&api, &org.owner.email, subject).await,
        0,
        "not locked yet"
    );
    guess("111111").await.problem(403, "pin_invalid");
    let mail = wait_for(&api, &org.owner.email, subject).await;
    assert!(mail["text"]
        .as_str()
        .unwrap()
        .contains(&format!("/settings/#/orgs/{}/audit", org.slug)));
    // While locked, no more guesses are checked and no more mail goes out.
    guess("111111").await.problem(423, "pin_locked");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&api, &org.owner.email, subject).await, 1);
    for account in [&org.admin, &org.member, &org.viewer] {
        assert_eq!(count(&api, &account.email, subject).await, 0, "owners only");
    }
}

#[tokio::test]
async fn every_member_is_told_when_their_org_is_deleted() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    org.delete_org(&api).await;
    let subject = "Fixture Org is being deleted";
    for (_, account) in org.everyone() {
        let mail = wait_for(&api, &account.email, subject).await;
        assert!(mail["text"]
            .as_str()
            .unwrap()
            .contains("no longer a member"));
    }
    // Once each, though the worker sweeps the org more than once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (_, account) in org.everyone() {
        assert_eq!(count(&api, &account.email, subject).await, 1);
    }
}
