//! The tower suite's helpers: the shared fixtures of `hookwarden-testkit`,
//! plus axum apps built around them.
#![allow(dead_code)] // every test binary uses a different part

pub(crate) use hookwarden_testkit::*;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookwarden_core::{DedupeStore, Gate, Verified};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

// ---------------------------------------------------------------- axum apps

#[cfg(feature = "axum")]
#[allow(unused_imports)] // not every test binary uses the apps
pub(crate) use apps::*;

#[cfg(feature = "axum")]
mod apps {
    use super::*;

    use std::future::Future;

    use axum::extract::State;
    use axum::routing::{post, MethodRouter};
    use axum::{Extension, Router};
    use hookwarden_tower::{Delivery, WebhookLayer};
    use http::StatusCode;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// The path [`app`] serves.
    pub(crate) const HOOK: &str = "/hook";

    /// The handler: records what it got, then does the probe's reply.
    pub(crate) async fn handler(
        State(probe): State<Arc<Probe>>,
        delivery: Delivery,
        Extension(extension): Extension<Verified>,
        body: Bytes,
    ) -> (StatusCode, String) {
        let id = delivery
            .delivery_id()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        probe.record(body, Some(delivery.0), Some(extension));
        let (status, text) = probe.run(&id).await;
        (StatusCode::from_u16(status).expect("status"), text)
    }

    /// `method_router` at `path`, behind `layer` (as a route layer).
    pub(crate) fn app_with<St>(
        probe: &Arc<Probe>,
        path: &str,
        method_router: MethodRouter<Arc<Probe>>,
        layer: WebhookLayer<St>,
    ) -> Router
    where
        St: DedupeStore + Clone + 'static,
    {
        Router::new()
            .route(path, method_router)
            .route_layer(layer)
            .with_state(Arc::clone(probe))
    }

    /// POST [`HOOK`] → [`handler`], behind `layer`.
    pub(crate) fn app<St>(probe: &Arc<Probe>, layer: WebhookLayer<St>) -> Router
    where
        St: DedupeStore + Clone + 'static,
    {
        app_with(probe, HOOK, post(handler), layer)
    }

    /// Several routes on one handler and one counting store:
    /// `/ntxpay` and `/sw` (limit [`LIMIT`], `store`), `/down` (a store that
    /// is down), `/fail-open` (the same, fail-open).
    pub(crate) struct Fixture {
        pub(crate) app: Router,
        pub(crate) probe: Arc<Probe>,
        pub(crate) store: CountingStore,
    }

    pub(crate) fn fixture(probe: Arc<Probe>) -> Fixture {
        let store = CountingStore::new();
        let route = |path: &str, layer| app_with(&probe, path, post(handler), layer);
        let app = route(
            "/ntxpay",
            WebhookLayer::new(
                Gate::new(verifier())
                    .with_body_limit(LIMIT)
                    .with_store(store.clone()),
            ),
        )
        .merge(route(
            "/sw",
            WebhookLayer::new(
                Gate::new(sw_verifier())
                    .with_body_limit(LIMIT)
                    .with_store(store.clone()),
            ),
        ))
        .merge(route(
            "/down",
            WebhookLayer::new(Gate::new(verifier()).with_store(CountingStore::down())),
        ))
        .merge(route(
            "/fail-open",
            WebhookLayer::new(
                Gate::new(verifier())
                    .with_store(CountingStore::down())
                    .with_fail_open(true),
            ),
        ));
        Fixture { app, probe, store }
    }

    /// Serves `app` on 127.0.0.1 in a spawned task.
    pub(crate) async fn serve(app: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        addr
    }

    /// How a test reaches the app.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Kind {
        /// `tower::ServiceExt::oneshot` on the `Router`.
        Oneshot,
        /// Real HTTP/1.1 on 127.0.0.1.
        Http,
    }

    pub(crate) const KINDS: [Kind; 2] = [Kind::Oneshot, Kind::Http];

    impl Kind {
        pub(crate) async fn client(self, app: Router) -> Client {
            match self {
                Kind::Oneshot => Client::Oneshot(app),
                Kind::Http => Client::Http(serve(app).await),
            }
        }
    }

    #[derive(Clone)]
    pub(crate) enum Client {
        Oneshot(Router),
        Http(SocketAddr),
    }

    impl Client {
        pub(crate) fn send(&self, req: &Req) -> impl Future<Output = RawResponse> + Send + 'static {
            let this = self.clone();
            let req = req.clone();
            async move {
                this.try_send(&req)
                    .await
                    .unwrap_or_else(|err| panic!("{} {}: {err}", req.method, req.path))
            }
        }

        /// The answer, or why there was none (a panic, a closed connection).
        pub(crate) async fn try_send(&self, req: &Req) -> Result<RawResponse, String> {
            match self {
                Client::Http(addr) => raw_send(*addr, req).await.map_err(|e| e.to_string()),
                Client::Oneshot(app) => {
                    let call = tokio::spawn(app.clone().oneshot(req.to_http()));
                    let response = tokio::time::timeout(PATIENCE, call)
                        .await
                        .map_err(|_| "no answer in time".to_owned())?
                        .map_err(|e| e.to_string())?
                        .unwrap_or_else(|never| match never {});
                    let status = response.status().as_u16();
                    let headers = response
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                        .collect();
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| e.to_string())?
                        .to_bytes()
                        .to_vec();
                    Ok(RawResponse {
                        status,
                        headers,
                        body,
                    })
                }
            }
        }

        /// Sends `req` and goes away once the handler started (drops the
        /// response future, or closes the connection); returns once the
        /// handler's future was dropped.
        pub(crate) async fn abandon(&self, req: &Req, probe: &Probe) {
            match self {
                Client::Oneshot(app) => {
                    let mut call = Box::pin(app.clone().oneshot(req.to_http()));
                    tokio::select! {
                        response = call.as_mut() => panic!("answered: {:?}", response.map(|r| r.status())),
                        () = probe.entered.notified() => {}
                    }
                    drop(call);
                }
                Client::Http(addr) => {
                    let mut stream = TcpStream::connect(addr).await.expect("connect");
                    stream.write_all(&req.wire()).await.expect("write");
                    tokio::time::timeout(PATIENCE, probe.entered.notified())
                        .await
                        .expect("the handler started");
                    drop(stream);
                }
            }
            tokio::time::timeout(Duration::from_secs(5), probe.cancelled.notified())
                .await
                .expect("the handler's future was dropped after the client went away");
        }
    }
}
