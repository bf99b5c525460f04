//! The first shared helpers of the mocks, kept as names for what moved into [`kit`](super::kit):
//! new code uses the kit directly.

pub use super::kit::reply::json as json_response;
pub use super::kit::request::bearer;

use std::borrow::Cow;
use std::collections::HashMap;

use wiremock::ResponseTemplate;

use super::kit::ReplyExt as _;

/// An RFC 6749 §5.2 error body, uncacheable as §5.1 asks of every token response.
pub fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    super::kit::oauth_error(status, error, description).no_store()
}

/// Collects parameters, refusing any given twice (RFC 6749 §3.1); `Err` names the first repeat.
pub fn single_params<'a>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (key, value) in pairs {
        if params.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(key.into_owned());
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_named() {
        let pairs = url::form_urlencoded::parse(b"a=1&b=2&a=3");
        assert_eq!(single_params(pairs), Err("a".to_owned()));
        let pairs = url::form_urlencoded::parse(b"a=1&b=2");
        assert_eq!(single_params(pairs).map(|p| p.len()), Ok(2));
    }
}
