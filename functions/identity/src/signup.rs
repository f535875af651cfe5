use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use shared::audit::{Actor, AuditDraft, Category, Target};
use shared::domain::{Email, Name, Password, PasswordHash};
use shared::error::Validator;
use shared::http::{ClientInfo, Json, Problem};
use shared::ids::UserId;
use shared::store::{put, users, ChainOwner, CommitError, Mutation};
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(schema_with = shared::domain::schema::email)]
    email: String,
    #[schema(schema_with = shared::domain::schema::new_password)]
    password: String,
    #[schema(schema_with = shared::domain::schema::name)]
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: UserId,
    email: String,
    name: String,
}

/// Create an account.
#[utoipa::path(post, path = "/v1/auth/signup", operation_id = "signup", tag = "identity", request_body = SignupRequest,
    responses(
        (status = 201, body = UserView),
        (status = 409, description = "An account with this e-mail address exists", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<SignupRequest>,
) -> Result<(StatusCode, axum::Json<UserView>), Error> {
    let mut v = Validator::default();
    let email = v.field("email", Email::parse(&body.email));
    let password = v.field("password", Password::parse(&body.password));
    let name = v.field("name", Name::parse(&body.name));
    let (Some(email), Some(password), Some(name)) = (email, password, name) else {
        return Err(v.error());
    };

    let hash = tokio::task::spawn_blocking(move || PasswordHash::of(&password))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(e.to_string()))?;
    let id = UserId::generate();
    let now = Utc::now();
    let audit = AuditDraft::new(
        Actor::user(&id, Some(email.as_str())),
        "user.signed_up",
        Category::Authentication,
        Target::new("user", &id),
        &client,
    );
    Mutation::new(
        ChainOwner::Creating(users::profile_item(&id, &email, &name, &hash, now)),
        audit,
    )
    .write(put(
        &state.table,
        users::email_pointer(&email, &id),
        "attribute_not_exists(pk)",
    )?)
    .commit(&state)
    .await
    .map_err(|e| match e {
        CommitError::Write(0) => Error::conflict(
            "conflict",
            "an account with this e-mail address already exists",
        ),
        other => other.into(),
    })?;
    let view = UserView {
        id,
        email: email.as_str().to_owned(),
        name: name.into_string(),
    };
    Ok((StatusCode::CREATED, axum::Json(view)))
}
