//! The pages of a sign-in's next steps: a new password (with the pool's required attributes
//! the user lacks), a TOTP code, an email code, the choice of a factor, and the enrolment of
//! a software token (its secret as a QR code and as text, then its first code).
//!
//! A challenge page is the answer to the form before it (the password form, or another
//! challenge page): it carries the challenge's sealed session in a hidden field and posts to
//! `/{poolId}/challenge` with the page's own query, the authorization request, which
//! [`answer_challenge`](gatehouse_identity::oauth2::OAuth2::answer_challenge) checks again. A challenge's session never appears in a URL.
//! Whatever the user pool decides (a wrong code, the lockout, an expired or replayed session)
//! comes back as the page to show.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;
use gatehouse_identity::oauth2::{
    ChallengeAnswer, ChallengeError, ChallengeStep, InputKind, PageChallenge, SignInError,
    SignInStep,
};
use gatehouse_identity::user_pools::Factor;
use gatehouse_identity::user_pools::config::AttributeDataType;
use qrcode::QrCode;
use qrcode::render::svg;

use super::login::{SignInPage, SignInPost, sign_in_page, signed_in_response};
use super::{FormFields, Frame, PreSession, WebState, found, html, page_url, refused};
use crate::strings::Strings;

pub(super) fn routes() -> Router<Arc<WebState>> {
    Router::new().route(
        "/{pool_id}/challenge",
        get(challenge_get).post(challenge_submit),
    )
}

/// A required attribute's field on the new-password page.
struct AttributeField<'a> {
    name: &'a str,
    label: String,
    input_type: &'static str,
    autocomplete: &'static str,
}

/// A factor the user may choose.
struct FactorOption {
    value: &'static str,
    label: &'static str,
}

/// What the page shows under its title.
enum Step<'a> {
    NewPassword {
        attributes: Vec<AttributeField<'a>>,
    },
    Code {
        intro: &'a str,
        destination: Option<&'a str>,
    },
    SelectFactor {
        factors: Vec<FactorOption>,
    },
    SetUp {
        /// The QR code, a `data:image/svg+xml` URL (the CSP allows `data:` images).
        qr: String,
        /// The key, in groups of four.
        secret: String,
    },
}

#[derive(Template)]
#[template(path = "challenge.html")]
struct ChallengeTemplate<'a> {
    frame: &'a Frame,
    title: &'a str,
    client_name: &'a str,
    action: &'a str,
    csrf: &'a str,
    challenge: &'a str,
    session: &'a str,
    error: Option<&'a str>,
    step: Step<'a>,
}

/// The QR code of `uri` as a `data:` URL of its SVG; `None` if the URI does not fit a QR
/// code (it always does: a pool name is at most 128 characters, a username 128).
pub(super) fn qr_data_url(uri: &str) -> Option<String> {
    let code = QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// The secret in groups of four characters, easier to type (apps ignore the spaces).
fn grouped(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The field of a missing required attribute (the challenge names it, not its type: a
/// string, as most are), asked for as the sign-up page asks for it.
fn attribute_field<'a>(strings: &'a Strings, name: &'a str) -> AttributeField<'a> {
    let input = InputKind::of(name, AttributeDataType::String);
    let (input_type, autocomplete) = super::attribute_input(input, name);
    AttributeField {
        name,
        label: strings.attribute_label(name),
        input_type,
        autocomplete,
    }
}

/// The page of `challenge`, with a CSRF token of the browser's pre-session cookie.
pub(super) fn challenge_page(
    state: &WebState,
    headers: &HeaderMap,
    form: &SignInPage<'_>,
    challenge_action: &str,
    challenge: &PageChallenge,
) -> Response {
    let strings = form.frame.strings;
    let (title, step) = match &challenge.step {
        ChallengeStep::NewPassword {
            required_attributes,
        } => (
            strings.new_password_title,
            Step::NewPassword {
                attributes: required_attributes
                    .iter()
                    .map(|name| attribute_field(strings, name))
                    .collect(),
            },
        ),
        ChallengeStep::SoftwareToken => (
            strings.totp_title,
            Step::Code {
                intro: strings.totp_intro,
                destination: None,
            },
        ),
        ChallengeStep::EmailCode { destination } => (
            strings.email_code_title,
            Step::Code {
                intro: strings.email_code_intro,
                destination: Some(destination),
            },
        ),
        ChallengeStep::SelectFactor { factors } => (
            strings.select_factor_title,
            Step::SelectFactor {
                factors: factors
                    .iter()
                    .map(|f| FactorOption {
                        value: f.as_str(),
                        label: match f {
                            Factor::SoftwareToken => strings.factor_totp,
                            Factor::Email => strings.factor_email,
                        },
                    })
                    .collect(),
            },
        ),
        ChallengeStep::SetUpSoftwareToken { secret, uri } => {
            let Some(qr) = qr_data_url(uri) else {
                tracing::error!("a software token's URI does not fit a QR code");
                return sign_in_page(
                    state,
                    headers,
                    form,
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(strings.unavailable),
                    None,
                );
            };
            (
                strings.setup_title,
                Step::SetUp {
                    qr,
                    secret: grouped(secret),
                },
            )
        }
    };
    let (status, error) = match challenge.error {
        None => (StatusCode::OK, None),
        Some(ChallengeError::WrongCode) => (StatusCode::UNAUTHORIZED, Some(strings.wrong_code)),
        Some(ChallengeError::TooManyAttempts) => (
            StatusCode::TOO_MANY_REQUESTS,
            Some(strings.too_many_attempts),
        ),
        Some(ChallengeError::InvalidPassword) => {
            (StatusCode::BAD_REQUEST, Some(strings.invalid_password))
        }
        Some(ChallengeError::PasswordsDiffer) => {
            (StatusCode::BAD_REQUEST, Some(strings.passwords_differ))
        }
        Some(ChallengeError::InvalidAnswer) => {
            (StatusCode::BAD_REQUEST, Some(strings.invalid_answer))
        }
    };
    let pre_session = PreSession::of(headers);
    let csrf = pre_session.csrf_token(&state.oauth);
    let page = ChallengeTemplate {
        frame: form.frame,
        title,
        client_name: form.client_name,
        action: challenge_action,
        csrf: &csrf,
        challenge: challenge.step.challenge_name(),
        session: &challenge.session,
        error,
        step,
    };
    let mut response = html(status, form.frame, &page, Some(form.callback));
    pre_session.set_on(&mut response);
    response
}

/// The answer a challenge form carries (`attr:<name>` fields are attributes).
fn answer_of(fields: &FormFields) -> ChallengeAnswer {
    ChallengeAnswer {
        challenge: fields.get("challenge").to_owned(),
        session: fields.get("session").to_owned(),
        new_password: fields.get("new_password").to_owned(),
        confirm_password: fields
            .has("confirm_password")
            .then(|| fields.get("confirm_password").to_owned()),
        attributes: fields
            .pairs()
            .filter_map(|(k, v)| {
                k.strip_prefix("attr:")
                    .map(|a| (a.to_owned(), v.to_owned()))
            })
            .collect(),
        code: fields.get("code").to_owned(),
        factor: fields.get("factor").to_owned(),
    }
}

/// `GET /{poolId}/challenge`: a challenge page is only ever the answer to a form; a reload
/// or a link goes back to the sign-in page of the same request.
async fn challenge_get(Path(pool_id): Path<String>, request: Request) -> Response {
    found(&page_url(&request, &pool_id, "login"), None)
}

/// `POST /{poolId}/challenge`: a challenge page's answer.
async fn challenge_submit(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    // Answers are limited per address like the password form.
    let (post, fields) = match SignInPost::read(&state, &pool_id, request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let answered = state
        .oauth
        .answer_challenge(&pool_id, &post.params, &answer_of(&fields))
        .await;
    step_response(
        &state,
        &post.headers,
        &post.form(),
        &pool_id,
        &post.challenge_url,
        answered,
    )
}

/// The response to a form of a sign-in (the password or a challenge): the app's callback,
/// the next page, or the sign-in page again with why.
pub(super) fn step_response(
    state: &WebState,
    headers: &HeaderMap,
    form: &SignInPage<'_>,
    pool_id: &str,
    challenge_action: &str,
    step: Result<SignInStep, SignInError>,
) -> Response {
    let strings = form.frame.strings;
    let (status, message) = match step {
        Ok(SignInStep::SignedIn(signed_in)) => {
            return signed_in_response(pool_id, &signed_in, form.callback);
        }
        Ok(SignInStep::Challenge(challenge)) => {
            return challenge_page(state, headers, form, challenge_action, &challenge);
        }
        Err(SignInError::Request(refusal)) => return refused(refusal, form.frame),
        Err(SignInError::IncorrectCredentials) => {
            (StatusCode::UNAUTHORIZED, strings.incorrect_credentials)
        }
        Err(SignInError::TooManyAttempts) => {
            (StatusCode::TOO_MANY_REQUESTS, strings.too_many_attempts)
        }
        Err(SignInError::NotConfirmed) => (StatusCode::FORBIDDEN, strings.not_confirmed),
        Err(SignInError::PasswordResetRequired) => {
            (StatusCode::FORBIDDEN, strings.password_reset_required)
        }
        Err(SignInError::SessionExpired) => (StatusCode::UNAUTHORIZED, strings.session_expired),
        Err(SignInError::Unavailable) => (StatusCode::SERVICE_UNAVAILABLE, strings.unavailable),
    };
    sign_in_page(state, headers, form, status, Some(message), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_password_page_asks_the_missing_required_attributes() {
        let frame = Frame::plain(&crate::strings::ENGLISH);
        let page = ChallengeTemplate {
            frame: &frame,
            title: "t",
            client_name: "app",
            action: "/p/challenge?x=1",
            csrf: "c",
            challenge: "NEW_PASSWORD_REQUIRED",
            session: "s",
            error: None,
            step: Step::NewPassword {
                attributes: ["family_name", "custom:team"]
                    .into_iter()
                    .map(|name| attribute_field(frame.strings, name))
                    .collect(),
            },
        }
        .render()
        .unwrap();
        assert!(
            page.contains(r#"<label for="attr-family_name">Last name</label>"#),
            "{page}"
        );
        assert!(
            page.contains(r#"name="attr:family_name" autocomplete="family-name" required"#),
            "{page}"
        );
        assert!(page.contains(r#"name="attr:custom:team""#), "{page}");
        assert!(
            page.contains(r#"name="new_password""#) && page.contains(r#"name="confirm_password""#)
        );
    }

    #[test]
    fn a_missing_attribute_is_asked_for_as_on_the_sign_up_page() {
        // (attribute, type, autocomplete): the sign-up page's inputs for the same names.
        let cases = [
            ("email", "email", "email"),
            ("phone_number", "tel", "tel"),
            ("birthdate", "date", "bday"),
            ("website", "url", "url"),
            ("middle_name", "text", "additional-name"),
            ("custom:team", "text", "off"),
        ];
        for (name, input_type, autocomplete) in cases {
            let field = attribute_field(&crate::strings::ENGLISH, name);
            assert_eq!(
                (field.input_type, field.autocomplete),
                (input_type, autocomplete),
                "{name}"
            );
        }
    }

    #[test]
    fn a_secret_is_shown_in_groups_of_four() {
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
        assert_eq!(grouped(""), "");
    }

    #[test]
    fn the_qr_code_is_an_svg_data_url() {
        let url =
            qr_data_url("otpauth://totp/pool%3Aalice?secret=JBSWY3DPEHPK3PXP&issuer=pool").unwrap();
        let svg = base64::engine::general_purpose::STANDARD
            .decode(url.strip_prefix("data:image/svg+xml;base64,").unwrap())
            .unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
        assert!(!svg.contains("<script"), "{svg}");
    }
}
