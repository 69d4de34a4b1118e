//! A pool's or app client's branding on the pages: its checked CSS rules turned into a
//! stylesheet for the pages' own elements, the primary colour the rest of the page follows,
//! and the logo, served from the identity listener.
//!
//! # Cognito's classes on these pages
//! SetUICustomization's CSS names Cognito's `*-customizable` classes; the pages keep their own
//! markup and each class is written as the selector of the element it stands for, so a
//! template never needs those class names:
//!
//! | Cognito class | element |
//! | --- | --- |
//! | `background-customizable` | `body` |
//! | `banner-customizable` | `.banner` (the logo's band) |
//! | `logo-customizable` | `.logo` |
//! | `label-customizable` | `label` |
//! | `inputField-customizable` (`:focus`) | the text inputs |
//! | `submitButton-customizable` (`:hover`) | `button[type=submit]` |
//! | `errorMessage-customizable` | `.alert` |
//! | `textDescription-customizable` | `.sub`, `.hint` |
//! | `idpButton-customizable` (`:hover`) | `.idp-button` |
//! | `idpDescription-customizable` | `.idp-description` |
//! | `legalText-customizable` | `.legal` |
//! | `socialButton-customizable` | `.social-button` |
//! | `passwordCheck-valid-customizable` / `-notValid-` | `.password-check-valid` / `-invalid` |
//!
//! `submitButton-customizable`'s `background-color` (and its `:hover`'s) also becomes the
//! page's primary colour (`--primary`, `--primary-dark`): focus rings and links follow it.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_identity::user_pools::{Branding, CssRule};

use super::WebState;

pub(super) fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/{pool_id}/logo/{hash}", get(logo))
}

/// The selector of the pages' element that a Cognito class stands for.
fn selector(class: &str) -> Option<&'static str> {
    Some(match class {
        "background-customizable" => "body",
        "banner-customizable" => ".banner",
        "logo-customizable" => ".logo",
        "label-customizable" => "label",
        "inputField-customizable" => {
            "input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
        }
        "inputField-customizable:focus" => {
            "input:not([type=hidden]):not([type=checkbox]):not([type=radio]):focus"
        }
        "submitButton-customizable" => "button[type=submit]",
        "submitButton-customizable:hover" => "button[type=submit]:hover",
        "errorMessage-customizable" => ".alert",
        "textDescription-customizable" => ".sub,.hint",
        "idpButton-customizable" => ".idp-button",
        "idpButton-customizable:hover" => ".idp-button:hover",
        "idpDescription-customizable" => ".idp-description",
        "legalText-customizable" => ".legal",
        "socialButton-customizable" => ".social-button",
        "passwordCheck-valid-customizable" => ".password-check-valid",
        "passwordCheck-notValid-customizable" => ".password-check-invalid",
        _ => return None,
    })
}

/// The stylesheet of `branding`, to follow the pages' own (its rules win).
pub(crate) fn branded_css(branding: &Branding) -> String {
    let mut css = String::new();
    let colour = |class: &str| -> Option<&str> {
        branding
            .rules
            .iter()
            .rev()
            .filter(|r| r.class == class)
            .find_map(|r| {
                r.declarations
                    .iter()
                    .rev()
                    .find(|(p, _)| p == "background-color")
            })
            .map(|(_, v)| v.as_str())
    };
    let primary = colour("submitButton-customizable");
    let hover = colour("submitButton-customizable:hover");
    if primary.is_some() || hover.is_some() {
        css.push_str("\n:root{");
        if let Some(v) = primary {
            css.push_str(&format!("--primary:{v};"));
        }
        if let Some(v) = hover.or(primary) {
            css.push_str(&format!("--primary-dark:{v};"));
        }
        css.push('}');
    }
    for CssRule {
        class,
        declarations,
    } in &branding.rules
    {
        let Some(selector) = selector(class) else {
            continue;
        };
        css.push('\n');
        css.push_str(selector);
        css.push('{');
        for (property, value) in declarations {
            css.push_str(&format!("{property}:{value};"));
        }
        css.push('}');
    }
    css
}

/// `GET /{poolId}/logo/{hash}`: a logo, with the media type its bytes have and never
/// sniffed as anything else.
async fn logo(
    State(state): State<Arc<WebState>>,
    Path((pool_id, hash)): Path<(String, String)>,
) -> Response {
    match state.oauth.user_pools().logo(&pool_id, &hash).await {
        Ok(Some(logo)) => {
            let mut response = (StatusCode::OK, logo.bytes).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(logo.media_type),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            // The address is the hash of the bytes: they never change.
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            response
        }
        Ok(None) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "logo");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_identity::user_pools::{CSS_CLASSES, parse_css};

    #[test]
    fn every_cognito_class_has_an_element() {
        for (class, _) in CSS_CLASSES {
            assert!(selector(class).is_some(), "{class}");
        }
    }

    #[test]
    fn the_submit_buttons_colour_is_the_primary_colour() {
        let rules = parse_css(
            ".submitButton-customizable{background-color:#0a7d55;color:white}\
             .label-customizable{font-weight:300}",
        )
        .unwrap();
        let css = branded_css(&Branding {
            rules,
            logo_hash: None,
        });
        assert!(
            css.contains(":root{--primary:#0a7d55;--primary-dark:#0a7d55;}"),
            "{css}"
        );
        assert!(
            css.contains("button[type=submit]{background-color:#0a7d55;color:white;}"),
            "{css}"
        );
        assert!(css.contains("label{font-weight:300;}"), "{css}");
        assert!(
            branded_css(&Branding::default()).is_empty(),
            "no branding, no CSS"
        );
    }
}
