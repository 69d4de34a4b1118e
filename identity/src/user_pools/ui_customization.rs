//! The hosted pages' branding (SetUICustomization / GetUICustomization): a pool's own
//! (`ClientId` `ALL` or none) and an app client's, which replaces the pool's for that client's
//! pages. CSS is accepted only within a safe subset (Cognito's documented classes and, for
//! each, the properties Cognito documents, with values that cannot load anything or leave
//! the stylesheet); the logo only as PNG or JPEG (by its bytes) of at most 100 KB.
//!
//! The pages get [`Branding`]: the parsed rules (never the text as given) and the logo's
//! hash, its address under `/{poolId}/logo/`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use gatehouse_storage::{StorageError, UiCustomizationRecord, UiLogo};

use super::clients::client_not_found;
use super::{UserPoolError, UserPools};
use crate::time::unix_millis;

/// The client id of a pool's own branding.
pub const ALL_CLIENTS: &str = "ALL";
/// The largest logo (Cognito's limit: 100 KB).
pub const MAX_LOGO_BYTES: usize = 100 * 1024;
/// The largest CSS (Cognito's request limit is 135 KB for CSS and logo together).
pub const MAX_CSS_BYTES: usize = 128 * 1024;
/// The longest value of one CSS property.
const MAX_CSS_VALUE: usize = 256;

/// Cognito's documented classes and, for each, the properties it may set.
pub const CSS_CLASSES: &[(&str, &[&str])] = &[
    ("background-customizable", &["background-color"]),
    ("banner-customizable", &["padding", "background-color"]),
    (
        "errorMessage-customizable",
        &[
            "margin",
            "padding",
            "font-size",
            "width",
            "background",
            "border",
            "color",
            "box-sizing",
        ],
    ),
    (
        "idpButton-customizable",
        &[
            "height",
            "width",
            "text-align",
            "margin-bottom",
            "color",
            "background-color",
            "border-color",
        ],
    ),
    (
        "idpButton-customizable:hover",
        &["color", "background-color"],
    ),
    (
        "idpDescription-customizable",
        &["padding-top", "padding-bottom", "display", "font-size"],
    ),
    (
        "inputField-customizable",
        &["width", "height", "color", "background-color", "border"],
    ),
    (
        "inputField-customizable:focus",
        &["border-color", "outline"],
    ),
    ("label-customizable", &["font-weight"]),
    ("legalText-customizable", &["color", "font-size"]),
    ("logo-customizable", &["max-width", "max-height"]),
    ("passwordCheck-notValid-customizable", &["color"]),
    ("passwordCheck-valid-customizable", &["color"]),
    (
        "socialButton-customizable",
        &["height", "text-align", "width", "margin-bottom"],
    ),
    (
        "submitButton-customizable",
        &[
            "font-size",
            "font-weight",
            "margin",
            "width",
            "height",
            "color",
            "background-color",
        ],
    ),
    (
        "submitButton-customizable:hover",
        &["color", "background-color"],
    ),
    (
        "textDescription-customizable",
        &["padding-top", "padding-bottom", "display", "font-size"],
    ),
];

/// The functions a value may call: colours only.
const CSS_FUNCTIONS: &[&str] = &["rgb", "rgba", "hsl", "hsla"];

/// One checked rule: a documented class (with its pseudo-class, as in [`CSS_CLASSES`]) and
/// its declarations, property names lowercased, values as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CssRule {
    /// The selector without its dot: `submitButton-customizable:hover`.
    pub class: &'static str,
    pub declarations: Vec<(String, String)>,
}

/// What the pages show of a pool's or client's branding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branding {
    /// The CSS, parsed and checked.
    pub rules: Vec<CssRule>,
    /// The logo's hash (its address `/{poolId}/logo/{hash}`).
    pub logo_hash: Option<String>,
}

/// `UICustomizationType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiCustomization {
    pub pool_id: String,
    /// The client the settings are of (`ALL`: the pool's).
    pub client_id: String,
    pub image_url: Option<String>,
    pub css: Option<String>,
    pub css_version: Option<String>,
    pub created: Option<SystemTime>,
    pub modified: Option<SystemTime>,
}

/// A logo to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    /// `image/png` or `image/jpeg`, from the bytes (never from the caller).
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
}

impl UserPools {
    /// SetUICustomization: replaces the CSS and the logo of the pool (`client_id` `None` or
    /// `ALL`) or of one of its app clients.
    pub async fn set_ui_customization(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
        css: Option<&str>,
        image: Option<&[u8]>,
    ) -> Result<UiCustomization, UserPoolError> {
        self.user_pool(pool_id).await?;
        let client_id = self.customized_client(pool_id, client_id).await?;
        if let Some(css) = css {
            parse_css(css)?;
        }
        let logo = image.map(check_logo).transpose()?;
        let record = self
            .store()
            .ui_customizations()
            .put(
                pool_id,
                &client_id,
                css,
                logo.as_ref(),
                unix_millis(self.now()),
            )
            .await
            .map_err(|e| match e {
                StorageError::NotFound { .. } => super::pools::pool_not_found(pool_id),
                e => e.into(),
            })?;
        Ok(self.customization_type(record))
    }

    /// GetUICustomization: the client's settings, else the pool's (`ClientId` `ALL`), else
    /// none (only the ids).
    pub async fn get_ui_customization(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
    ) -> Result<UiCustomization, UserPoolError> {
        self.user_pool(pool_id).await?;
        let client_id = self.customized_client(pool_id, client_id).await?;
        let found = self
            .store()
            .ui_customizations()
            .effective(pool_id, &client_id)
            .await?;
        Ok(match found {
            Some(record) => self.customization_type(record),
            None => UiCustomization {
                pool_id: pool_id.to_owned(),
                client_id,
                image_url: None,
                css: None,
                css_version: None,
                created: None,
                modified: None,
            },
        })
    }

    /// The branding of a page of `client_id` (the pool's when the client has none, or when
    /// the page knows no client).
    pub async fn branding(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
    ) -> Result<Option<Branding>, UserPoolError> {
        let found = self
            .store()
            .ui_customizations()
            .effective(pool_id, client_id.unwrap_or(ALL_CLIENTS))
            .await?;
        let Some(record) = found else {
            return Ok(None);
        };
        // Stored CSS was checked when set; a row that no longer passes (the rules got
        // stricter) is shown without its CSS rather than trusted.
        let rules = record
            .css
            .as_deref()
            .map(parse_css)
            .transpose()
            .unwrap_or_default()
            .unwrap_or_default();
        Ok(Some(Branding {
            rules,
            logo_hash: record.logo.map(|l| l.hash),
        }))
    }

    /// The pool's logo with this hash.
    pub async fn logo(&self, pool_id: &str, hash: &str) -> Result<Option<Logo>, UserPoolError> {
        if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Ok(None);
        }
        let found = self.store().ui_customizations().logo(pool_id, hash).await?;
        // The type is worked out from the bytes again: what is served never depends on a
        // stored string.
        Ok(found.and_then(|l| {
            image_type(&l.bytes).map(|media_type| Logo {
                media_type,
                bytes: l.bytes,
            })
        }))
    }

    /// The row a request's `ClientId` names: `ALL` for none or `ALL`, else a client of the
    /// pool.
    async fn customized_client(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
    ) -> Result<String, UserPoolError> {
        match client_id {
            None | Some(ALL_CLIENTS) => Ok(ALL_CLIENTS.to_owned()),
            Some(id) => {
                if id.is_empty() || id.len() > 128 {
                    return Err(client_not_found(id));
                }
                self.pool_client(pool_id, id).await.map(|c| c.id)
            }
        }
    }

    fn customization_type(&self, record: UiCustomizationRecord) -> UiCustomization {
        let time = |ms: i64| UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        UiCustomization {
            image_url: record.logo.map(|l| {
                format!(
                    "{}/{}/logo/{}",
                    self.inner.config.public_url.trim_end_matches('/'),
                    record.pool_id,
                    l.hash
                )
            }),
            pool_id: record.pool_id,
            client_id: record.client_id,
            css: record.css,
            css_version: Some(record.css_version.to_string()),
            created: Some(time(record.created_at)),
            modified: Some(time(record.updated_at)),
        }
    }
}

/// `image/png` or `image/jpeg` by the file's first bytes.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

fn check_logo(bytes: &[u8]) -> Result<UiLogo, UserPoolError> {
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(UserPoolError::invalid(format!(
            "ImageFile is {} bytes: the logo may be at most {MAX_LOGO_BYTES} bytes",
            bytes.len()
        )));
    }
    let Some(media_type) = image_type(bytes) else {
        return Err(UserPoolError::invalid(
            "ImageFile is not a PNG or JPEG image",
        ));
    };
    let hash = digest::digest(&digest::SHA256, bytes);
    Ok(UiLogo {
        media_type: media_type.to_owned(),
        hash: hash.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        bytes: bytes.to_vec(),
    })
}

fn css_error(what: impl std::fmt::Display) -> UserPoolError {
    UserPoolError::invalid(format!("CSS is not allowed: {what}"))
}

/// Checks `css` and parses it into rules; the error names the offending part.
pub fn parse_css(css: &str) -> Result<Vec<CssRule>, UserPoolError> {
    if css.len() > MAX_CSS_BYTES {
        return Err(css_error(format!(
            "it is {} bytes, more than {MAX_CSS_BYTES}",
            css.len()
        )));
    }
    let lower = css.to_ascii_lowercase();
    for (needle, what) in [
        ("</style", "`</style` would end the stylesheet"),
        ("url(", "`url(` would load a resource"),
        ("@import", "`@import` would load a stylesheet"),
        ("expression(", "`expression(` is script"),
        ("javascript:", "`javascript:` is script"),
        ("\\", "`\\` escapes are not accepted"),
    ] {
        if lower.contains(needle) {
            return Err(css_error(what));
        }
    }
    if let Some(at) = lower.find('@') {
        let rule: String = lower
            .get(at..)
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '@' || *c == '-')
            .collect();
        return Err(css_error(format!("`{rule}`: at-rules are not accepted")));
    }
    let text = strip_comments(css)?;
    let mut rules = Vec::new();
    let mut rest = text.as_str();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let Some((selectors, after)) = rest.split_once('{') else {
            return Err(css_error(format!(
                "`{}`: a rule without `{{`",
                excerpt(rest)
            )));
        };
        let Some((body, after)) = after.split_once('}') else {
            return Err(css_error(format!(
                "`{}`: a rule without `}}`",
                excerpt(selectors)
            )));
        };
        if body.contains('{') {
            return Err(css_error(format!(
                "`{}`: nested blocks are not accepted",
                excerpt(selectors)
            )));
        }
        let declarations = declarations(body)?;
        for selector in selectors.split(',') {
            let class = class_of(selector.trim())?;
            let allowed = CSS_CLASSES
                .iter()
                .find(|(c, _)| *c == class)
                .map_or(&[][..], |(_, p)| *p);
            for (property, _) in &declarations {
                if !allowed.contains(&property.as_str()) {
                    return Err(css_error(format!(
                        "property `{property}` in `.{class}` (it may set: {})",
                        allowed.join(", ")
                    )));
                }
            }
            rules.push(CssRule {
                class,
                declarations: declarations.clone(),
            });
        }
        rest = after;
    }
    Ok(rules)
}

fn excerpt(text: &str) -> String {
    text.trim().chars().take(40).collect()
}

fn strip_comments(css: &str) -> Result<String, UserPoolError> {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(rest.get(..start).unwrap_or(""));
        let after = rest.get(start + 2..).unwrap_or("");
        let Some(end) = after.find("*/") else {
            return Err(css_error("a comment without its end `*/`"));
        };
        out.push(' ');
        rest = after.get(end + 2..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

/// `.name` or `.name:pseudo` among [`CSS_CLASSES`].
fn class_of(selector: &str) -> Result<&'static str, UserPoolError> {
    selector
        .strip_prefix('.')
        .and_then(|name| CSS_CLASSES.iter().find(|(c, _)| *c == name))
        .map(|(c, _)| *c)
        .ok_or_else(|| {
            css_error(format!(
                "selector `{}` (only Cognito's customizable classes are accepted)",
                excerpt(selector)
            ))
        })
}

fn declarations(body: &str) -> Result<Vec<(String, String)>, UserPoolError> {
    let mut out = Vec::new();
    for declaration in body.split(';') {
        let declaration = declaration.trim();
        if declaration.is_empty() {
            continue;
        }
        let Some((property, value)) = declaration.split_once(':') else {
            return Err(css_error(format!(
                "`{}`: a declaration without `:`",
                excerpt(declaration)
            )));
        };
        let property = property.trim().to_ascii_lowercase();
        let value = value.trim();
        check_value(&property, value)?;
        out.push((property, value.to_owned()));
    }
    Ok(out)
}

/// A value: words, numbers with units, `#` colours, commas and the colour functions; nothing
/// that could load, run or end anything.
fn check_value(property: &str, value: &str) -> Result<(), UserPoolError> {
    let bad = |why: &str| css_error(format!("value `{}` of `{property}`: {why}", excerpt(value)));
    if value.is_empty() {
        return Err(bad("empty"));
    }
    if value.len() > MAX_CSS_VALUE {
        return Err(bad("too long"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || " #%.,-+()".contains(*c)))
    {
        return Err(bad(&format!("the character `{c}` is not accepted")));
    }
    let mut depth = 0_u32;
    let mut word = String::new();
    for c in value.chars() {
        match c {
            '(' => {
                let name = word.to_ascii_lowercase();
                if depth > 0 || !CSS_FUNCTIONS.contains(&name.as_str()) {
                    return Err(bad("only rgb(), rgba(), hsl() and hsla() are accepted"));
                }
                depth += 1;
            }
            ')' => {
                if depth == 0 {
                    return Err(bad("unbalanced `)`"));
                }
                depth -= 1;
            }
            _ => {}
        }
        if c.is_ascii_alphanumeric() || c == '-' {
            word.push(c);
        } else {
            word.clear();
        }
    }
    if depth != 0 {
        return Err(bad("unbalanced `(`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(css: &str, expected: Result<usize, &str>) {
        match (parse_css(css), expected) {
            (Ok(rules), Ok(n)) => assert_eq!(rules.len(), n, "{css}"),
            (Err(e), Err(part)) => {
                let message = e.to_string();
                assert!(message.contains(part), "{css}: {message}");
            }
            (got, want) => panic!("{css}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn cognitos_classes_and_their_properties_are_accepted() {
        check("", Ok(0));
        check(
            ".submitButton-customizable { background-color: #0a7d55; color: white; font-weight: bold }",
            Ok(1),
        );
        check(
            ".submitButton-customizable:hover{background-color:rgb(10, 90, 60)}\n.label-customizable{font-weight:400;}",
            Ok(2),
        );
        check(
            "/* brand */ .banner-customizable, .background-customizable { background-color: hsla(210, 40%, 96%, 1) }",
            Ok(2),
        );
        check(
            ".inputField-customizable { border: 1px solid #ccc; width: 100% }",
            Ok(1),
        );
        check(
            ".logo-customizable { max-width: 60%; max-height: 30% }",
            Ok(1),
        );
    }

    #[test]
    fn anything_that_could_load_run_or_escape_is_refused() {
        let cases = [
            (
                ".banner-customizable{background-color:red}</style><script>x()</script>",
                "</style",
            ),
            (
                ".background-customizable{background-color:url(https://evil.example/x)}",
                "url(",
            ),
            ("@import 'https://evil.example/x.css';", "@import"),
            (
                "@media (max-width:1px){.label-customizable{font-weight:100}}",
                "`@media`",
            ),
            (
                ".label-customizable{font-weight:expression(alert(1))}",
                "expression(",
            ),
            (".label-customizable{font-weight:\\75rl(x)}", "`\\`"),
            (".label-customizable{font-weight:var(--x)}", "only rgb()"),
            (".label-customizable{font-weight:400 !important}", "`!`"),
            (".label-customizable{font-weight:\"x\"}", "`\"`"),
            ("body{background-color:red}", "selector `body`"),
            (".evil{color:red}", "selector `.evil`"),
            (".label-customizable:hover{font-weight:100}", "selector"),
            (
                ".label-customizable{background-image:none}",
                "property `background-image` in `.label-customizable`",
            ),
            (
                ".submitButton-customizable:hover{width:1%}",
                "property `width`",
            ),
            (".label-customizable{font-weight:100", "without `}`"),
            (".label-customizable{font-weight}", "without `:`"),
            (".label-customizable{font-weight:100} /* open", "comment"),
            (".label-customizable{font-weight:rgb(1,2}", "unbalanced"),
        ];
        for (css, part) in cases {
            check(css, Err(part));
        }
        check(&" ".repeat(MAX_CSS_BYTES + 1), Err("bytes"));
    }

    #[test]
    fn logos_are_png_or_jpeg_by_their_bytes_and_small() {
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        assert_eq!(
            check_logo(&png).map(|l| l.media_type).ok().as_deref(),
            Some("image/png")
        );
        let jpeg = [0xff, 0xd8, 0xff, 0xe0, 1, 2];
        assert_eq!(
            check_logo(&jpeg).map(|l| l.media_type).ok().as_deref(),
            Some("image/jpeg")
        );
        for bad in [&b"<svg onload=x()>"[..], b"GIF89a", b"", b"\x89PNG"] {
            assert!(check_logo(bad).is_err(), "{bad:?}");
        }
        let mut big = png.clone();
        big.resize(MAX_LOGO_BYTES + 1, 0);
        assert!(
            check_logo(&big)
                .unwrap_err()
                .to_string()
                .contains("at most")
        );
        big.truncate(MAX_LOGO_BYTES);
        assert!(check_logo(&big).is_ok());
    }
}
