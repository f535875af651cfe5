//! Who may do what in an organization. The caller's role is read from the database on
//! every request (a demotion applies at once), the org id comes from the path (via the
//! caller's own membership, or the API key's own org), never from a body, and an org
//! the caller cannot see — or one being deleted — answers 404, never 403.
//!
//! Round trips: (1) the credential (session, or API-key pointer) with the caller's
//! membership by slug (+ `first`), (2) the org item (+ the API key item, + keys derived
//! from the first read; + a query of the org run beside it, `load_alongside`; the org
//! item may instead come back from a write to it, the PIN gate's attempt reservation,
//! `load_writing_org`). The change, if any, is the third.

use crate::api_keys::{ApiKeyPointer, ApiKeySecret, API_KEY_TOUCH_INTERVAL};
use crate::attempts::{Reservation, API_KEY_FAILURES};
use crate::audit::{Actor, AuditDraft, Category, Target};
use crate::auth::{authenticate, Bearer, Caller, SessionToken};
use crate::client_info::ClientInfo;
use crate::domain::{OrgSlug, Permission, Role};
use crate::error::Error;
use crate::http::browser::presented_token;
use crate::ids::{OrgId, UserId};
use crate::mutation::{ChainOwner, Mutation};
use crate::store::item::time;
use crate::store::members::Membership;
use crate::store::orgs::{Org, ACTIVE};
use crate::store::{s, Cond, Item, ItemExt, Key, StoreError};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

/// What an org-scoped request authenticates with: a user's session or an org API key
/// (with the client, for the audit entry of a key that fails).
pub enum Credential {
    Session(Bearer),
    ApiKey(ApiKeySecret, ClientInfo),
}

impl<S: Send + Sync> FromRequestParts<S> for Credential {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let token = presented_token(parts)?.to_owned();
        if let Some(key) = ApiKeySecret::parse(&token) {
            let client = match ClientInfo::from_request_parts(parts, state).await {
                Ok(client) => client,
                Err(never) => match never {},
            };
            return Ok(Credential::ApiKey(key, client));
        }
        SessionToken::parse(&token)
            .map(|t| Credential::Session(Bearer(t)))
            .ok_or(Error::Unauthorized)
    }
}

/// Who acts.
pub enum Principal {
    User(Caller),
    /// An API key acts in its own org only, with `member` rights or its creator's
    /// current role, whichever is less.
    ApiKey {
        key_id: String,
        /// The creator's member item and the role it had when read: a condition of every
        /// change the key makes (keys made before the creator was recorded: none).
        creator: Option<(Key, Role)>,
    },
}

pub struct OrgAccess {
    pub principal: Principal,
    pub role: Role,
    pub org: Org,
    /// The org item as read (carries the audit chain head for the change).
    pub org_item: Item,
    /// The extra items asked for, by key.
    pub items: HashMap<Key, Item>,
    /// A PIN attempt was reserved on the org item as it was read (`pin_gate`).
    pub pin_reserved: bool,
}

/// A write to the org item that returns it (`None`: there is no org item) and whether it
/// reserved a PIN attempt; sent in the second round trip instead of reading the org.
pub type OrgWrite<'a> =
    Pin<Box<dyn Future<Output = Result<Option<(Item, bool)>, Error>> + Send + 'a>>;

impl OrgAccess {
    /// The path of something under the org (`rest` = `/mcps/mcp_…`).
    pub fn org_path(&self, rest: &str) -> String {
        format!("/v1/orgs/{}{rest}", self.org.slug)
    }

    pub async fn load(
        state: &AppState,
        credential: &Credential,
        slug: &str,
    ) -> Result<Self, Error> {
        Self::load_with(state, credential, slug, &[], |_, _| Vec::new()).await
    }

    /// The caller's access and the org's item at `target(org id)` (the thing a path names),
    /// read in the same round trips. `None` when the path's id is malformed (`target`
    /// gives no key) or names nothing: the caller decides whether 403 comes before 404.
    pub async fn load_target(
        state: &AppState,
        credential: &Credential,
        slug: &str,
        target: impl Fn(&OrgId) -> Option<Key>,
    ) -> Result<(Self, Option<Item>), Error> {
        Self::load_writing_org(state, credential, slug, target, |_| None).await
    }

    /// `first`: keys known from the request, read with the credential. `second`: keys that
    /// depend on what the first read found (given the caller's membership and those items).
    pub async fn load_with(
        state: &AppState,
        credential: &Credential,
        slug: &str,
        first: &[Key],
        second: impl FnOnce(&Membership, &HashMap<Key, Item>) -> Vec<Key>,
    ) -> Result<Self, Error> {
        let (access, ()) = Self::load_inner(
            state,
            credential,
            slug,
            first,
            second,
            |_| None,
            |_| async {},
        )
        .await?;
        Ok(access)
    }

    /// As `load_target`, with the org item coming back from `write` when it gives one for
    /// the caller's membership.
    pub async fn load_writing_org<'w>(
        state: &AppState,
        credential: &Credential,
        slug: &str,
        target: impl Fn(&OrgId) -> Option<Key>,
        write: impl FnOnce(&Membership) -> Option<OrgWrite<'w>>,
    ) -> Result<(Self, Option<Item>), Error> {
        let (access, ()) = Self::load_inner(
            state,
            credential,
            slug,
            &[],
            |m, _| target(&m.org_id).into_iter().collect(),
            write,
            |_| async {},
        )
        .await?;
        let item = target(&access.org.id).and_then(|key| access.items.get(&key).cloned());
        Ok((access, item))
    }

    /// As `load`, with `alongside(org id)` (a read the route makes whatever the caller may
    /// do) run concurrently with the second round trip, so it costs no round trip of its
    /// own. Its answer is the caller's to drop when the access turns out insufficient.
    pub async fn load_alongside<F: std::future::Future>(
        state: &AppState,
        credential: &Credential,
        slug: &str,
        alongside: impl FnOnce(&OrgId) -> F,
    ) -> Result<(Self, F::Output), Error> {
        Self::load_inner(
            state,
            credential,
            slug,
            &[],
            |_, _| Vec::new(),
            |_| None,
            alongside,
        )
        .await
    }

    async fn load_inner<'w, F: Future>(
        state: &AppState,
        credential: &Credential,
        slug: &str,
        first: &[Key],
        second: impl FnOnce(&Membership, &HashMap<Key, Item>) -> Vec<Key>,
        write: impl FnOnce(&Membership) -> Option<OrgWrite<'w>>,
        alongside: impl FnOnce(&OrgId) -> F,
    ) -> Result<(Self, F::Output), Error> {
        // An invalid slug names no org; still authenticate first so a bad token is a 401.
        let slug = OrgSlug::parse(slug).ok();
        let (principal, membership, mut items) = match credential {
            Credential::Session(bearer) => {
                let user = bearer.0.user_id.clone();
                let membership_key = slug.as_ref().map(|s| Key::membership(&user, s.as_str()));
                let mut keys: Vec<Key> = membership_key.iter().cloned().collect();
                keys.extend_from_slice(first);
                let (caller, mut items) = authenticate(state, bearer, &keys).await?;
                let membership = membership_key
                    .and_then(|k| items.remove(&k))
                    .ok_or(Error::NotFound)?;
                (
                    Principal::User(caller),
                    Membership::from_item(&membership)?,
                    items,
                )
            }
            Credential::ApiKey(key, client) => {
                let pointer_key = Key::api_key_pointer(&key.hash());
                let slug_key = slug.as_ref().map(|s| Key::slug(s.as_str()));
                let mut keys = vec![pointer_key.clone()];
                keys.extend(slug_key.iter().cloned());
                keys.extend_from_slice(first);
                let mut items = state.table.get_many(&keys).await?;
                let slug_org = slug_key
                    .and_then(|k| items.remove(&k))
                    .map(|i| org_id_of(&i))
                    .transpose()?;
                let Some(pointer) = items.remove(&pointer_key) else {
                    if let Some(org_id) = &slug_org {
                        log_key_failure(state, org_id, key, client).await;
                    }
                    return Err(Error::Unauthorized);
                };
                let ApiKeyPointer {
                    org_id,
                    key_id,
                    created_by,
                } = ApiKeyPointer::from_item(&pointer)?;
                let (Some(slug), true) = (slug, slug_org.as_ref() == Some(&org_id)) else {
                    return Err(Error::NotFound);
                };
                let creator = created_by.map(|user| (Key::member(&org_id, &user), Role::Member));
                let membership = Membership {
                    org_id,
                    slug: slug.as_str().to_owned(),
                    role: Role::Member,
                };
                (Principal::ApiKey { key_id, creator }, membership, items)
            }
        };

        let org_key = Key::org(&membership.org_id);
        let (api_key, creator_key) = match &principal {
            Principal::ApiKey { key_id, creator } => (
                Some(Key::api_key(&membership.org_id, key_id)),
                creator.as_ref().map(|(key, _)| key.clone()),
            ),
            Principal::User(_) => (None, None),
        };
        let write = write(&membership);
        let mut keys: Vec<Key> = write
            .is_none()
            .then(|| org_key.clone())
            .into_iter()
            .collect();
        keys.extend(api_key.iter().cloned());
        keys.extend(creator_key.iter().cloned());
        keys.extend(second(&membership, &items));
        let written = async {
            match write {
                Some(write) => write.await.map(Some),
                None => Ok(None),
            }
        };
        let (more, written, beside) = tokio::join!(
            state.table.get_many(&keys),
            written,
            alongside(&membership.org_id)
        );
        let mut more = more?;
        let (org_item, pin_reserved) = match written? {
            Some(Some(written)) => written,
            Some(None) => return Err(Error::NotFound),
            None => (more.remove(&org_key).ok_or(Error::NotFound)?, false),
        };
        let Some(org) = Org::from_item(&org_item)? else {
            // Being deleted: gone for people (404), and its keys no longer authenticate.
            return Err(match principal {
                Principal::ApiKey { .. } => Error::Unauthorized,
                Principal::User(_) => Error::NotFound,
            });
        };
        if let Some(api_key) = api_key {
            // Revoked: the pointer is deleted with the key, but a racing read may see one.
            let Some(key_item) = more.remove(&api_key) else {
                if let Credential::ApiKey(key, client) = credential {
                    log_key_failure(state, &membership.org_id, key, client).await;
                }
                return Err(Error::Unauthorized);
            };
            touch_api_key(state, &api_key, &key_item).await?;
        }
        let mut principal = principal;
        let mut role = membership.role;
        if let Principal::ApiKey {
            creator: Some((key, creator_role)),
            ..
        } = &mut principal
        {
            // The key dies with its creator's membership (that removal deletes it too,
            // but a racing read may still see the key).
            let member = more.get(key).ok_or(Error::Unauthorized)?;
            *creator_role = crate::store::members::role_of(member)?;
            if *creator_role == Role::Viewer {
                role = Role::Viewer;
            }
        }
        items.extend(more);
        let access = OrgAccess {
            principal,
            role,
            org,
            org_item,
            items,
            pin_reserved,
        };
        Ok((access, beside))
    }

    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(Error::Forbidden(match permission {
                Permission::Read => "your role cannot read this organization",
                Permission::Contribute => "your role cannot make this change",
                Permission::Administer => "only owners and admins can do this",
                Permission::DeleteOrganization => "only owners can delete the organization",
            }))
        }
    }

    /// A person's session, not an API key (PIN settings, for example).
    pub fn require_person(&self) -> Result<(), Error> {
        match self.principal {
            Principal::User(_) => Ok(()),
            Principal::ApiKey { .. } => Err(Error::Forbidden(
                "API keys cannot do this; sign in as a person",
            )),
        }
    }

    pub fn user_id(&self) -> Option<&UserId> {
        match &self.principal {
            Principal::User(caller) => Some(caller.user_id()),
            Principal::ApiKey { .. } => None,
        }
    }

    pub fn actor(&self) -> Actor {
        match &self.principal {
            Principal::User(caller) => Actor::user(caller.user_id(), None),
            Principal::ApiKey { key_id, .. } => Actor {
                kind: "api_key".into(),
                id: key_id.clone(),
                email: None,
            },
        }
    }

    pub fn org_key(&self) -> Key {
        Key::org(&self.org.id)
    }

    /// A change to this organization by the caller: recorded in the org's audit chain,
    /// and committed only while the org is still active (not being deleted) and the
    /// caller's access is as it was read — a person still a member with the same role,
    /// an API key not revoked — so a demotion cannot slip between check and commit.
    pub fn mutation(
        &self,
        action: &'static str,
        category: Category,
        target: Target,
        client: &ClientInfo,
    ) -> Mutation {
        let audit = AuditDraft::new(self.actor(), action, category, target, client);
        let mutation = Mutation::new(ChainOwner::existing(self.org_key(), &self.org_item), audit)
            .require("status", "=", s(ACTIVE));
        match &self.principal {
            Principal::User(caller) => mutation.guard(
                Key::membership(caller.user_id(), &self.org.slug),
                Cond::new("#role = :role")
                    .name("#role", "role")
                    .value(":role", s(self.role.as_str())),
            ),
            Principal::ApiKey { key_id, creator } => {
                let mutation = mutation.guard(
                    Key::api_key(&self.org.id, key_id),
                    Cond::new("attribute_exists(pk)"),
                );
                match creator {
                    // The creator's role as read decided what the key may do.
                    Some((key, role)) => mutation.guard(
                        key.clone(),
                        Cond::new("#role = :role")
                            .name("#role", "role")
                            .value(":role", s(role.as_str())),
                    ),
                    None => mutation,
                }
            }
        }
    }
}

/// A key that does not (or no longer) exist, sent to an org's route: an entry in that
/// org's audit log (`api_key.authentication_failed`, the key's display prefix as actor), at
/// most `API_KEY_FAILURES.max` an hour. The answer is a 401 whatever happens here.
async fn log_key_failure(
    state: &AppState,
    org_id: &OrgId,
    key: &ApiKeySecret,
    client: &ClientInfo,
) {
    let logged = async {
        let throttle = Key::api_key_failures(org_id);
        let Reservation::Granted(_) = API_KEY_FAILURES
            .reserve(&state.table, &throttle, Utc::now())
            .await?
        else {
            return Ok(());
        };
        let org_key = Key::org(org_id);
        let Some(org_item) = state.table.get(&org_key).await? else {
            return Ok(());
        };
        if org_item.opt_str("status") != Some(ACTIVE) {
            return Ok(());
        }
        // Nobody is authenticated here: every word of the request is the sender's. The
        // entry is the source network's, never a key's (a made-up key may share a real
        // key's prefix), names the key only by a fingerprint of it, and keeps a short,
        // printable-ASCII user agent.
        let actor = Actor {
            kind: "network".into(),
            id: client.network().unwrap_or_else(|| "unknown".into()),
            email: None,
        };
        let client = ClientInfo {
            ip: client.ip.clone(),
            user_agent: client.user_agent.as_deref().map(sanitised_user_agent),
        };
        let draft = AuditDraft::new(
            actor,
            "api_key.authentication_failed",
            Category::Authentication,
            Target::new("organization", org_id),
            &client,
        )
        .details(serde_json::json!({ "key_fingerprint": &key.hash()[..12] }))
        .failed();
        Mutation::new(ChainOwner::existing(org_key, &org_item), draft)
            .commit(state)
            .await
            .map(|_| ())
            .map_err(Error::from)
    };
    if let Err(err) = logged.await {
        tracing::warn!(error = ?err, "the failed API-key authentication was not logged");
    }
}

/// A user agent an unauthenticated sender chose, as an audit entry keeps it: at most 64
/// characters, each printable ASCII (anything else becomes `?`).
fn sanitised_user_agent(agent: &str) -> String {
    agent
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn org_id_of(item: &Item) -> Result<OrgId, StoreError> {
    OrgId::parse(item.str("org_id")?).ok_or_else(|| StoreError::Corrupt("org_id".into()))
}

/// `last_used_at`, written at most once a minute.
async fn touch_api_key(state: &AppState, key: &Key, item: &Item) -> Result<(), Error> {
    let now = Utc::now();
    if item
        .time("last_used_at")
        .is_ok_and(|last| now - last < API_KEY_TOUCH_INTERVAL)
    {
        return Ok(());
    }
    let result = state
        .table
        .client()
        .update_item()
        .table_name(state.table.name())
        .set_key(Some(key.to_item()))
        .update_expression("SET last_used_at = :now")
        .condition_expression("attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :stale)")
        .expression_attribute_values(":now", time(now))
        .expression_attribute_values(":stale", time(now - API_KEY_TOUCH_INTERVAL))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(())
        }
        Err(err) => Err(StoreError::from(err).into()),
    }
}
