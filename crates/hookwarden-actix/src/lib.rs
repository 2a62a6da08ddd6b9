//! actix-web middleware that puts hookwarden in front of webhook routes:
//! bounded buffering, signature and timestamp verification, deduplication,
//! and the exact raw body handed on.
//!
//! It behaves exactly as the tower layer does (both run the same
//! [`Gate`]): the same statuses, the same `{"error":"<code>"}` bodies, the
//! same `tracing` events.
//!
//! ```
//! use actix_web::{web, App, HttpResponse};
//! use hookwarden_actix::{Delivery, Webhook};
//! use hookwarden_core::{presets, Gate, Verifier};
//!
//! async fn on_fourpay(delivery: Delivery, body: web::Bytes) -> HttpResponse {
//!     // Only verified, first-time deliveries reach this point.
//!     let _ = (delivery.scheme(), body);
//!     HttpResponse::Ok().finish()
//! }
//!
//! # fn main() -> Result<(), hookwarden_core::BuildError> {
//! let verifier = Verifier::new(presets::fourpay(), "whsec_development_only")?;
//! // Build the middleware once, outside the app factory, and clone it in:
//! // every worker then shares one dedupe store.
//! let webhook = Webhook::new(Gate::new(verifier).with_body_limit(256 * 1024));
//! let app = move || {
//!     App::new().service(
//!         web::resource("/webhooks/4pay")
//!             // Wrap the route: other methods get the resource's 405.
//!             .route(web::post().to(on_fourpay).wrap(webhook.clone())),
//!     )
//! };
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::fmt;
use std::future::{poll_fn, ready, Future, Ready};
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{
    forward_ready, Extensions, Payload, Service, ServiceRequest, ServiceResponse, Transform,
};
use actix_web::http::header::{HeaderMap, HeaderName as ActixHeaderName};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, PayloadConfig};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use futures_core::Stream;
use hookwarden_core::http::HeaderName;
use hookwarden_core::{
    BodyBuffer, DedupeStore, Gate, HeaderLookup, Lookup, MemoryStore, Rejection, Verified,
};

/// The middleware factory: wrap the webhook's route with it
/// (`web::post().to(handler).wrap(webhook)`).
///
/// Wrapped around a route, it runs only for the methods that route takes,
/// as the tower layer does on an axum method router
/// (`post(h).route_layer(..)`): a `GET` or an `OPTIONS` gets the
/// resource's 405. Wrapped around a resource or a scope,
/// it runs before actix-web picks the route, so it answers those methods
/// itself (401 for a request without a signature).
///
/// Per request: a `Content-Length` over the limit is answered 413 before
/// anything is read; the payload is buffered up to the limit (413 past it)
/// within the read timeout for the whole body (408 past it);
/// the delivery is verified (400/401); its delivery ID is reserved in the
/// dedupe store (a handled duplicate is answered 200, one being handled 409,
/// a store failure 503); then the handler gets the exact bytes as its
/// payload (so `web::Bytes`, `web::Json` and `web::Payload` all work) and the
/// [`Verified`] record in the request extensions (take it as [`Delivery`]).
/// `web::Payload` yields those bytes as they came. With actix-web's
/// compress features (on by default), `web::Bytes`, `String` and
/// `web::Json` inflate a body sent with a `Content-Encoding`, and refuse
/// one that does not inflate, as they would without the middleware; the
/// tower layer hands such a body on as it came.
/// The handler's `web::Bytes` and `String` take bodies up to the gate's
/// limit: the middleware gives them a `web::PayloadConfig` of that size in
/// place of the app's, a scope's or the resource's (actix-web's default is
/// 256 KiB; wrapped around a resource, that resource's own config still
/// wins). `web::Json` keeps its own `JsonConfig` (2 MiB by default), and
/// `web::Form` its `FormConfig` (16 KiB by default): for a provider that
/// posts forms, as Slack's slash commands do, give the app a
/// `web::FormConfig::default().limit(..)` as large as the gate's limit, or
/// the handler answers a larger delivery 413 on every retry.
/// actix-web cannot add that config to a request while a middleware outside
/// this one holds a clone of its `HttpRequest` (it panics, as it does for a
/// resource's own app data), so the middleware adds it only for a body over
/// 256 KiB, a compressed body (`web::Bytes` inflates it) or a
/// `PayloadConfig` set on the app, a scope or the resource: an outer
/// middleware must not keep the request across the call in those cases.
/// A 2xx answer marks the delivery handled; any other answer, an error or a
/// panic frees it for a retry.
///
/// Two things actix-web (actix-http 3.20) does itself, where hyper under
/// the tower layer does otherwise: it answers `Expect: 100-continue` before
/// any middleware runs, so a client announcing a body over the limit is
/// invited to send it and then gets the 413; and after the middleware
/// refuses a body, it reads and discards the rest of it instead of closing
/// the connection. Neither reaches the handler or the store; cap upload
/// sizes at a proxy in front if the traffic matters.
///
/// Build it once and clone it into the app factory: a `Webhook` built
/// inside the factory would give each worker its own memory store, and a
/// retry landing on another worker would run the handler again.
///
/// ```
/// use actix_web::test::{call_service, init_service, TestRequest};
/// use actix_web::{web, App, HttpResponse};
/// use hookwarden_actix::Webhook;
/// use hookwarden_core::{presets, Gate, SignOptions, Signer, Verifier};
///
/// # actix_web::rt::System::new().block_on(async {
/// let secret = "whsec_development_only";
/// let gate = Gate::new(Verifier::new(presets::ntxpay(), secret).unwrap());
/// let webhook = Webhook::new(gate.with_body_limit(64 * 1024));
/// assert_eq!(webhook.gate().body_limit(), 64 * 1024);
/// let route = web::post().to(|| async { HttpResponse::Ok().finish() });
/// let route = route.wrap(webhook.clone());
/// let app = init_service(App::new().route("/hook", route)).await;
///
/// let body = br#"{"event":"cash_in"}"#;
/// let headers = Signer::new(presets::ntxpay(), secret).unwrap();
/// let headers = headers.sign(body, &SignOptions::new()).unwrap();
/// let send = || {
///     let mut request = TestRequest::post().uri("/hook").set_payload(&body[..]);
///     for (name, value) in &headers {
///         request = request.insert_header((name.as_str(), value.as_bytes()));
///     }
///     let app = &app;
///     async move { call_service(app, request.to_request()).await }
/// };
/// // Handled once; the same delivery again is answered without the handler.
/// assert_eq!(send().await.status().as_u16(), 200);
/// let again = send().await;
/// assert_eq!(again.status().as_u16(), 200);
/// assert_eq!(actix_web::test::read_body(again).await, r#"{"status":"duplicate"}"#);
/// # });
/// ```
pub struct Webhook<St = MemoryStore> {
    gate: Arc<Gate<St>>,
}

impl<St> Webhook<St> {
    /// Middleware running `gate`, or a bare [`Verifier`](hookwarden_core::Verifier)
    /// with the defaults of [`Gate::new`].
    pub fn new(gate: impl Into<Gate<St>>) -> Self {
        Self {
            gate: Arc::new(gate.into()),
        }
    }

    /// The gate this middleware runs.
    pub fn gate(&self) -> &Gate<St> {
        &self.gate
    }
}

impl<St> Clone for Webhook<St> {
    fn clone(&self) -> Self {
        Self {
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<St> fmt::Debug for Webhook<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook").field("gate", &self.gate).finish()
    }
}

impl<S, B, St> Transform<S, ServiceRequest> for Webhook<St>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    St: DedupeStore + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = WebhookMiddleware<S, St>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        // The handler's `web::Bytes` or `String` reads the buffered body
        // under actix-web's `PayloadConfig`, 256 KiB by default: let it take
        // whatever the gate admitted.
        let mut handler_data = Extensions::new();
        handler_data.insert(PayloadConfig::new(self.gate.body_limit()));
        ready(Ok(WebhookMiddleware {
            service: Rc::new(service),
            gate: Arc::clone(&self.gate),
            handler_data: Rc::new(handler_data),
            names: Rc::default(),
        }))
    }
}

/// The service [`Webhook`] wraps around a handler.
pub struct WebhookMiddleware<S, St = MemoryStore> {
    service: Rc<S>,
    gate: Arc<Gate<St>>,
    /// App data added to each admitted request: a `PayloadConfig` as large
    /// as the gate's body limit.
    handler_data: Rc<Extensions>,
    /// The header names the gate looks up, in actix-web's type.
    names: Rc<Names>,
}

impl<S, St> fmt::Debug for WebhookMiddleware<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookMiddleware")
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B, St> Service<ServiceRequest> for WebhookMiddleware<S, St>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    St: DedupeStore + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let gate = Arc::clone(&self.gate);
        let handler_data = Rc::clone(&self.handler_data);
        let names = Rc::clone(&self.names);
        Box::pin(handle(gate, service, handler_data, names, req))
    }
}

/// The whole life of one delivery.
async fn handle<S, B, St>(
    gate: Arc<Gate<St>>,
    service: Rc<S>,
    handler_data: Rc<Extensions>,
    names: Rc<Names>,
    mut req: ServiceRequest,
) -> Result<ServiceResponse<EitherBody<B>>, Error>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    St: DedupeStore,
{
    if let Err(rejection) = gate.precheck(&Headers(req.headers(), &names)) {
        return Ok(answer(req, &rejection));
    }
    // One deadline for the whole body, however it trickles in.
    let read = actix_web::rt::time::timeout(
        gate.read_timeout(),
        buffer(req.take_payload(), gate.body_buffer()),
    );
    let body = match read.await {
        Ok(Ok(body)) => body,
        Ok(Err(rejection)) => return Ok(answer(req, &gate.refuse(rejection))),
        Err(_elapsed) => {
            return Ok(answer(req, &gate.refuse(Rejection::BodyReadTimeout)));
        }
    };
    let admitted = match gate.admit(&Headers(req.headers(), &names), &body).await {
        Ok(admitted) => admitted,
        Err(rejection) => return Ok(answer(req, &rejection)),
    };
    req.extensions_mut().insert(admitted.verified().clone());
    // Looked up before the app's and the scopes' data. Only when needed:
    // actix-web panics when it adds data to a request whose `HttpRequest`
    // another middleware still holds a clone of.
    if handler_may_refuse(&req, body.len()) {
        req.add_data_container(handler_data);
    }
    req.set_payload(Payload::from(body));
    let result = admitted
        .run(
            || service.call(req),
            |result| matches!(result, Ok(response) if response.status().is_success()),
        )
        .await;
    result.map(ServiceResponse::map_into_left_body)
}

/// actix-web's `PayloadConfig` limit when none is set: 256 KiB.
const ACTIX_PAYLOAD_LIMIT: usize = 262_144;

/// Whether the handler's `web::Bytes` or `String` could refuse a body of
/// `len` bytes without the middleware's `PayloadConfig`: it is over
/// actix-web's default, it is compressed (they limit the inflated size), or
/// the app, a scope or the resource set a config of its own, whose limit
/// cannot be read.
fn handler_may_refuse(req: &ServiceRequest, len: usize) -> bool {
    let compressed = req
        .headers()
        .get(actix_web::http::header::CONTENT_ENCODING)
        .is_some_and(|encoding| !encoding.as_bytes().eq_ignore_ascii_case(b"identity"));
    len > ACTIX_PAYLOAD_LIMIT
        || compressed
        || req.app_data::<PayloadConfig>().is_some()
        || req.app_data::<web::Data<PayloadConfig>>().is_some()
}

/// Reads the whole payload into `body` (see [`BodyBuffer`] for how the
/// pieces are kept), refusing it past the body's limit.
async fn buffer(mut payload: Payload, mut body: BodyBuffer) -> Result<Bytes, Rejection> {
    while let Some(chunk) = poll_fn(|cx| Pin::new(&mut payload).poll_next(cx)).await {
        body.push(chunk.map_err(|_| Rejection::BodyRead)?)?;
    }
    Ok(body.finish())
}

/// The middleware's own answer for `rejection` (already logged).
fn answer<B>(req: ServiceRequest, rejection: &Rejection) -> ServiceResponse<EitherBody<B>> {
    req.into_response(rejection_response(rejection))
        .map_into_right_body()
}

fn rejection_response(rejection: &Rejection) -> HttpResponse {
    HttpResponse::build(status(rejection))
        .content_type("application/json")
        .body(rejection.body())
}

/// actix-web names statuses with its own `http` version: convert by number.
fn status(rejection: &Rejection) -> StatusCode {
    StatusCode::from_u16(rejection.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// actix-web's header map, seen through the core's lookup trait.
struct Headers<'a>(&'a HeaderMap, &'a Names);

impl HeaderLookup for Headers<'_> {
    fn lookup(&self, name: &HeaderName) -> Lookup<'_> {
        let map = self.0;
        self.1.with(name, |converted| {
            let values = match converted {
                Some(converted) => map.get_all(converted),
                None => map.get_all(name.as_str()),
            };
            Lookup::from_values(values.map(|value| value.as_bytes()))
        })
    }
}

/// The header names the gate has looked up, converted once to actix-web's
/// own `HeaderName` (actix-web uses another version of the `http` crate).
///
/// Looking a header up by its text parses the name on every call, and for a
/// name outside the standard ones (`webhook-id`, `x-hub-signature-256`)
/// allocates a copy of it: three allocations per Standard Webhooks delivery.
/// A gate reads a handful of names (its scheme's and `Content-Length`), so
/// the list stays short; it is per worker, like the middleware.
#[derive(Default)]
struct Names(RefCell<Vec<(HeaderName, ActixHeaderName)>>);

impl Names {
    /// Names kept at most; any other is converted on each lookup.
    const MAX: usize = 16;

    /// Runs `f` with `name` in actix-web's type (`None` if it has no
    /// equivalent there, which a valid name always has).
    fn with<T>(&self, name: &HeaderName, f: impl FnOnce(Option<&ActixHeaderName>) -> T) -> T {
        let mut names = self.0.borrow_mut();
        if let Some((_, converted)) = names.iter().find(|(known, _)| known == name) {
            return f(Some(converted));
        }
        let Ok(converted) = ActixHeaderName::from_bytes(name.as_str().as_bytes()) else {
            return f(None);
        };
        if names.len() < Self::MAX {
            names.push((name.clone(), converted));
            return f(names.last().map(|(_, converted)| converted));
        }
        f(Some(&converted))
    }
}

/// The [`Verified`] record that [`Webhook`] put in the request, as a handler
/// argument. On a route without the middleware it fails with 500
/// `{"error":"webhook_layer_missing"}`.
///
/// ```
/// use actix_web::web;
/// use hookwarden_actix::Delivery;
///
/// async fn handler(delivery: Delivery, body: web::Bytes) -> String {
///     format!("{} {:?}: {} bytes", delivery.scheme(), delivery.delivery_id(), body.len())
/// }
/// # let _ = web::post().to(handler);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery(pub Verified);

impl Deref for Delivery {
    type Target = Verified;

    fn deref(&self) -> &Verified {
        &self.0
    }
}

impl FromRequest for Delivery {
    type Error = WebhookRejection;
    type Future = Ready<Result<Self, WebhookRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Verified>()
                .cloned()
                .map(Delivery)
                .ok_or_else(|| {
                    let rejection = Rejection::MissingLayer;
                    rejection.log("", None);
                    WebhookRejection(rejection)
                }),
        )
    }
}

/// Why hookwarden answered instead of the handler, as an actix-web error:
/// the status and `{"error":"<code>"}` body of the [`Rejection`].
///
/// ```
/// use actix_web::body::MessageBody;
/// use actix_web::ResponseError;
/// use hookwarden_actix::WebhookRejection;
/// use hookwarden_core::{Rejection, VerifyError};
///
/// let rejection = WebhookRejection(Rejection::from(VerifyError::StaleTimestamp));
/// let response = rejection.error_response();
/// assert_eq!(response.status().as_u16(), 401);
/// let body = response.into_body().try_into_bytes().unwrap();
/// assert_eq!(body, r#"{"error":"stale_timestamp"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRejection(pub Rejection);

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for WebhookRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl ResponseError for WebhookRejection {
    fn status_code(&self) -> StatusCode {
        status(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        rejection_response(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::{call_service, init_service, read_body, TestRequest};
    use actix_web::{web, App};
    use hookwarden_core::{presets, Gate, SignOptions, Signer, Verifier};

    use super::*;

    const SECRET: &str = "whsec_actix_unit_test";

    /// Lookups through the converted names find what lookups by text
    /// found, the first time and from the list; the list stays bounded.
    #[test]
    fn header_lookups_through_converted_names() {
        use actix_web::http::header::HeaderValue;
        use hookwarden_core::http::header::CONTENT_LENGTH;

        let mut map = HeaderMap::new();
        let (id, twice) = (
            ActixHeaderName::from_static("webhook-id"),
            ActixHeaderName::from_static("x-twice"),
        );
        map.insert(id, HeaderValue::from_static("msg_1"));
        map.append(twice.clone(), HeaderValue::from_static("a"));
        map.append(twice, HeaderValue::from_static("b"));
        let names = Names::default();
        let headers = Headers(&map, &names);
        let id = HeaderName::from_static("webhook-id");
        for _ in 0..2 {
            assert!(matches!(headers.lookup(&id), Lookup::One(b"msg_1")));
            let twice = HeaderName::from_static("x-twice");
            assert!(matches!(headers.lookup(&twice), Lookup::Repeated));
            assert!(matches!(headers.lookup(&CONTENT_LENGTH), Lookup::Missing));
        }
        assert_eq!(names.0.borrow().len(), 3);
        for i in 0..2 * Names::MAX {
            let other = HeaderName::from_bytes(format!("x-other-{i}").as_bytes()).unwrap();
            assert!(matches!(headers.lookup(&other), Lookup::Missing));
        }
        assert_eq!(names.0.borrow().len(), Names::MAX);
        assert!(matches!(headers.lookup(&id), Lookup::One(b"msg_1")));
    }

    /// A POST route behind `gate` whose handler answers the length of the
    /// body its `web::Bytes` got.
    fn counting(gate: Gate) -> actix_web::Route {
        web::post()
            .to(|body: web::Bytes| async move { body.len().to_string() })
            .wrap(Webhook::new(gate))
    }

    fn signed_request(body: &[u8]) -> TestRequest {
        let signer = Signer::new(presets::ntxpay(), SECRET).unwrap();
        let mut request = TestRequest::post().uri("/hook");
        for (name, value) in &signer.sign(body, &SignOptions::new()).unwrap() {
            request = request.insert_header((name.as_str(), value.as_bytes()));
        }
        request.set_payload(body.to_vec())
    }

    /// A middleware outside this one that keeps the `HttpRequest` across
    /// the call (actix-web's `from_fn` with an `HttpRequest` argument) does
    /// not make a delivery within actix-web's default limit panic.
    #[actix_web::test]
    async fn an_outer_middleware_holding_the_request_is_no_panic() {
        use actix_web::middleware::{from_fn, Next};

        async fn holds(
            request: HttpRequest,
            req: ServiceRequest,
            next: Next<impl MessageBody>,
        ) -> Result<ServiceResponse<impl MessageBody>, Error> {
            let response = next.call(req).await;
            drop(request);
            response
        }

        let gate = Gate::new(Verifier::new(presets::ntxpay(), SECRET).unwrap());
        let app = init_service(
            App::new().service(web::resource("/hook").route(counting(gate).wrap(from_fn(holds)))),
        )
        .await;
        let body = vec![b'x'; 200 * 1024];
        let response = call_service(&app, signed_request(&body).to_request()).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(read_body(response).await, body.len().to_string().as_bytes());
    }

    /// A compressed delivery the gate admitted reaches the handler, whose
    /// `web::Bytes` inflates it and limits the inflated size.
    #[actix_web::test]
    async fn a_compressed_delivery_reaches_the_handler_inflated() {
        use std::io::Write;

        let plain = vec![b'x'; 300 * 1024];
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&plain).unwrap();
        let wire = encoder.finish().unwrap();
        assert!(wire.len() < 256 * 1024, "{}", wire.len());
        let gate = Gate::new(Verifier::new(presets::ntxpay(), SECRET).unwrap());
        let app =
            init_service(App::new().service(web::resource("/hook").route(counting(gate)))).await;
        let request = signed_request(&wire).insert_header(("content-encoding", "gzip"));
        let response = call_service(&app, request.to_request()).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            read_body(response).await,
            plain.len().to_string().as_bytes()
        );
    }

    /// A `PayloadConfig` smaller than the gate's limit, on the app or the
    /// resource, does not refuse a body the gate admitted.
    #[actix_web::test]
    async fn a_payload_config_gives_way_to_the_gate_limit() {
        for (on_resource, data) in [(false, false), (false, true), (true, false), (true, true)] {
            let gate = Gate::new(Verifier::new(presets::ntxpay(), SECRET).unwrap());
            let (mut app, mut resource) = (App::new(), web::resource("/hook"));
            match (on_resource, data) {
                (false, false) => app = app.app_data(PayloadConfig::new(1024)),
                (false, true) => app = app.app_data(web::Data::new(PayloadConfig::new(1024))),
                (true, false) => resource = resource.app_data(PayloadConfig::new(1024)),
                (true, true) => {
                    resource = resource.app_data(web::Data::new(PayloadConfig::new(1024)))
                }
            }
            let app = init_service(app.service(resource.route(counting(gate)))).await;
            let body = vec![b'x'; 4096];
            let response = call_service(&app, signed_request(&body).to_request()).await;
            let case = format!("on the resource: {on_resource}, web::Data: {data}");
            assert_eq!(response.status().as_u16(), 200, "{case}");
            assert_eq!(read_body(response).await, b"4096"[..], "{case}");
        }
    }

    /// A `Content-Length` on two lines (actix-http's own parser refuses it,
    /// but a request can reach the middleware without that parser, as
    /// here) is refused before the body is read, as under the tower layer.
    #[actix_web::test]
    async fn a_repeated_content_length_is_refused() {
        let gate = Gate::new(Verifier::new(presets::ntxpay(), SECRET).unwrap());
        let app =
            init_service(App::new().service(web::resource("/hook").route(counting(gate)))).await;
        let request = signed_request(b"{}").append_header(("content-length", "2"));
        let response = call_service(&app, request.to_request()).await;
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(
            read_body(response).await,
            br#"{"error":"duplicate_header"}"#[..]
        );
    }

    /// A body over actix-web's own 256 KiB payload limit and under the
    /// gate's reaches a `web::Bytes` handler whole, and one over the gate's
    /// limit is refused by the middleware.
    #[actix_web::test]
    async fn web_bytes_takes_bodies_up_to_the_gate_limit() {
        let limit = 600 * 1024;
        let gate =
            Gate::new(Verifier::new(presets::ntxpay(), SECRET).unwrap()).with_body_limit(limit);
        let app =
            init_service(App::new().service(web::resource("/hook").route(counting(gate)))).await;
        let signer = Signer::new(presets::ntxpay(), SECRET).unwrap();
        for (size, status, answer) in [
            (512 * 1024, 200, (512 * 1024).to_string()),
            (limit + 1, 413, r#"{"error":"body_too_large"}"#.to_owned()),
        ] {
            let body = vec![b'x'; size];
            let mut request = TestRequest::post().uri("/hook");
            for (name, value) in &signer.sign(&body, &SignOptions::new()).unwrap() {
                request = request.insert_header((name.as_str(), value.as_bytes()));
            }
            let response = call_service(&app, request.set_payload(body).to_request()).await;
            assert_eq!(response.status().as_u16(), status, "{size} bytes");
            assert_eq!(read_body(response).await, answer.as_bytes(), "{size} bytes");
        }
    }
}
