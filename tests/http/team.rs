//! The team: change roles, remove, leave — with the owner rules of the design. Joining
//! by invitation is `invitations.rs`.

use plexmcp_tests::{audit_chain, items, stack, Account, OrgFixture};
use serde_json::{json, Value};

#[tokio::test]
async fn members_and_viewers_cannot_change_the_team() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let someone = Account::create(&api).await;
    for who in [&org.member, &org.viewer] {
        api.post(
            &org.path("/members"),
            Some(&who.token),
            json!({ "email": someone.email, "role": "viewer" }),
        )
        .await
        .problem(403, "forbidden");
        api.patch(
            &org.path(&format!("/members/{}", org.viewer.id)),
            &who.token,
            json!({ "role": "admin" }),
        )
        .await
        .problem(403, "forbidden");
        api.delete(&org.path(&format!("/members/{}", org.admin.id)), &who.token)
            .await
            .problem(403, "forbidden");
    }
    // Everyone may read the team.
    for (_, who) in org.everyone() {
        let list = api.get(&org.path("/members"), &who.token).await.expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 4);
    }
}

#[tokio::test]
async fn admins_cannot_touch_owners_or_make_owners() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let owner_path = org.path(&format!("/members/{}", org.owner.id));
    api.delete(&owner_path, &org.admin.token)
        .await
        .problem(403, "forbidden");
    api.patch(&owner_path, &org.admin.token, json!({ "role": "member" }))
        .await
        .problem(403, "forbidden");
    api.patch(
        &org.path(&format!("/members/{}", org.member.id)),
        &org.admin.token,
        json!({ "role": "owner" }),
    )
    .await
    .problem(403, "forbidden");
    let someone = Account::create(&api).await;
    api.post(
        &org.path("/members"),
        Some(&org.admin.token),
        json!({ "email": someone.email, "role": "owner" }),
    )
    .await
    .problem(403, "forbidden");
    // An admin can manage the roles below owner.
    let changed = api
        .patch(
            &org.path(&format!("/members/{}", org.viewer.id)),
            &org.admin.token,
            json!({ "role": "member" }),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["role"], "member");
}

#[tokio::test]
async fn the_last_owner_can_neither_leave_nor_be_demoted() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let owner_path = org.path(&format!("/members/{}", org.owner.id));
    api.delete(&owner_path, &org.owner.token)
        .await
        .problem(409, "last_owner");
    api.patch(&owner_path, &org.owner.token, json!({ "role": "admin" }))
        .await
        .problem(409, "last_owner");

    // With a second owner, the first may step down.
    api.patch(
        &org.path(&format!("/members/{}", org.admin.id)),
        &org.owner.token,
        json!({ "role": "owner" }),
    )
    .await
    .expect(200);
    api.patch(&owner_path, &org.owner.token, json!({ "role": "admin" }))
        .await
        .expect(200);
    let admin_path = org.path(&format!("/members/{}", org.admin.id));
    api.delete(&admin_path, &org.admin.token)
        .await
        .problem(409, "last_owner");
}

#[tokio::test]
async fn two_owners_removing_each_other_at_once_leave_one_owner() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    api.patch(
        &org.path(&format!("/members/{}", org.admin.id)),
        &org.owner.token,
        json!({ "role": "owner" }),
    )
    .await
    .expect(200);
    let (admin_path, owner_path) = (
        org.path(&format!("/members/{}", org.admin.id)),
        org.path(&format!("/members/{}", org.owner.id)),
    );
    let (a, b) = tokio::join!(
        api.delete(&admin_path, &org.owner.token),
        api.delete(&owner_path, &org.admin.token)
    );
    let statuses = [a.status, b.status];
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?} {} {}",
        a.body,
        b.body
    );
    let owners = items(&format!("ORG#{}", org.id), "MEMBER#")
        .await
        .iter()
        .filter(|m| m["role"].as_s().unwrap() == "owner")
        .count();
    assert_eq!(owners, 1);
}

#[tokio::test]
async fn removal_and_demotion_apply_on_the_next_request() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    // Demoted admin loses admin rights at once.
    api.patch(
        &org.path(&format!("/members/{}", org.admin.id)),
        &org.owner.token,
        json!({ "role": "viewer" }),
    )
    .await
    .expect(200);
    api.patch(&org.path(""), &org.admin.token, json!({ "name": "Nope" }))
        .await
        .problem(403, "forbidden");
    // A removed member no longer sees the org at all.
    let removed = api
        .delete(
            &org.path(&format!("/members/{}", org.member.id)),
            &org.owner.token,
        )
        .await
        .expect(200);
    assert_eq!(removed.body["user_id"], org.member.id.as_str());
    assert_eq!(removed.body["revoked_api_keys"], 0);
    api.get(&org.path(""), &org.member.token)
        .await
        .problem(404, "not_found");
    let me = api.get("/v1/me", &org.member.token).await.expect(200);
    assert!(me.body["organizations"].as_array().unwrap().is_empty());
    api.delete(
        &org.path(&format!("/members/{}", org.member.id)),
        &org.owner.token,
    )
    .await
    .problem(404, "not_found");
    // A viewer may leave on their own.
    api.delete(
        &org.path(&format!("/members/{}", org.viewer.id)),
        &org.viewer.token,
    )
    .await
    .expect(200);
    let actions: Vec<String> = audit_chain(&format!("ORG#{}", org.id))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "team.role_changed",
        "team.member_removed",
        "team.member_left",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn the_member_list_pages_with_a_cursor() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let first = api
        .get(&org.path("/members?limit=3"), &org.owner.token)
        .await
        .expect(200);
    assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let second = api
        .get(
            &org.path(&format!("/members?limit=3&cursor={cursor}")),
            &org.owner.token,
        )
        .await
        .expect(200);
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(first.body["has_more"], true);
    // The last page says it is the last: no empty page follows, even when it is full.
    assert_eq!(second.body["has_more"], false);
    assert!(second.body["next_cursor"].is_null());
    let whole = api
        .get(&org.path("/members?limit=4"), &org.owner.token)
        .await
        .expect(200);
    assert_eq!(whole.body["items"].as_array().unwrap().len(), 4);
    assert_eq!(
        (&whole.body["has_more"], &whole.body["next_cursor"]),
        (&json!(false), &Value::Null)
    );
    let mut ids: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.body["items"].as_array().unwrap())
        .map(|m| m["user_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    for bad in ["limit=0", "limit=201", "limit=x"] {
        api.get(&org.path(&format!("/members?{bad}")), &org.owner.token)
            .await
            .problem(400, "invalid_query");
    }
    // A cursor is only good for the list and org that issued it; anything else, forged
    // or not, is refused before it reaches DynamoDB.
    let other = OrgFixture::create(&api).await;
    let forged = format!(
        "{}.{}",
        base64_url(br#"{"pk":"ORG#x","sk":"MEMBER#"}"#),
        cursor.split_once('.').unwrap().1
    );
    for bad in [
        "%%%".to_owned(),
        "bm90LWpzb24".to_owned(),
        base64_url(br#"{"pk":{"N":"1"},"sk":"x"}"#),
        base64_url(br#"{"pk":"ORG#x","sk":"MEMBER#"}"#),
        forged,
    ] {
        api.get(
            &org.path(&format!("/members?cursor={bad}")),
            &org.owner.token,
        )
        .await
        .problem(400, "invalid_cursor");
    }
    api.get(
        &other.path(&format!("/members?limit=3&cursor={cursor}")),
        &other.owner.token,
    )
    .await
    .problem(400, "invalid_cursor");
    api.get(
        &org.path(&format!("/mcps?limit=3&cursor={cursor}")),
        &org.owner.token,
    )
    .await
    .problem(400, "invalid_cursor");
    // An empty cursor (a generated client's null) is no cursor: the first page.
    let first = api
        .get(&org.path("/members?limit=3"), &org.owner.token)
        .await
        .expect(200)
        .body;
    let empty = api
        .get(&org.path("/members?limit=3&cursor="), &org.owner.token)
        .await
        .expect(200)
        .body;
    assert_eq!(first["items"], empty["items"]);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
