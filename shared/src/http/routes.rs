//! One list of a function's routes, for two uses. [`served!`](crate::served) builds the
//! axum router from each handler's `#[utoipa::path]`, taking only its path and methods;
//! [`documented!`](crate::documented) builds the OpenAPI description of the same
//! handlers, which only the platform function serves. So a function's cold start never
//! builds the operations, schemas and examples of its document.
//!
//! A function lists its routes once, in a macro that hands the list to either:
//!
//! ```ignore
//! macro_rules! each_route {
//!     ($with:ident) => { $with! { general::create; general::get, general::update } };
//! }
//! pub fn api() -> OpenApiRouter<AppState> { each_route!(documented) }
//! pub fn router(state: AppState) -> Router { each_route!(served).with_state(state) }
//! ```
//!
//! Handlers of one path are one group, separated by `,`; groups by `;`.

/// The axum router of the handlers (see the module). Handlers are written as paths
/// (`module::handler`), which `utoipa_axum::routes!` reads segment by segment.
#[macro_export]
macro_rules! served {
    ($($($($segment:ident)::+),+);+ $(;)?) => {{
        #[allow(unused_imports)]
        use $crate::__utoipa_axum::PathItemExt as _;
        let router = $crate::__axum::Router::new();
        $(
            let path: String = $crate::served!(@path $($($segment)::+),+);
            let mut methods = $crate::__axum::routing::MethodRouter::new();
            $(
                for method in $crate::__utoipa_axum::routes!(@path [methods()] of $($segment)::+) {
                    methods = methods.on(method.to_method_filter(), $($segment)::+);
                }
            )+
            let router = router.route(&path, methods);
        )+
        router
    }};
    (@path $($first:ident)::+ $(, $($rest:ident)::+)*) => {
        $crate::__utoipa_axum::routes!(@path [path()] of $($first)::+)
    };
}

/// The routes with their OpenAPI description (see the module).
#[macro_export]
macro_rules! documented {
    ($($($($segment:ident)::+),+);+ $(;)?) => {
        $crate::__utoipa_axum::router::OpenApiRouter::new()
            $(.routes($crate::__utoipa_axum::routes!($($($segment)::+),+)))+
    };
}
