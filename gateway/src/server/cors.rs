//! CORS at the gateway (`x-amazon-apigateway-cors` / the declarative `cors`): preflight
//! `OPTIONS` requests are answered here from the API's configuration, whatever routes exist,
//! and `Access-Control-Allow-*` headers are added to every response to an allowed origin.
//! Header values are built once per snapshot.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, HeaderMap, HeaderValue, ORIGIN,
    VARY,
};

use crate::definition::model::CorsConfig;

/// An API's CORS configuration, ready to write into responses.
#[derive(Debug, Clone)]
pub struct Cors {
    any_origin: bool,
    origins: Vec<String>,
    allow_methods: Option<HeaderValue>,
    /// `None` with `echo_headers` reflects `Access-Control-Request-Headers` (`*`).
    allow_headers: Option<HeaderValue>,
    echo_headers: bool,
    expose_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
    credentials: bool,
}

// === impl Cors ===

impl Cors {
    pub fn new(config: &CorsConfig) -> Self {
        let join = |list: &[String]| {
            (!list.is_empty())
                .then(|| HeaderValue::from_str(&list.join(",")).ok())
                .flatten()
        };
        let echo_headers = config.allow_headers.iter().any(|h| h == "*");
        Self {
            any_origin: config.allow_origins.iter().any(|o| o == "*"),
            origins: config.allow_origins.clone(),
            allow_methods: join(&config.allow_methods),
            allow_headers: if echo_headers {
                None
            } else {
                join(&config.allow_headers)
            },
            echo_headers,
            expose_headers: join(&config.expose_headers),
            max_age: config.max_age_seconds.map(HeaderValue::from),
            credentials: config.allow_credentials,
        }
    }

    /// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`.
    pub fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
        method == http::Method::OPTIONS
            && headers.contains_key(ORIGIN)
            && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The value of `Access-Control-Allow-Origin` for a request's `Origin`, if allowed.
    fn allow_origin(&self, request: &HeaderMap) -> Option<HeaderValue> {
        let origin = request.get(ORIGIN)?;
        if self.any_origin && !self.credentials {
            return Some(HeaderValue::from_static("*"));
        }
        let text = origin.to_str().ok()?;
        (self.any_origin || self.origins.iter().any(|o| o.eq_ignore_ascii_case(text)))
            .then(|| origin.clone())
    }

    /// The headers of a preflight answer (204). An origin that is not allowed gets none, so
    /// the browser refuses the actual request.
    pub fn preflight_headers(&self, request: &HeaderMap, out: &mut HeaderMap) {
        out.append(VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = self.allow_origin(request) else {
            return;
        };
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Some(methods) = &self.allow_methods {
            out.insert(ACCESS_CONTROL_ALLOW_METHODS, methods.clone());
        }
        if let Some(headers) = &self.allow_headers {
            out.insert(ACCESS_CONTROL_ALLOW_HEADERS, headers.clone());
        } else if self.echo_headers
            && let Some(asked) = request.get(ACCESS_CONTROL_REQUEST_HEADERS)
        {
            out.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        if let Some(max_age) = &self.max_age {
            out.insert(ACCESS_CONTROL_MAX_AGE, max_age.clone());
        }
        if self.credentials {
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// Adds the headers of an actual (non-preflight) response to an allowed origin.
    pub fn response_headers(&self, request: &HeaderMap, out: &mut HeaderMap) {
        let Some(origin) = self.allow_origin(request) else {
            return;
        };
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        out.append(VARY, HeaderValue::from_static("Origin"));
        if let Some(expose) = &self.expose_headers {
            out.insert(ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
        if self.credentials {
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}
