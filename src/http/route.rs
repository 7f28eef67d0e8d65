//! Route registration that names each route's audit action. [`Routes`]
//! takes a handler only together with the action the request trail records
//! its calls under — `.route("/tokens/self", get("token.self", handler))` —
//! so the table of routes is the one place those names are written, and no
//! URL is parsed again to find one. [`Routes`] keeps that table as
//! (method, path, action) rows too, for tests that walk every route.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, Route};
use tower::{Layer, Service};

use super::audit_trail::AuditAction;

/// One registered method of one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    /// `GET` (which serves `HEAD` too), `POST`, …, or `ANY`.
    pub method: &'static str,
    /// The full path pattern, as axum matches it (`/api/v1/workspaces/{id}`).
    pub path: String,
    pub action: &'static str,
}

/// A handler that puts its action on every response it gives, its
/// extractors' rejections included: the trail is a layer outside the
/// handler, and the response is what comes back to it.
#[derive(Clone)]
struct Named<H> {
    action: &'static str,
    handler: H,
}

impl<H, T, S> Handler<T, S> for Named<H>
where
    H: Handler<T, S>,
    S: Send + 'static,
{
    // Boxed: the wrapped future's type is the handler's own, unnameable
    // here; axum boxes each route's future anyway.
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, req: Request, state: S) -> Self::Future {
        let Named { action, handler } = self;
        Box::pin(async move {
            let mut resp = handler.call(req, state).await;
            resp.extensions_mut().insert(AuditAction(action));
            resp
        })
    }
}

/// The handlers of one path, each registered with its action.
pub struct Methods<S> {
    router: MethodRouter<S>,
    named: Vec<(&'static str, &'static str)>,
}

macro_rules! method {
    ($name:ident, $filter:ident) => {
        #[doc = concat!("Adds the `", stringify!($filter), "` handler, named `action`.")]
        pub fn $name<H, T>(self, action: &'static str, handler: H) -> Self
        where
            H: Handler<T, S>,
            T: 'static,
        {
            self.on(MethodFilter::$filter, stringify!($filter), action, handler)
        }
    };
}

macro_rules! first_method {
    ($name:ident) => {
        #[doc = concat!("A path's `", stringify!($name), "` handler, named `action`.")]
        pub fn $name<H, T, S>(action: &'static str, handler: H) -> Methods<S>
        where
            H: Handler<T, S>,
            T: 'static,
            S: Clone + Send + Sync + 'static,
        {
            Methods {
                router: MethodRouter::new(),
                named: Vec::new(),
            }
            .$name(action, handler)
        }
    };
}

first_method!(get);
first_method!(post);
first_method!(put);
first_method!(patch);
first_method!(delete);

/// One handler for every method of a path, named `action`.
pub fn any<H, T, S>(action: &'static str, handler: H) -> Methods<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    Methods {
        router: axum::routing::any(Named { action, handler }),
        named: vec![("ANY", action)],
    }
}

impl<S> Methods<S>
where
    S: Clone + Send + Sync + 'static,
{
    method!(get, GET);
    method!(post, POST);
    method!(put, PUT);
    method!(patch, PATCH);
    method!(delete, DELETE);

    fn on<H, T>(
        mut self,
        filter: MethodFilter,
        method: &'static str,
        action: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.router = self.router.on(filter, Named { action, handler });
        self.named.push((method, action));
        self
    }

    /// What the path answers to a method it has no handler for. Unnamed:
    /// such an answer comes before anyone is authenticated, so the trail
    /// has nothing to record.
    pub fn fallback<H, T>(mut self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.router = self.router.fallback(handler);
        self
    }

    /// A layer around every handler of the path, as [`MethodRouter::layer`].
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.router = self.router.layer(layer);
        self
    }
}

/// A router whose every route names its action, and the table of them.
pub struct Routes<S> {
    router: Router<S>,
    table: Vec<Registered>,
}

impl<S> Default for Routes<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
        }
    }
}

impl<S> Routes<S>
where
    S: Clone + Send + Sync + 'static,
{
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(mut self, path: &str, methods: Methods<S>) -> Self {
        self.table
            .extend(methods.named.iter().map(|&(method, action)| Registered {
                method,
                path: path.to_string(),
                action,
            }));
        self.router = self.router.route(path, methods.router);
        self
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.table.extend(other.table);
        self.router = self.router.merge(other.router);
        self
    }

    /// `other` under `prefix`, as [`Router::nest`]: its `/` is `prefix`.
    pub fn nest(mut self, prefix: &str, other: Routes<S>) -> Self {
        self.table
            .extend(other.table.into_iter().map(|r| Registered {
                path: match r.path.as_str() {
                    "/" => prefix.to_string(),
                    path => format!("{prefix}{path}"),
                },
                ..r
            }));
        self.router = self.router.nest(prefix, other.router);
        self
    }

    /// What an unknown path answers. Unnamed, as [`Methods::fallback`].
    pub fn fallback<H, T>(mut self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.router = self.router.fallback(handler);
        self
    }

    /// A layer around the routes registered so far, as [`Router::layer`].
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.router = self.router.layer(layer);
        self
    }

    /// Every registered method of every path, with its action.
    pub fn table(&self) -> &[Registered] {
        &self.table
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, StatusCode};
    use tower::ServiceExt;

    use super::*;

    fn routes() -> Routes<()> {
        let items = Routes::new()
            .route("/", get("item.list", || async { "items" }))
            .route(
                "/{id}",
                get("item.read", || async { StatusCode::NOT_FOUND })
                    .delete("item.delete", || async { StatusCode::NO_CONTENT }),
            );
        Routes::new()
            .route("/ping", any("ping", || async {}))
            .nest("/items", items)
    }

    async fn action_of(method: Method, path: &str) -> Option<&'static str> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let resp = routes().into_router().oneshot(req).await.unwrap();
        resp.extensions().get::<AuditAction>().map(|a| a.0)
    }

    #[tokio::test]
    async fn every_answer_of_a_handler_carries_its_action() {
        assert_eq!(action_of(Method::GET, "/items").await, Some("item.list"));
        assert_eq!(action_of(Method::HEAD, "/items").await, Some("item.list"));
        // An error answer too: the trail records failures.
        assert_eq!(action_of(Method::GET, "/items/1").await, Some("item.read"));
        assert_eq!(
            action_of(Method::DELETE, "/items/1").await,
            Some("item.delete")
        );
        assert_eq!(action_of(Method::PUT, "/ping").await, Some("ping"));
        // Unknown paths and methods are no route's.
        assert_eq!(action_of(Method::GET, "/nowhere").await, None);
        assert_eq!(action_of(Method::PUT, "/items/1").await, None);
    }

    #[test]
    fn the_table_lists_each_method_under_its_full_path() {
        let routes = routes();
        let rows: Vec<(&str, &str, &str)> = routes
            .table()
            .iter()
            .map(|r| (r.method, r.path.as_str(), r.action))
            .collect();
        assert_eq!(
            rows,
            [
                ("ANY", "/ping", "ping"),
                ("GET", "/items", "item.list"),
                ("GET", "/items/{id}", "item.read"),
                ("DELETE", "/items/{id}", "item.delete"),
            ]
        );
    }
}
