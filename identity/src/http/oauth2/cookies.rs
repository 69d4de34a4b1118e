//! The hosted pages' cookies, shared by this adapter (which reads and ends the session) and
//! `gatehouse-web` (which sets it): `__Host-` names (so: `Path=/`, no `Domain`, `Secure`),
//! `HttpOnly`, `SameSite=Lax`, and `Secure` even on plain-HTTP loopback, where browsers
//! accept it (and drop a `__Host-` cookie without it).

use axum::http::{HeaderMap, HeaderValue, header};

/// The hosted session cookie of one pool (each pool's pages have their own session).
pub fn session_cookie_name(pool_id: &str) -> String {
    format!("__Host-gatehouse-session-{pool_id}")
}

/// The pre-session cookie the pages' CSRF tokens are bound to (one per browser).
pub const PRE_SESSION_COOKIE: &str = "__Host-gatehouse-csrf";

/// The cookie that binds one federated sign-in in flight to the browser that started it (a
/// hash of its value is sealed in the upstream `state`), named after that `state`: each
/// sign-in has its own, so sign-ins started side by side (two tabs) do not replace each
/// other's, and no value a request presents is ever taken over for a new sign-in.
pub fn federation_cookie_name(state: &str) -> String {
    let digest = crate::crypto::hash_token(state);
    format!(
        "__Host-gatehouse-federation-{}",
        digest.get(..16).unwrap_or(&digest)
    )
}

/// The value of cookie `name`, if the request carries it (the first, if several).
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for `name=value` with every attribute the pages' cookies carry; a session
/// cookie (no `Max-Age`) when `max_age_secs` is `None`.
pub fn set_cookie(name: &str, value: &str, max_age_secs: Option<u64>) -> Option<HeaderValue> {
    let age = max_age_secs.map_or_else(String::new, |s| format!("; Max-Age={s}"));
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax{age}"
    ))
    .ok()
}

/// `Set-Cookie` that removes cookie `name`.
pub fn clear_cookie(name: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name_and_written_host_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-gatehouse-csrf=xyz; __Host-gatehouse-csrf2=no"),
        );
        assert_eq!(
            read_cookie(&headers, PRE_SESSION_COOKIE).as_deref(),
            Some("xyz")
        );
        assert_eq!(read_cookie(&headers, "b"), None);
        let set = set_cookie("__Host-x", "v", Some(60)).unwrap();
        assert_eq!(
            set.to_str().unwrap(),
            "__Host-x=v; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        assert!(
            clear_cookie("__Host-x")
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with("Max-Age=0")
        );
        assert!(set_cookie("__Host-x", "bad\nvalue", None).is_none());
    }

    #[test]
    fn each_state_names_its_own_binding_cookie() {
        let one = federation_cookie_name("state-one");
        assert_eq!(one, federation_cookie_name("state-one"));
        assert_ne!(one, federation_cookie_name("state-two"));
        let id = one.strip_prefix("__Host-gatehouse-federation-").unwrap();
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{one}"
        );
        // A usable cookie name, whatever the state holds.
        assert!(set_cookie(&federation_cookie_name("a b;c=\n"), "v", None).is_some());
    }
}
