//! The local stand-in for API Gateway, SQS event source mappings and EventBridge
//! schedules: one process that serves every HTTP function's router on 127.0.0.1:$PORT,
//! each request going to the function the template routes it to (`routes`),
//! polls every queue that `template.yaml` maps to a worker and hands each batch to the
//! same handler Lambda runs (deleting only the messages the handler did not report as
//! failed), and runs the scheduled functions.
//!
//! A request reaches the API on the gateway's own address (127.0.0.1, localhost), on an
//! org's `<slug>.<PLATFORM_DOMAIN>`, or on an active custom domain (`hosts`); any other
//! `Host` gets API Gateway's 403, as a name API Gateway does not serve does.
//!
//! What to poll and every function's environment come from the stack file that
//! `infra/bootstrap.py` wrote from `template.yaml`, so the two cannot drift. Each
//! function runs with its own configuration (its template environment), as in Lambda: a
//! variable one function is given is not seen by another.

mod cors;
mod hosts;
mod mailbox;
mod queues;
mod routes;
mod sigv4;
mod stack;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::{self, Next};
use shared::client_info::PeerAddr;
use shared::AppState;
use std::net::SocketAddr;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    if !stop_with_parent() {
        return ExitCode::SUCCESS;
    }
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("local-gateway: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), String> {
    let stack = stack::Stack::load()?;
    // Each function with its own configuration, as in Lambda: a variable the template
    // gives one function is not seen by another.
    let clients = shared::aws::Clients::from_env().await;
    let mut states = std::collections::HashMap::new();
    for function in stack.functions() {
        let config = shared::config::Config::from_lookup(|key| stack.function_var(function, key))
            .map_err(|e| format!("{function}: {e}"))?;
        let state = AppState::new(clients.clone(), config);
        states.insert(function.to_owned(), state);
    }
    let state_of = |function: &str| {
        states
            .get(function)
            .cloned()
            .ok_or_else(|| format!("{function} is not a function of the template"))
    };
    let port: u16 = stack
        .var("PORT")
        .unwrap_or_else(|| "3000".into())
        .parse()
        .map_err(|_| "PORT must be a port number")?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        format!("cannot listen on 127.0.0.1:{port} ({e}); is `make run` already running? Set PORT to use another port")
    })?;
    for worker in &stack.workers {
        tokio::spawn(queues::poll(state_of(&worker.function)?, worker.clone()));
    }
    for schedule in &stack.schedules {
        tokio::spawn(queues::every(
            state_of(&schedule.function)?,
            schedule.clone(),
        ));
    }

    let cors = std::sync::Arc::new(stack.cors.clone());
    let app = http_functions(&stack.routes, &state_of)?
        .layer(middleware::from_fn_with_state(cors, cors::apply))
        .layer(middleware::from_fn_with_state(
            state_of("OrganizationFunction")?,
            hosts::admit,
        ))
        .layer(middleware::from_fn(whole_body))
        .layer(middleware::from_fn(peer_addr));
    println!("PlexMCP Settings API listening on http://127.0.0.1:{port}/v1 (Ctrl-C stops it)");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .map_err(|e| e.to_string())
}

/// The gateway is asked to stop (SIGTERM) when the script that started it ends, however
/// it ends: a stack whose script was killed must not keep polling a dead emulator.
/// `false` if the parent is already gone.
fn stop_with_parent() -> bool {
    let parent = std::os::unix::process::parent_id();
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
    std::os::unix::process::parent_id() == parent
}

/// One router per HTTP function of the template, each behind the same layers as in its
/// Lambda; a request goes to the function its template route names.
fn http_functions(
    routes: &[routes::Route],
    state_of: &dyn Fn(&str) -> Result<AppState, String>,
) -> Result<axum::Router, String> {
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    let mut routers = std::collections::HashMap::new();
    for (function, api) in [
        ("PlatformFunction", platform::api()),
        ("IdentityFunction", identity::api()),
        ("OrganizationFunction", organization::api()),
    ] {
        let (router, doc) = api.split_for_parts();
        routes::check(routes, function, &doc)?;
        let state = state_of(function)?;
        let router = shared::http::layers::finish(router.with_state(state.clone()), &state);
        routers.insert(function.to_owned(), router);
    }
    let pages = "SettingsPagesFunction";
    let expose_round_trips = state_of(pages)?.config.expose_round_trips;
    routers.insert(pages.to_owned(), settings_pages::router(expose_round_trips));
    if let Some(route) = routes.iter().find(|r| !routers.contains_key(&r.function)) {
        return Err(format!(
            "{} {} goes to {}, which the local gateway does not serve",
            route.method, route.path, route.function
        ));
    }
    let (routes, routers) = (
        std::sync::Arc::new(routes.to_vec()),
        std::sync::Arc::new(routers),
    );
    Ok(axum::Router::new()
        .route("/_local/mailbox", axum::routing::get(mailbox::mailbox))
        .fallback(move |request: Request| {
            let (routes, routers) = (routes.clone(), routers.clone());
            async move {
                let Some(route) = routes::route_of(&routes, &request) else {
                    return routes::not_found();
                };
                match routers.get(&route.function) {
                    Some(_) if !route.admits(&request) => routes::forbidden(),
                    Some(router) => router.clone().oneshot(request).await.into_response(),
                    None => routes::not_found(),
                }
            }
        }))
}

/// What API Gateway puts in the request context: the caller's address.
async fn peer_addr(
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> axum::response::Response {
    request.extensions_mut().insert(PeerAddr(addr.ip()));
    next.run(request).await
}

/// The largest body API Gateway takes (HTTP APIs: 10 MB).
const API_GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;

/// As API Gateway does: the whole body is read before the function sees the request, so a
/// body the function refuses (over its 1 MB: 413) is answered, never cut off mid-upload;
/// one over 10 MB gets API Gateway's own 413.
async fn whole_body(request: Request, next: Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, API_GATEWAY_MAX_BODY).await {
        Ok(bytes) => next.run(Request::from_parts(parts, bytes.into())).await,
        Err(_) => (
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(serde_json::json!({ "message": "Request Entity Too Large" })),
        )
            .into_response(),
    }
}

/// Ctrl-C or SIGTERM: stop taking connections, let requests in flight finish, and exit
/// within 2 s even if a client keeps a connection open (so a stopped stack never leaves
/// its gateway, and its lock, behind).
async fn shutdown() {
    signalled().await;
    tokio::spawn(async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        std::process::exit(0);
    });
}

async fn signalled() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return ctrl_c.await.unwrap_or_default(),
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
