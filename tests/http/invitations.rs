//! Joining a team: owners and admins invite an address; the person sees the invitation
//! and accepts or declines it. Nothing about the answer tells whether an account uses
//! the address, and nobody becomes a member without accepting.

use plexmcp_tests::events::{outbox_drains, subscribe};
use plexmcp_tests::{audit_chain, set_attribute, stack, unique, Account, Api, OrgFixture};
use serde_json::{json, Value};
use std::time::Duration;

async fn invite(api: &Api, org: &OrgFixture, token: &str, email: &str, role: &str) -> Value {
    api.post(
        &org.path("/members"),
        Some(token),
        json!({ "email": email, "role": role }),
    )
    .await
    .expect(201)
    .body
}

async fn my_invitations(api: &Api, who: &Account) -> Vec<Value> {
    api.get("/v1/me/invitations", &who.token)
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn answer(id: &str, verb: &str) -> String {
    format!("/v1/me/invitations/{id}/{verb}")
}

#[tokio::test]
async fn an_invitation_looks_the_same_whether_or_not_the_address_has_an_account() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let existing = Account::create(&api).await;
    let unknown = format!("{}@example.com", unique("nobody-"));
    let a = invite(&api, &org, &org.admin.token, &existing.email, "member").await;
    let b = invite(&api, &org, &org.admin.token, &unknown, "member").await;
    let shape = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(shape(&a), shape(&b));
    for body in [&a, &b] {
        assert!(body["id"].as_str().unwrap().starts_with("inv_"));
        assert_eq!(body["status"], "pending");
        assert_eq!(body["role"], "member");
        assert!(body.get("user_id").is_none() && body.get("name").is_none());
    }
    // Inviting is not joining: the person's /v1/me does not list the org yet.
    let me = api.get("/v1/me", &existing.token).await.expect(200);
    assert!(me.body["organizations"].as_array().unwrap().is_empty());
    api.get(&org.path(""), &existing.token)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn accepting_joins_the_team_with_the_event_and_audit_entry_in_one_go() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(&api, &org, &["team.member_added"]).await;
    let newcomer = Account::create_verified(&api).await;
    let invitation = invite(
        &api,
        &org,
        &org.admin.token,
        &newcomer.email.to_uppercase(),
        "viewer",
    )
    .await;
    let id = invitation["id"].as_str().unwrap();
    let mine = my_invitations(&api, &newcomer).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], id);
    assert_eq!(mine[0]["organization"]["slug"], org.slug.as_str());
    assert_eq!(mine[0]["role"], "viewer");
    // The org's admins see it too; members do not.
    let listed = api
        .get(&org.path("/invitations"), &org.admin.token)
        .await
        .expect(200);
    assert_eq!(listed.body["items"][0]["id"], id);
    api.get(&org.path("/invitations"), &org.member.token)
        .await
        .problem(403, "forbidden");

    let accepted = api
        .post(&answer(id, "accept"), Some(&newcomer.token), json!({}))
        .await
        .expect(200);
    assert_eq!(accepted.body["organization"]["slug"], org.slug.as_str());
    let (calls, scans) = accepted.dynamodb_calls();
    assert!(calls <= 3 && scans == 0, "accept made {calls} calls");
    let me = api.get("/v1/me", &newcomer.token).await.expect(200);
    assert_eq!(me.body["organizations"][0]["slug"], org.slug.as_str());
    assert_eq!(me.body["organizations"][0]["role"], "viewer");
    api.get(&org.path(""), &newcomer.token).await.expect(200);
    // Used up: gone from both lists, and cannot be accepted twice.
    assert!(my_invitations(&api, &newcomer).await.is_empty());
    let listed = api
        .get(&org.path("/invitations"), &org.admin.token)
        .await
        .expect(200);
    assert!(listed.body["items"].as_array().unwrap().is_empty());
    api.post(&answer(id, "accept"), Some(&newcomer.token), json!({}))
        .await
        .problem(404, "not_found");
    // Already a member: a new invitation is refused.
    api.post(
        &org.path("/members"),
        Some(&org.admin.token),
        json!({ "email": newcomer.email, "role": "admin" }),
    )
    .await
    .problem(409, "conflict");

    let messages = endpoint.messages(1, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["event"], "team.member_added");
    assert_eq!(messages[0]["data"]["user_id"], newcomer.id.as_str());
    assert_eq!(messages[0]["data"]["role"], "viewer");
    let audit = audit_chain(&format!("ORG#{}", org.id)).await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    let created = actions
        .iter()
        .rposition(|a| *a == "team.invitation_created")
        .unwrap();
    let added = actions
        .iter()
        .rposition(|a| *a == "team.member_added")
        .unwrap();
    assert!(created < added, "{actions:?}");
    assert_eq!(audit[added]["actor"]["id"], newcomer.id.as_str());
    assert_eq!(audit[created]["actor"]["id"], org.admin.id.as_str());
}

#[tokio::test]
async fn an_invitation_made_before_the_account_existed_is_found_at_signup() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let email = format!("{}@example.com", unique("later-"));
    let id = invite(&api, &org, &org.owner.token, &email, "admin").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(
        "/v1/auth/signup",
        None,
        json!({ "email": email, "password": plexmcp_tests::fixtures::PASSWORD, "name": "Late" }),
    )
    .await
    .expect(202);
    let person = Account::login(&api, &email).await;
    assert_eq!(my_invitations(&api, &person).await[0]["id"], id.as_str());
    person.verify_email(&api).await;
    api.post(&answer(&id, "accept"), Some(&person.token), json!({}))
        .await
        .expect(200);
    api.patch(&org.path(""), &person.token, json!({ "name": "Admin now" }))
        .await
        .expect(200);
}

#[tokio::test]
async fn reinviting_replaces_the_pending_invitation() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let person = Account::create_verified(&api).await;
    let first = invite(&api, &org, &org.owner.token, &person.email, "viewer").await;
    let second = invite(&api, &org, &org.admin.token, &person.email, "member").await;
    assert_ne!(first["id"], second["id"]);
    let mine = my_invitations(&api, &person).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], second["id"]);
    let listed = api
        .get(&org.path("/invitations"), &org.owner.token)
        .await
        .expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    api.post(
        &answer(first["id"].as_str().unwrap(), "accept"),
        Some(&person.token),
        json!({}),
    )
    .await
    .problem(404, "not_found");
    api.post(
        &answer(second["id"].as_str().unwrap(), "accept"),
        Some(&person.token),
        json!({}),
    )
    .await
    .expect(200);
    let me = api.get("/v1/me", &person.token).await.expect(200);
    assert_eq!(me.body["organizations"][0]["role"], "member");
}

#[tokio::test]
async fn revoked_declined_expired_and_other_peoples_invitations_cannot_be_accepted() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let person = Account::create_verified(&api).await;
    let stranger = Account::create(&api).await;

    // Revoked by an admin.
    let revoked = invite(&api, &org, &org.owner.token, &person.email, "member").await;
    let revoked = revoked["id"].as_str().unwrap();
    let path = org.path(&format!("/invitations/{revoked}"));
    api.get(&path, &org.admin.token).await.expect(200);
    api.delete(&path, &org.member.token)
        .await
        .problem(403, "forbidden");
    api.delete(&path, &org.admin.token).await.expect(204);
    api.get(&path, &org.admin.token)
        .await
        .problem(404, "not_found");
    api.post(&answer(revoked, "accept"), Some(&person.token), json!({}))
        .await
        .problem(404, "not_found");

    // Someone else's invitation: the id alone is not enough.
    let theirs = invite(&api, &org, &org.owner.token, &person.email, "member").await;
    let theirs = theirs["id"].as_str().unwrap();
    for verb in ["accept", "decline"] {
        api.post(&answer(theirs, verb), Some(&stranger.token), json!({}))
            .await
            .problem(404, "not_found");
    }
    assert!(my_invitations(&api, &stranger).await.is_empty());

    // Declined.
    api.post(&answer(theirs, "decline"), Some(&person.token), json!({}))
        .await
        .expect(204);
    api.post(&answer(theirs, "accept"), Some(&person.token), json!({}))
        .await
        .problem(404, "not_found");

    // Expired: time moves for this one item.
    let expiring = invite(&api, &org, &org.owner.token, &person.email, "member").await;
    let expiring = expiring["id"].as_str().unwrap();
    set_attribute(
        &format!("INVITEE#{}", person.email),
        &format!("ORG#{}", org.id),
        "expires_at",
        aws_sdk_dynamodb::types::AttributeValue::S("2020-01-01T00:00:00+00:00".into()),
    )
    .await;
    assert_eq!(my_invitations(&api, &person).await[0]["status"], "expired");
    api.post(&answer(expiring, "accept"), Some(&person.token), json!({}))
        .await
        .problem(404, "not_found");
    for junk in ["inv_nope", "%FF", "usr_01JDQX3Z8E6V4W2N9KQ5M7R1TA"] {
        api.post(&answer(junk, "accept"), Some(&person.token), json!({}))
            .await
            .problem(404, "not_found");
    }
    let me = api.get("/v1/me", &person.token).await.expect(200);
    assert!(me.body["organizations"].as_array().unwrap().is_empty());
    let actions: Vec<String> = audit_chain(&format!("ORG#{}", org.id))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for expected in ["team.invitation_revoked", "team.invitation_declined"] {
        assert!(actions.iter().any(|a| a == expected), "{expected}");
    }
}

#[tokio::test]
async fn only_owners_and_admins_invite_and_only_owners_invite_owners() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let (_, key) = org.api_key(&api).await;
    let email = format!("{}@example.com", unique("x-"));
    for token in [&org.member.token, &org.viewer.token, &key] {
        api.post(
            &org.path("/members"),
            Some(token),
            json!({ "email": email, "role": "viewer" }),
        )
        .await
        .problem(403, "forbidden");
    }
    api.post(
        &org.path("/members"),
        Some(&org.admin.token),
        json!({ "email": email, "role": "owner" }),
    )
    .await
    .problem(403, "forbidden");
    invite(&api, &org, &org.owner.token, &email, "owner").await;
    // An admin cannot revoke an owner's invitation either.
    let listed = api
        .get(&org.path("/invitations"), &org.owner.token)
        .await
        .expect(200);
    let id = listed.body["items"][0]["id"].as_str().unwrap().to_owned();
    api.delete(&org.path(&format!("/invitations/{id}")), &org.admin.token)
        .await
        .problem(403, "forbidden");
    for bad in [
        json!({ "email": "not-an-address", "role": "viewer" }),
        json!({ "email": email, "role": "god" }),
        json!({ "email": email }),
        json!({ "email": email, "role": "viewer", "user_id": "usr_x" }),
    ] {
        api.post(&org.path("/members"), Some(&org.owner.token), bad)
            .await
            .problem(422, "validation_failed");
    }
}

#[tokio::test]
async fn an_admin_cannot_replace_an_owners_invitation_by_inviting_again() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let person = Account::create_verified(&api).await;
    let owner_invite = invite(&api, &org, &org.owner.token, &person.email, "owner").await;
    // Revoking it is the owners' right; re-inviting with a lower role would revoke it too.
    let refused = api
        .post(
            &org.path("/members"),
            Some(&org.admin.token),
            json!({ "email": person.email, "role": "viewer" }),
        )
        .await
        .problem(403, "forbidden");
    assert!(refused.body["detail"].as_str().unwrap().contains("owner"));
    let mine = my_invitations(&api, &person).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], owner_invite["id"]);
    assert_eq!(mine[0]["role"], "owner");
    // An owner may replace it.
    invite(&api, &org, &org.owner.token, &person.email, "viewer").await;
}

#[tokio::test]
async fn an_invitation_lapses_when_its_maker_loses_the_right_to_grant_it() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let (demoted_admin, removed_admin) = (
        Account::create_verified(&api).await,
        Account::create_verified(&api).await,
    );
    org.add(&api, &demoted_admin, "admin").await;
    org.add(&api, &removed_admin, "admin").await;
    let (first, second, kept) = (
        Account::create_verified(&api).await,
        Account::create_verified(&api).await,
        Account::create_verified(&api).await,
    );
    let by_demoted = invite(&api, &org, &demoted_admin.token, &first.email, "admin").await;
    let by_removed = invite(&api, &org, &removed_admin.token, &second.email, "admin").await;
    let by_admin = invite(&api, &org, &org.admin.token, &kept.email, "member").await;

    api.patch(
        &org.path(&format!("/members/{}", demoted_admin.id)),
        &org.owner.token,
        json!({ "role": "viewer" }),
    )
    .await
    .expect(200);
    api.delete(
        &org.path(&format!("/members/{}", removed_admin.id)),
        &org.owner.token,
    )
    .await
    .expect(200);

    for (who, invitation) in [(&first, &by_demoted), (&second, &by_removed)] {
        api.post(
            &answer(invitation["id"].as_str().unwrap(), "accept"),
            Some(&who.token),
            json!({}),
        )
        .await
        .problem(404, "not_found");
        api.get(&org.path(""), &who.token)
            .await
            .problem(404, "not_found");
    }
    // The invitation of an admin who still is one stands.
    api.post(
        &answer(by_admin["id"].as_str().unwrap(), "accept"),
        Some(&kept.token),
        json!({}),
    )
    .await
    .expect(200);
}
