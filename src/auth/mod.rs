//! Credential mechanisms, correct to their RFCs: Basic (RFC 7617), digest chains, HMACs and
//! canonical strings, PKCE (RFC 7636), JWT inspection, signing and forging, `WWW-Authenticate`,
//! OAuth error and RFC 7807 problem bodies, and the OAuth2 client (RFC 6749) with its token cache.
//! `api_key` and `pledg` hold providers' own checks, for the mocks that emulate them; scenarios
//! reach the same results through the generic ops.
//!
//! Pure functions, except `oauth2`, which sends requests through `net`.

pub mod api_key;
pub mod basic;
pub mod challenge;
pub mod digest;
pub mod jwt;
pub mod oauth2;
pub mod pkce;
pub mod pledg;
