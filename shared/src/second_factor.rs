//! Checking a second factor: a TOTP code, whose time step is then accepted at most once
//! per user, or an unused backup code, then spent. What makes it single use is a write
//! (`Proof::write`) that the caller puts in the transaction acting on it: a replayed step
//! or a spent code makes that transaction fail, even when two requests race.
//!
//! Every check first reserves an attempt (5 failures lock second-factor checks for
//! 15 minutes), so parallel guesses cannot outrun the counter.

use crate::account::user_mutation;
use crate::attempts::{Reservation, TWO_FACTOR};
use crate::audit::Target;
use crate::client_info::ClientInfo;
use crate::crypto::SecretBox;
use crate::domain::backup_code;
use crate::domain::password::verify_secret;
use crate::domain::TotpSecret;
use crate::ids::UserId;
use crate::mutation::{CommitError, Mutation};
use crate::store::keys::BACKUP_CODE_PREFIX;
use crate::store::users::User;
use crate::store::{delete, n, put, Item, ItemExt, Key};
use crate::{AppState, Error};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{Duration, Utc};

/// The profile attributes of the sealed TOTP secret: being set up, and in force.
pub const PENDING: &str = "totp_pending";
pub const ACTIVE: &str = "totp_secret";

/// The accepted step is remembered a little longer than it can be presented.
const STEP_MEMORY: Duration = Duration::minutes(3);

pub enum Factor {
    Code(String),
    BackupCode(String),
}

impl Factor {
    /// Exactly one of `code` and `backup_code`.
    pub fn from_fields(code: Option<String>, backup_code: Option<String>) -> Result<Factor, Error> {
        match (code, backup_code) {
            (Some(code), None) => Ok(Factor::Code(code)),
            (None, Some(backup)) => Ok(Factor::BackupCode(backup)),
            _ => Err(Error::invalid(
                "code",
                "send either `code` or `backup_code`",
            )),
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            Factor::Code(_) => "totp",
            Factor::BackupCode(_) => "backup_code",
        }
    }
}

/// An accepted factor: the profile after the attempt was reserved (carrying the audit
/// head), and the write that spends it.
pub struct Proof {
    pub profile: Item,
    pub write: TransactWriteItem,
    /// The backup code item it spends, if any.
    pub spent_backup: Option<Key>,
}

pub enum Checked {
    Accepted(Box<Proof>),
    /// Wrong; `locked` when this failure reached the limit.
    Rejected {
        profile: Item,
        locked: bool,
    },
}

/// Whose second factor is checked: the user, their TOTP secret, and their unused backup
/// codes when the caller has read them already (else they are queried when needed).
#[derive(Clone, Copy)]
pub struct Holder<'a> {
    pub user: &'a User,
    pub secret: &'a TotpSecret,
    pub backup_codes: Option<&'a [Item]>,
}

/// Reserves an attempt, then checks `factor` (and `password`, when given) for `holder`.
pub async fn check(
    state: &AppState,
    holder: Holder<'_>,
    factor: &Factor,
    password: Option<String>,
) -> Result<Checked, Error> {
    let Holder { user, secret, .. } = holder;
    let profile = match TWO_FACTOR
        .reserve(&state.table, &Key::user(&user.id), Utc::now())
        .await?
    {
        Reservation::Granted(profile) => profile,
        Reservation::Locked { retry_after } => return Err(Error::RateLimited { retry_after }),
        Reservation::Missing | Reservation::Declined(_) => return Err(Error::Unauthorized),
    };
    let rejected = |profile: Item| {
        let locked = profile.opt_num(TWO_FACTOR.counter).unwrap_or(0) >= TWO_FACTOR.max;
        Ok(Checked::Rejected { profile, locked })
    };
    if let Some(password) = password {
        let hash = User::password_hash(&profile)?.0;
        if !blocking(move || verify_secret(&password, &hash)).await? {
            return rejected(profile);
        }
    }
    match factor {
        Factor::Code(code) => {
            let now = Utc::now();
            let Some(step) = secret.verify(code, now.timestamp().max(0) as u64) else {
                return rejected(profile);
            };
            let mut used = Key::totp_step(&user.id, step).to_item();
            used.insert("ttl".into(), n((now + STEP_MEMORY).timestamp()));
            let write = put(&state.table, used, "attribute_not_exists(pk)")?;
            Ok(Checked::Accepted(Box::new(Proof {
                profile,
                write,
                spent_backup: None,
            })))
        }
        Factor::BackupCode(typed) => {
            let Some(typed) = backup_code::normalise(typed) else {
                return rejected(profile);
            };
            let queried;
            let codes = match holder.backup_codes {
                Some(codes) => codes,
                None => {
                    queried = unused_backup_codes(state, user).await?;
                    &queried
                }
            };
            let hashes: Vec<(Key, String)> = codes
                .iter()
                .filter_map(|item| {
                    Some((Key::of(item).ok()?, item.opt_str("code_hash")?.to_owned()))
                })
                .collect();
            let matched = blocking(move || {
                hashes
                    .into_iter()
                    .find(|(_, hash)| verify_secret(&typed, hash))
                    .map(|(key, _)| key)
            })
            .await?;
            let Some(key) = matched else {
                return rejected(profile);
            };
            let write = delete(&state.table, &key, Some("attribute_exists(pk)"));
            Ok(Checked::Accepted(Box::new(Proof {
                profile,
                write,
                spent_backup: Some(key),
            })))
        }
    }
}

pub async fn unused_backup_codes(state: &AppState, user: &User) -> Result<Vec<Item>, Error> {
    Ok(state
        .table
        .query_all(&Key::user(&user.id).pk, BACKUP_CODE_PREFIX)
        .await?)
}

/// Audits a wrong second factor (or the lock it caused) and says why the request failed.
pub async fn rejected(
    state: &AppState,
    user: &User,
    profile: &Item,
    locked: bool,
    client: &ClientInfo,
    error: Error,
) -> Error {
    let action = if locked { "2fa.locked" } else { "2fa.failed" };
    user_mutation(user, profile, action, Target::new("user", &user.id), client)
        .refuse(state, error)
        .await
}

/// Checks a second factor; a wrong one is audited (and counts toward the lock) and
/// answered with `wrong`.
pub async fn accept(
    state: &AppState,
    holder: Holder<'_>,
    factor: &Factor,
    password: Option<String>,
    client: &ClientInfo,
    wrong: impl FnOnce() -> Error,
) -> Result<Proof, Error> {
    match check(state, holder, factor, password).await? {
        Checked::Accepted(proof) => Ok(*proof),
        Checked::Rejected { profile, locked } => {
            Err(rejected(state, holder.user, &profile, locked, client, wrong()).await)
        }
    }
}

/// The name of a proof's write (`Proof::write`), which spends the factor: its condition
/// fails when another request spent the same step or backup code first.
pub const FACTOR_SPENT: &str = "factor_spent";

/// Commits a change that spends the factor (`write_named(FACTOR_SPENT, proof.write)`): if
/// another request spent the same step or code first, the factor was not valid after all.
pub async fn commit_spending(
    state: &AppState,
    mutation: Mutation,
    user: &User,
    profile: &Item,
    client: &ClientInfo,
    wrong: impl FnOnce() -> Error,
) -> Result<(), Error> {
    match mutation.commit(state).await {
        Ok(_) => Ok(()),
        Err(CommitError::Conflict(FACTOR_SPENT)) => {
            Err(rejected(state, user, profile, false, client, wrong()).await)
        }
        Err(other) => Err(other.into()),
    }
}

/// Argon2 work off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

/// The TOTP secret stored (sealed) in `attr` of the profile.
pub fn sealed_secret(
    secrets: &SecretBox,
    user: &UserId,
    profile: &Item,
    attr: &str,
) -> Option<TotpSecret> {
    let sealed = profile.opt_str(attr)?;
    secrets
        .open(sealed, user.as_str())
        .map(TotpSecret::from_bytes)
}

/// The secret codes are checked against: only while 2FA is on.
pub async fn active_secret(
    state: &AppState,
    user: &User,
    profile: &Item,
) -> Result<Option<TotpSecret>, Error> {
    let secrets = &state.keys().await?.secrets;
    Ok(sealed_secret(secrets, &user.id, profile, ACTIVE).filter(|_| user.two_factor_enabled))
}
