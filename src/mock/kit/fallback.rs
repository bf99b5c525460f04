//! The catch-all a provider mounts for what none of its routes matched.

use wiremock::matchers::any;
use wiremock::{Mock, Respond};

use super::FALLBACK_PRIORITY;

/// Returns a mock answering `reply` to every request no route matched, a wrong method on a known
/// path included (unless a mock at [`WRONG_METHOD_PRIORITY`](super::WRONG_METHOD_PRIORITY)
/// answers it), at [`FALLBACK_PRIORITY`], so routes win whatever the mounting order.
///
/// Mounted even where the provider's answer is wiremock's own empty 404: the answer is then the
/// mock's, stated where it is mounted, and wiremock never logs an unmatched request, whose
/// headers may carry credentials.
pub fn fallback(reply: impl Respond + 'static) -> Mock {
    Mock::given(any())
        .respond_with(reply)
        .with_priority(FALLBACK_PRIORITY)
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{method, path};
    use wiremock::{MockServer, ResponseTemplate};

    use super::*;

    #[tokio::test]
    async fn routes_win_over_the_fallback_mounted_before_them() {
        let server = MockServer::start().await;
        server.register(fallback(ResponseTemplate::new(418))).await;
        server
            .register(
                Mock::given(method("GET"))
                    .and(path("/known"))
                    .respond_with(ResponseTemplate::new(200)),
            )
            .await;
        let http = reqwest::Client::new();
        let status = |request: reqwest::RequestBuilder| async move {
            request.send().await.expect("an answer").status().as_u16()
        };
        assert_eq!(
            status(http.get(format!("{}/known", server.uri()))).await,
            200
        );
        assert_eq!(
            status(http.post(format!("{}/known", server.uri()))).await,
            418
        );
        assert_eq!(
            status(http.get(format!("{}/unknown", server.uri()))).await,
            418
        );
    }
}
