//! What the embedded mocks share, so each provider's module holds only what its documentation
//! says and nothing about how a mock is built.
//!
//! - [`reply`]: response builders: JSON, RFC 7807 problems, RFC 6749 error bodies, `Cache-Control:
//!   no-store`, and `WWW-Authenticate` challenges ([`Challenge`]).
//! - [`request`]: reading a request without trusting its shape: Basic and bearer credentials, form
//!   parameters with their repeats ([`FormParams`]), the peer address the front observed.
//! - [`token`]: an OAuth 2.0 token endpoint ([`TokenEndpoint`]), a wiremock responder that
//!   authenticates the client, checks `grant_type` and repeated parameters in the order a provider
//!   documents ([`TokenPolicy`]), and hands each grant to the provider ([`TokenProvider`]).
//! - [`deviation`]: a provider's deviations as an enum, parsed once from the mock's configuration
//!   ([`Deviations`]).
//! - [`ids`]: random identifiers and tokens in the formats providers use ([`random_id`]).
//! - [`cidr`]: CIDR blocks on the `ipnet` crate ([`Cidr`]).
//! - [`fallback`](mod@fallback): the catch-all for what no route matched ([`fallback()`]).
//!
//! Mocks route with wiremock's matchers (`Mock::given(method(..)).and(path(..))`), one stateful
//! responder per route over state shared in an `Arc`, and mount their catch-all last at a lower
//! priority ([`FALLBACK_PRIORITY`]) for the provider's answer to an unknown route.

pub mod cidr;
pub mod deviation;
pub mod fallback;
pub mod ids;
pub mod reply;
pub mod request;
pub mod token;

pub use cidr::Cidr;
pub use deviation::Deviations;
pub use fallback::fallback;
pub use ids::{IdFormat, random_id};
pub use reply::{Challenge, Problem, ReplyExt, json, oauth_error};
pub use request::FormParams;
pub use token::{
    Check, ClientAuth, NoStore, TokenEndpoint, TokenPolicy, TokenProvider, TokenRefusal,
    TokenReply, TokenRequest,
};

/// The wiremock priority of routes that answer a known path with a wrong method (405 and the
/// like): below the routes themselves (wiremock's default, 5), above the catch-all.
pub const WRONG_METHOD_PRIORITY: u8 = 100;

/// The wiremock priority of a provider's catch-all for unknown routes: the lowest, so every
/// route mounted with the default priority is matched first whatever the mounting order.
pub const FALLBACK_PRIORITY: u8 = u8::MAX;
