//! The deletion worker's first real message: a small org, as `DELETE /v1/orgs/{slug}`
//! leaves it — marked `deleting`, with its slug, its owner's member item, the owner's
//! membership and count, and its host name's record in the platform zone — deleted for
//! good: the partition swept, the membership released with its mail, the export prefix
//! and the host name cleared, the tombstone, org and slug written in one transaction.
//!
//! Each answer needs an org of its own, and founding through the API is capped at 10
//! orgs a day a person. So each org is written in one transaction by the builders the
//! founding route uses (`orgs::new_item`, `slug_reservation`, `Member`, `Membership`,
//! `joined`); its host name's record is written by the events worker's release binary
//! from the message founding queues (`HostnameRecord`); then it gets the marks the
//! deletion route sets.

use crate::functions::Fixture;
use crate::Launcher;
use local_runtime::events::sqs_record;
use local_runtime::RuntimeApi;
use serde_json::{json, Value};
use shared::config::Config;
use shared::domain::{Description, Email, Name, OrgSlug, Role};
use shared::ids::OrgId;
use shared::org_deletion::OrgDeletion;
use shared::outbox::Outboxed;
use shared::platform_hostname::HostnameRecord;
use shared::store::item::time;
use shared::store::members::{joined, Member, Membership};
use shared::store::orgs::{self, DELETING};
use shared::store::users::{id_by_email, User};
use shared::store::{put, s, Key, Table};
use std::cell::Cell;
use std::path::Path;

/// A fresh small org marked `deleting` per call, and its message.
pub fn one_deletion_at_a_time(
    launcher: &Launcher,
    bin: &Path,
    table: &Table,
    fixture: &Fixture,
) -> Box<dyn Fn() -> Value> {
    let table = table.clone();
    let owner = crate::block_on(async {
        let email = Email::parse(&fixture.email).expect("the fixture's address");
        let id = id_by_email(&table, &email)
            .await
            .expect("the e-mail pointer");
        let profile = table.get(&Key::user(&id.expect("an account"))).await;
        User::from_item(&profile.expect("the profile").expect("a profile")).expect("a profile")
    });
    let env = launcher.stack.function_env_of("org-deletion");
    let config = Config::from_lookup(|key| {
        env.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("the deletion worker's configuration");
    let events_binary = bin.join("event-dispatch");
    let events = RuntimeApi::start();
    let events_worker = launcher.start(&events_binary, &events);
    let slugs = fixture.slug.clone();
    let made = Cell::new(0usize);
    let last: Cell<Option<OrgId>> = Cell::new(None);
    Box::new(move || {
        // The events worker's process lives as long as this closure.
        let _ = &events_worker;
        // Each org is asked for once the one before was answered: it is a tombstone.
        if let Some(before) = last.take() {
            let tombstone = crate::block_on(table.get(&Key::tombstone(&before)));
            assert!(
                tombstone.expect("the tombstone read").is_some(),
                "{before} was not deleted"
            );
        }
        let n = made.replace(made.get() + 1);
        let now = chrono::Utc::now();
        let id = OrgId::generate();
        let slug = OrgSlug::parse(&format!("{slugs}-gone{n}")).expect("a slug");
        let name = Name::parse("Bench Deletion").expect("a name");
        let mut org = orgs::new_item(&id, &name, &slug, &Description::default(), now);
        let membership = Membership {
            org_id: id.clone(),
            slug: slug.as_str().to_owned(),
            role: Role::Owner,
        };
        let new = "attribute_not_exists(pk)";
        let founded = vec![
            put(&table, org.clone(), new).expect("the org"),
            put(&table, orgs::slug_reservation(&slug, &id), new).expect("the slug"),
            put(
                &table,
                Member::joining(&owner, Role::Owner, now).item(&id),
                new,
            )
            .expect("the member"),
            put(&table, membership.item(&owner.id), new).expect("the membership"),
            joined(&table, &owner.id).expect("the count"),
        ];
        crate::block_on(table.transact(founded)).expect("a small org");

        let record = Outboxed::Hostname(HostnameRecord::new(&id, slug.as_str(), &config, now));
        let body = serde_json::to_string(&record).expect("JSON");
        let batch = json!({ "Records": [sqs_record(&format!("hostname-{n}"), &body)] });
        crate::cold_start::check(&events_binary, &events.invoke(&batch));

        org.insert("status".into(), s(DELETING));
        org.insert("deleted_at".into(), time(now));
        org.insert("deleted_by".into(), s(owner.id.as_str()));
        let marked = put(&table, org, "attribute_exists(pk)").expect("the marks");
        crate::block_on(table.transact(vec![marked])).expect("the org, being deleted");

        let message = OrgDeletion::new(&id, owner.id.as_str(), now);
        last.set(Some(id));
        let body = serde_json::to_string(&message).expect("JSON");
        json!({ "Records": [sqs_record(&format!("deletion-{n}"), &body)] })
    })
}
