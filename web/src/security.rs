//! The headers every hosted page carries, and the CSP source of an app's callback.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;

/// The pages' stylesheet, inline (allowed by its hash: no `unsafe-inline`): the pages' own,
/// then the frame's (the branding band).
pub(crate) const STYLE: &str = concat!(
    include_str!("../assets/pages.css"),
    include_str!("../assets/frame.css")
);

/// `'sha256-…'` of a page's stylesheet, the CSP source that allows exactly that text.
pub(crate) fn style_hash(css: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, css.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

/// The Content-Security-Policy of a page: nothing but its own style (`style_hash`, of the
/// stylesheet the page carries, branding included); forms post to the
/// page itself, and (`callback`) to the app's callback origin, where the answer to the
/// sign-in form redirects (a browser applies `form-action` to that redirect too).
pub(crate) fn content_security_policy(style_hash: &str, callback: Option<&str>) -> String {
    let form_action = match callback.and_then(csp_source) {
        Some(source) => format!("'self' {source}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'none'; style-src {style_hash}; img-src 'self' data:; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The CSP source of a callback URL: `https://host:port` for web callbacks, `scheme:` for an
/// app's own scheme (`myapp://…`). `None` when the URL holds anything a policy could be
/// tricked with (spaces, `;`, `,`, quotes).
pub(crate) fn csp_source(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://").or_else(|| url.split_once(':'))?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Some(format!("{scheme}:"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    let authority_ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    authority_ok.then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Adds the headers of every page to `headers`.
pub(crate) fn add_page_headers(headers: &mut HeaderMap, style_hash: &str, callback: Option<&str>) {
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(style_hash, callback)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_sources() {
        let cases = [
            (
                "https://app.example.com/callback?x=1",
                Some("https://app.example.com"),
            ),
            ("http://localhost:3000/cb", Some("http://localhost:3000")),
            (
                "HTTPS://App.Example.com:8443/",
                Some("https://app.example.com:8443"),
            ),
            ("myapp://signed-in", Some("myapp:")),
            (
                "https://user@app.example.com/cb",
                Some("https://app.example.com"),
            ),
            ("https://evil.example; script-src *", None),
            ("https://a.example,b/cb", None),
            ("no scheme at all", None),
        ];
        for (url, expected) in cases {
            assert_eq!(csp_source(url).as_deref(), expected, "{url}");
        }
    }

    #[test]
    fn the_policy_allows_no_script_and_names_the_callback() {
        let hash = style_hash(STYLE);
        let csp = content_security_policy(&hash, Some("https://app.example.com/cb"));
        assert!(csp.contains(&format!("style-src {hash};")), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(
            !csp.contains("script-src") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(
            csp.contains("form-action 'self' https://app.example.com;"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(content_security_policy(&hash, None).contains("form-action 'self';"));
    }
}
