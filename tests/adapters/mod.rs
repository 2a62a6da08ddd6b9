//! The same webhook app on both adapters, built from one route table and
//! served over real HTTP on 127.0.0.1, with one recorder of handler calls.
#![allow(dead_code)] // each test binary uses a part

use std::collections::{HashMap, HashSet};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookwarden::redis::{RedisStore, StoreError};
use hookwarden::{
    presets, DedupeStore, DeliveryIdSource, Gate, Reservation, Scheme, SignOptions, Signer, Token,
    Verified, Verifier,
};
use hookwarden_testkit::{CountingStore, Req, StoreDown};

/// The body limit of every route.
pub(crate) const LIMIT: usize = 4096;

/// The read timeout of the `/slow/` route (the others keep the default).
pub(crate) const SLOW_READ: Duration = Duration::from_millis(400);

/// The two adapters under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Adapter {
    Axum,
    Actix,
}

pub(crate) const ADAPTERS: [Adapter; 2] = [Adapter::Axum, Adapter::Actix];

/// The dedupe store behind a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    Memory,
    /// A store whose every call fails.
    Down,
    /// The same, with the gate failing open.
    DownFailOpen,
    /// No webhook middleware at all (the handler still asks for `Delivery`).
    NoLayer,
}

/// How the handler takes the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    Bytes,
    Json,
    Stream,
}

/// One route of the app.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) path: String,
    pub(crate) preset: &'static str,
    pub(crate) store: Store,
    pub(crate) body: Body,
    /// A read timeout other than the default.
    pub(crate) read_timeout: Option<Duration>,
}

impl Route {
    fn new(path: &str, preset: &'static str, store: Store, body: Body) -> Self {
        Self {
            path: path.to_owned(),
            preset,
            store,
            body,
            read_timeout: None,
        }
    }

    fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    pub(crate) fn scheme(&self) -> Scheme {
        presets::by_name(self.preset).expect("a preset")
    }

    /// The route's gate; its working store is `backend`'s (a Redis store
    /// gets a prefix of its own per route and per `run`).
    fn gate(&self, backend: &Backend, run: &str) -> Gate<AnyStore> {
        let scheme = self.scheme();
        let verifier = Verifier::new(scheme.clone(), secret(&scheme)).expect("a verifier");
        let store = match (self.store, backend) {
            (Store::Down | Store::DownFailOpen, _) => AnyStore::Counting(CountingStore::down()),
            (_, Backend::Memory) => AnyStore::Counting(CountingStore::new()),
            (_, Backend::Redis(redis)) => AnyStore::Redis(
                redis
                    .clone()
                    .with_prefix(format!("conformance:{run}:{}:", self.path)),
            ),
        };
        let gate = Gate::new(verifier)
            .with_body_limit(LIMIT)
            .with_store(store)
            .with_fail_open(self.store == Store::DownFailOpen);
        match self.read_timeout {
            Some(timeout) => gate.with_read_timeout(timeout),
            None => gate,
        }
    }
}

/// Where the routes that work keep their dedupe state.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// A `MemoryStore` per route (counted).
    Memory,
    /// One Redis server, a key prefix per route.
    Redis(RedisStore),
}

/// Either store behind one type, so that one route table serves both.
#[derive(Debug, Clone)]
pub(crate) enum AnyStore {
    Counting(CountingStore),
    Redis(RedisStore),
}

#[derive(Debug)]
pub(crate) enum AnyStoreError {
    Counting(StoreDown),
    Redis(StoreError),
}

impl std::fmt::Display for AnyStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Counting(err) => err.fmt(f),
            Self::Redis(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for AnyStoreError {}

impl DedupeStore for AnyStore {
    type Error = AnyStoreError;

    async fn reserve(&self, key: &str, lease: Duration) -> Result<Reservation, AnyStoreError> {
        match self {
            Self::Counting(store) => store
                .reserve(key, lease)
                .await
                .map_err(AnyStoreError::Counting),
            Self::Redis(store) => store
                .reserve(key, lease)
                .await
                .map_err(AnyStoreError::Redis),
        }
    }

    async fn complete(
        &self,
        key: &str,
        token: Token,
        retention: Duration,
    ) -> Result<(), AnyStoreError> {
        match self {
            Self::Counting(store) => store
                .complete(key, token, retention)
                .await
                .map_err(AnyStoreError::Counting),
            Self::Redis(store) => store
                .complete(key, token, retention)
                .await
                .map_err(AnyStoreError::Redis),
        }
    }

    async fn release(&self, key: &str, token: Token) -> Result<(), AnyStoreError> {
        match self {
            Self::Counting(store) => store
                .release(key, token)
                .await
                .map_err(AnyStoreError::Counting),
            Self::Redis(store) => store
                .release(key, token)
                .await
                .map_err(AnyStoreError::Redis),
        }
    }
}

/// Every route both apps serve, for POST and PUT alike: `/hooks/<preset>`
/// for each preset, plus the handler, store and read-timeout variants on NTX Pay.
pub(crate) fn routes() -> Vec<Route> {
    let mut routes: Vec<Route> = presets::NAMES
        .iter()
        .map(|&name| Route::new(&format!("/hooks/{name}"), name, Store::Memory, Body::Bytes))
        .collect();
    routes.extend([
        Route::new("/json/ntxpay", "ntxpay", Store::Memory, Body::Json),
        Route::new("/stream/ntxpay", "ntxpay", Store::Memory, Body::Stream),
        Route::new("/down/ntxpay", "ntxpay", Store::Down, Body::Bytes),
        Route::new("/open/ntxpay", "ntxpay", Store::DownFailOpen, Body::Bytes),
        Route::new("/bare/ntxpay", "ntxpay", Store::NoLayer, Body::Bytes),
        Route::new("/slow/ntxpay", "ntxpay", Store::Memory, Body::Bytes)
            .with_read_timeout(SLOW_READ),
    ]);
    routes
}

pub(crate) fn route(path: &str) -> Route {
    routes()
        .into_iter()
        .find(|route| route.path == path)
        .unwrap_or_else(|| panic!("no route {path}"))
}

/// The secret a route verifies with: a plain one, or `whsec_` + base64 for
/// the schemes that take only that.
pub(crate) fn secret(scheme: &Scheme) -> &'static str {
    const PLAIN: &str = "whsec_conformance_plain_secret";
    if scheme.parse_secret(PLAIN).is_ok() {
        PLAIN
    } else {
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    }
}

/// A signed request for `route`: the provider's headers for `body`, signed
/// with `secret` at `at` (now when `None`), with delivery ID `dlv_<case>`
/// where the scheme carries one in a header.
pub(crate) fn signed_with(
    route: &Route,
    secret: &str,
    body: &[u8],
    id: &str,
    at: Option<std::time::SystemTime>,
) -> Req {
    let scheme = route.scheme();
    let mut options = SignOptions::new();
    if matches!(scheme.delivery_id(), DeliveryIdSource::Header(_)) {
        options = options.with_id(id);
    }
    if let Some(at) = at {
        options = options.with_timestamp(at);
    }
    let headers = Signer::new(scheme, secret)
        .expect("a signer")
        .sign(body, &options)
        .expect("signed");
    Req::post(&route.path)
        .header("content-type", "application/json")
        .headers(&headers)
        .body(body)
}

// ---------------------------------------------------------------- the handler

/// What every handler of both apps records and how it answers: keyed by
/// the `case` member of the delivery's JSON body, it does what `reply` says.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    calls: Mutex<HashMap<String, usize>>,
    released: Mutex<HashSet<String>>,
}

/// The handler's answer, before an adapter turns it into a response.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) scheme: String,
    pub(crate) body: Vec<u8>,
}

impl Recorder {
    pub(crate) fn calls(&self, case: &str) -> usize {
        self.calls.lock().unwrap().get(case).copied().unwrap_or(0)
    }

    /// Lets a held call of `case` answer.
    pub(crate) fn release(&self, case: &str) {
        self.released.lock().unwrap().insert(case.to_owned());
    }

    /// One handler call. `echo` is what the handler answers with: the bytes
    /// it read, or its JSON value written again.
    pub(crate) async fn handle(
        &self,
        verified: &Verified,
        value: &serde_json::Value,
        echo: Vec<u8>,
    ) -> Answer {
        let case = value["case"].as_str().unwrap_or_default().to_owned();
        let reply = value["reply"].as_str().unwrap_or("ok");
        let first = {
            let mut calls = self.calls.lock().unwrap();
            let count = calls.entry(case.clone()).or_default();
            *count += 1;
            *count == 1
        };
        let status = match reply {
            "fail" => 500,
            "fail-first" if first => 500,
            "panic-first" if first => panic!("the conformance handler panics on purpose"),
            "hold-first" if first => {
                while !self.released.lock().unwrap().contains(&case) {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                200
            }
            _ => 200,
        };
        Answer {
            status,
            scheme: verified.scheme().to_owned(),
            body: echo,
        }
    }
}

/// What a handler echoes for `body` taken as `kind`.
pub(crate) fn echo(kind: Body, body: &[u8]) -> Vec<u8> {
    match kind {
        Body::Bytes | Body::Stream => body.to_vec(),
        Body::Json => {
            let value: serde_json::Value = serde_json::from_slice(body).expect("a JSON body");
            serde_json::to_vec(&value).expect("JSON")
        }
    }
}

fn parse(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_default()
}

/// The header naming the scheme the handler saw in `Verified`.
pub(crate) const SCHEME_HEADER: &str = "x-verified-scheme";

// ---------------------------------------------------------------- servers

/// Starts `adapter`'s app on a free port of 127.0.0.1, its working routes
/// deduplicating in `backend`.
pub(crate) async fn serve(
    adapter: Adapter,
    backend: &Backend,
    recorder: Arc<Recorder>,
) -> SocketAddr {
    let run = format!("{adapter:?}");
    let gates: Vec<(Route, Gate<AnyStore>)> = routes()
        .into_iter()
        .map(|route| {
            let gate = route.gate(backend, &run);
            (route, gate)
        })
        .collect();
    match adapter {
        Adapter::Axum => axum_app::serve(gates, recorder).await,
        Adapter::Actix => actix_app::serve(gates, recorder),
    }
}

mod axum_app {
    use super::*;

    use axum::extract::State;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{post, MethodRouter};
    use axum::{Json, Router};
    use bytes::Bytes;
    use hookwarden::tower::{Delivery, WebhookLayer};
    use http_body_util::BodyExt;

    type Rec = State<Arc<Recorder>>;

    pub(super) async fn serve(
        gates: Vec<(Route, Gate<AnyStore>)>,
        recorder: Arc<Recorder>,
    ) -> SocketAddr {
        let mut app = Router::new();
        for (route, gate) in gates {
            let handler: MethodRouter<Arc<Recorder>> = match route.body {
                Body::Bytes => post(bytes).put(bytes),
                Body::Json => post(json).put(json),
                Body::Stream => post(stream).put(stream),
            };
            let handler = match route.store {
                Store::NoLayer => handler,
                _ => handler.route_layer(WebhookLayer::new(gate)),
            };
            app = app.route(&route.path, handler);
        }
        let app = app.with_state(recorder);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn respond(answer: Answer) -> Response {
        let status = http::StatusCode::from_u16(answer.status).unwrap();
        (status, [(SCHEME_HEADER, answer.scheme)], answer.body).into_response()
    }

    async fn bytes(State(rec): Rec, delivery: Delivery, body: Bytes) -> Response {
        respond(rec.handle(&delivery, &parse(&body), body.to_vec()).await)
    }

    async fn json(
        State(rec): Rec,
        delivery: Delivery,
        Json(value): Json<serde_json::Value>,
    ) -> Response {
        let echo = serde_json::to_vec(&value).unwrap();
        respond(rec.handle(&delivery, &value, echo).await)
    }

    async fn stream(State(rec): Rec, delivery: Delivery, body: axum::body::Body) -> Response {
        let mut body = body;
        let mut read = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("a body frame").into_data() {
                read.extend_from_slice(&data);
            }
        }
        respond(rec.handle(&delivery, &parse(&read), read).await)
    }
}

mod actix_app {
    use super::*;

    use actix_web::{web, App, HttpResponse, HttpServer};
    use futures_core::Stream;
    use hookwarden::actix::{Delivery, Webhook};

    pub(super) fn serve(
        gates: Vec<(Route, Gate<AnyStore>)>,
        recorder: Arc<Recorder>,
    ) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Built once, outside the factory: both workers share each store.
        let routes: Vec<(Route, Webhook<AnyStore>)> = gates
            .into_iter()
            .map(|(route, gate)| (route, Webhook::new(gate)))
            .collect();
        let data = web::Data::from(recorder);
        let factory = move || {
            let mut app = App::new().app_data(data.clone());
            for (route, webhook) in &routes {
                // Each route wrapped, as the crate's docs do: other methods
                // get the resource's 405, as with axum's `route_layer`.
                let wrap = |handled: actix_web::Route| match route.store {
                    Store::NoLayer => handled,
                    _ => handled.wrap(webhook.clone()),
                };
                let (post, put) = match route.body {
                    Body::Bytes => (web::post().to(bytes), web::put().to(bytes)),
                    Body::Json => (web::post().to(json), web::put().to(json)),
                    Body::Stream => (web::post().to(stream), web::put().to(stream)),
                };
                let resource = web::resource(route.path.as_str())
                    .route(wrap(post))
                    .route(wrap(put));
                app = app.service(resource);
            }
            app
        };
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                HttpServer::new(factory)
                    .workers(2)
                    .disable_signals()
                    .listen(listener)
                    .expect("listen")
                    .run()
                    .await
            })
        });
        addr
    }

    fn respond(answer: Answer) -> HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(answer.status).unwrap();
        HttpResponse::build(status)
            .insert_header((SCHEME_HEADER, answer.scheme))
            .body(answer.body)
    }

    async fn bytes(rec: web::Data<Recorder>, delivery: Delivery, body: web::Bytes) -> HttpResponse {
        respond(rec.handle(&delivery, &parse(&body), body.to_vec()).await)
    }

    async fn json(
        rec: web::Data<Recorder>,
        delivery: Delivery,
        value: web::Json<serde_json::Value>,
    ) -> HttpResponse {
        let echo = serde_json::to_vec(&*value).unwrap();
        respond(rec.handle(&delivery, &value, echo).await)
    }

    async fn stream(
        rec: web::Data<Recorder>,
        delivery: Delivery,
        mut payload: web::Payload,
    ) -> HttpResponse {
        let mut read = Vec::new();
        while let Some(chunk) = poll_fn(|cx| Pin::new(&mut payload).poll_next(cx)).await {
            read.extend_from_slice(&chunk.expect("a payload chunk"));
        }
        respond(rec.handle(&delivery, &parse(&read), read).await)
    }
}
