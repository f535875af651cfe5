//! People and organizations for tests: accounts created through the API, and two
//! organizations with a user of every role each, for tenant-isolation and role tests.

use crate::{unique, Api};
use serde_json::json;

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub token: String,
    pub session_id: String,
}

impl Account {
    /// Signs up a new account and logs it in (its address is not verified yet:
    /// `verify_email`).
    pub async fn create(api: &Api) -> Account {
        let email = format!("{}@example.com", unique("user-"));
        let signup = api
            .post(
                "/v1/auth/signup",
                None,
                json!({ "email": email, "password": PASSWORD, "name": "Test User" }),
            )
            .await
            .expect(202);
        assert_eq!(signup.body, json!({ "status": "verification_sent" }));
        Account::login(api, &email).await
    }

    /// Signs up a new account, verifies its address with the link of its mail, and logs
    /// it in.
    pub async fn create_verified(api: &Api) -> Account {
        let account = Account::create(api).await;
        account.verify_email(api).await;
        account
    }

    /// Follows the newest verification link the local mailbox holds for this address.
    pub async fn verify_email(&self, api: &Api) {
        let token = crate::mailbox::wait_for(api, &self.email, "Verify your e-mail").await["token"]
            .as_str()
            .expect("a verification token")
            .to_owned();
        api.post("/v1/auth/verify-email", None, json!({ "token": token }))
            .await
            .expect(200);
    }

    /// A new session of an existing account.
    pub async fn login(api: &Api, email: &str) -> Account {
        let login = api
            .post(
                "/v1/auth/login",
                None,
                json!({ "email": email, "password": PASSWORD }),
            )
            .await
            .expect(200);
        let token = login.body["token"].as_str().unwrap().to_owned();
        let me = api.get("/v1/me", &token).await.expect(200);
        Account {
            id: me.body["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            token,
            session_id: login.body["session_id"].as_str().unwrap().to_owned(),
        }
    }
}

/// An account's 2FA, turned on with a code from a real authenticator (pyotp).
pub struct TwoFactor {
    pub otpauth_uri: String,
    /// The code that turned it on: its time step is spent.
    pub spent_code: String,
    /// The 30-second time step of `spent_code` (Unix time / 30).
    pub spent_step: i64,
    pub backup_codes: Vec<String>,
}

impl Account {
    /// Sets up and turns on 2FA for this account.
    pub async fn enable_two_factor(&self, api: &Api) -> TwoFactor {
        let setup = api
            .post(
                "/v1/me/2fa/setup",
                Some(&self.token),
                json!({ "password": PASSWORD }),
            )
            .await
            .expect(200);
        let otpauth_uri = setup.body["otpauth_uri"].as_str().unwrap().to_owned();
        crate::away_from_step_boundary().await;
        let spent_step = crate::time_step(0);
        let spent_code = crate::authenticator_code(&otpauth_uri, 0);
        let enabled = api
            .post(
                "/v1/me/2fa/enable",
                Some(&self.token),
                json!({ "code": spent_code }),
            )
            .await
            .expect(200);
        let backup_codes = enabled.body["backup_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        TwoFactor {
            otpauth_uri,
            spent_code,
            spent_step,
            backup_codes,
        }
    }
}

#[derive(Clone, Debug)]
pub struct OrgFixture {
    pub id: String,
    pub slug: String,
    pub owner: Account,
    pub admin: Account,
    pub member: Account,
    pub viewer: Account,
}

impl OrgFixture {
    pub async fn create(api: &Api) -> OrgFixture {
        Self::create_with_slug(api, &unique("org-")).await
    }

    /// `create`, with the slug the test chose (to name its host name before it exists).
    pub async fn create_with_slug(api: &Api, slug: &str) -> OrgFixture {
        let owner = Account::create(api).await;
        let org = api
            .post(
                "/v1/orgs",
                Some(&owner.token),
                json!({ "name": "Fixture Org", "slug": slug }),
            )
            .await
            .expect(201);
        let mut others = Vec::new();
        for role in ["admin", "member", "viewer"] {
            let account = Account::create(api).await;
            join(api, slug, &owner.token, &account, role).await;
            others.push(account);
        }
        let [admin, member, viewer] = <[Account; 3]>::try_from(others).unwrap();
        OrgFixture {
            id: org.body["id"].as_str().unwrap().to_owned(),
            slug: slug.to_owned(),
            owner,
            admin,
            member,
            viewer,
        }
    }

    pub fn path(&self, rest: &str) -> String {
        format!("/v1/orgs/{}{rest}", self.slug)
    }

    /// (role name, account) for every role.
    pub fn everyone(&self) -> [(&'static str, &Account); 4] {
        [
            ("owner", &self.owner),
            ("admin", &self.admin),
            ("member", &self.member),
            ("viewer", &self.viewer),
        ]
    }
}

/// Two organizations that must never see each other.
pub struct TwoOrgs {
    pub a: OrgFixture,
    pub b: OrgFixture,
}

impl TwoOrgs {
    pub async fn create(api: &Api) -> TwoOrgs {
        let (a, b) = tokio::join!(OrgFixture::create(api), OrgFixture::create(api));
        TwoOrgs { a, b }
    }
}

/// `account` joins the org `slug` with `role`: invited by `inviter`, then accepting (with
/// its address verified first, as accepting needs).
pub async fn join(api: &Api, slug: &str, inviter: &str, account: &Account, role: &str) {
    let me = api.get("/v1/me", &account.token).await.expect(200);
    if me.body["email_verified"] != true {
        account.verify_email(api).await;
    }
    let invitation = api
        .post(
            &format!("/v1/orgs/{slug}/members"),
            Some(inviter),
            json!({ "email": account.email, "role": role }),
        )
        .await
        .expect(201);
    let id = invitation.body["id"].as_str().unwrap();
    api.post(
        &format!("/v1/me/invitations/{id}/accept"),
        Some(&account.token),
        json!({}),
    )
    .await
    .expect(200);
}

impl OrgFixture {
    /// `account` joins this org with `role` (invited by the owner).
    pub async fn add(&self, api: &Api, account: &Account, role: &str) {
        join(api, &self.slug, &self.owner.token, account, role).await;
    }

    /// Turns PIN protection on (as the owner).
    pub async fn enable_pin(&self, api: &Api, pin: &str) {
        api.call(
            reqwest::Method::PUT,
            &self.path("/security/pin"),
            Some(&self.owner.token),
            Some(json!({ "pin": pin, "pin_confirmation": pin })),
        )
        .await
        .expect(200);
    }

    /// Deletes the org as its owner does (its name and password; no PIN, no 2FA): 202.
    pub async fn delete_org(&self, api: &Api) {
        api.post(
            &self.path("/delete"),
            Some(&self.owner.token),
            json!({ "confirm_name": "Fixture Org", "password": PASSWORD }),
        )
        .await
        .expect(202);
    }

    /// Moves the org to `plan` (the owner changes it; PIN protection must be off).
    pub async fn set_plan(&self, api: &Api, plan: &str) {
        api.put(
            &self.path("/billing"),
            &self.owner.token,
            json!({ "plan": plan }),
        )
        .await
        .expect(200);
    }

    /// A new API key of the org (created by the owner): (id, key).
    pub async fn api_key(&self, api: &Api) -> (String, String) {
        let created = api
            .post(
                &self.path("/api-keys"),
                Some(&self.owner.token),
                json!({ "name": "CI" }),
            )
            .await
            .expect(201);
        (
            created.body["id"].as_str().unwrap().to_owned(),
            created.body["key"].as_str().unwrap().to_owned(),
        )
    }

    /// A new MCP of the org: its id.
    pub async fn mcp(&self, api: &Api) -> String {
        let created = api
            .post(
                &self.path("/mcps"),
                Some(&self.owner.token),
                json!({ "name": "Weather API", "url": "https://weather.example.com/mcp" }),
            )
            .await
            .expect(201);
        created.body["id"].as_str().unwrap().to_owned()
    }
}
