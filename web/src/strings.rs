//! Every word the hosted pages show, in one place per language, so a translation is one more
//! [`Strings`] value. [`for_request`] picks the language the browser asks for
//! (`Accept-Language`) among those there are; English is the fallback.

use axum::http::{HeaderMap, header};

/// The text of the pages in one language.
#[derive(Debug)]
pub struct Strings {
    /// The `lang` attribute.
    pub lang: &'static str,
    pub sign_in_title: &'static str,
    /// Shown under the title, before the app's name.
    pub sign_in_to: &'static str,
    pub username_label: &'static str,
    pub password_label: &'static str,
    pub sign_in_button: &'static str,
    pub incorrect_credentials: &'static str,
    pub too_many_attempts: &'static str,
    pub not_confirmed: &'static str,
    pub password_reset_required: &'static str,
    pub new_password_required: &'static str,
    pub second_factor_required: &'static str,
    pub form_expired: &'static str,
    pub too_many_requests: &'static str,
    pub unavailable: &'static str,
    pub error_title: &'static str,
    pub error_unknown_client: &'static str,
    pub error_missing_client: &'static str,
    pub error_redirect_mismatch: &'static str,
    pub error_missing_redirect: &'static str,
    pub error_logout_mismatch: &'static str,
    pub error_repeated_parameter: &'static str,
    /// A federated provider's answer whose sign-in expired, was used or is another browser's.
    pub error_invalid_state: &'static str,
    pub error_hint: &'static str,
    /// Before a federated provider's name on its button.
    pub sign_in_with: &'static str,
    /// Between the providers' buttons and the password form.
    pub or_divider: &'static str,
}

/// English.
pub static ENGLISH: Strings = Strings {
    lang: "en",
    sign_in_title: "Sign in",
    sign_in_to: "to continue to",
    username_label: "Username or email",
    password_label: "Password",
    sign_in_button: "Sign in",
    incorrect_credentials: "Incorrect username or password.",
    too_many_attempts: "Too many failed attempts. Wait a moment, then try again.",
    not_confirmed: "This account is not confirmed yet. Confirm it with the code you were sent, then sign in.",
    password_reset_required: "This account needs a new password. Reset your password, then sign in.",
    new_password_required: "This account must choose a new password. That page is not available yet: ask your administrator.",
    second_factor_required: "This account needs a second factor to sign in. That page is not available yet: ask your administrator.",
    form_expired: "This form has expired. Please sign in again.",
    too_many_requests: "Too many requests. Wait a moment, then try again.",
    unavailable: "Something went wrong on our side. Please try again.",
    error_title: "This sign-in link does not work",
    error_unknown_client: "The application that sent you here is not known.",
    error_missing_client: "The link does not name an application.",
    error_redirect_mismatch: "The application asked to return to an address it has not registered.",
    error_missing_redirect: "The link does not say where to return to.",
    error_logout_mismatch: "The application asked to go to a sign-out address it has not registered.",
    error_repeated_parameter: "The link is malformed.",
    error_invalid_state: "This sign-in has expired or was already used. Go back to the application and sign in again.",
    error_hint: "Go back to the application and try again. If it keeps happening, tell its owner.",
    sign_in_with: "Sign in with",
    or_divider: "or",
};

/// French.
pub static FRENCH: Strings = Strings {
    lang: "fr",
    sign_in_title: "Connexion",
    sign_in_to: "pour continuer vers",
    username_label: "Nom d’utilisateur ou e-mail",
    password_label: "Mot de passe",
    sign_in_button: "Se connecter",
    incorrect_credentials: "Nom d’utilisateur ou mot de passe incorrect.",
    too_many_attempts: "Trop de tentatives infructueuses. Patientez un instant, puis réessayez.",
    not_confirmed: "Ce compte n’est pas encore confirmé. Confirmez-le avec le code que vous avez reçu, puis connectez-vous.",
    password_reset_required: "Ce compte a besoin d’un nouveau mot de passe. Réinitialisez votre mot de passe, puis connectez-vous.",
    new_password_required: "Ce compte doit choisir un nouveau mot de passe. Cette page n’est pas encore disponible : contactez votre administrateur.",
    second_factor_required: "Ce compte demande un second facteur pour se connecter. Cette page n’est pas encore disponible : contactez votre administrateur.",
    form_expired: "Ce formulaire a expiré. Veuillez vous reconnecter.",
    too_many_requests: "Trop de requêtes. Patientez un instant, puis réessayez.",
    unavailable: "Un problème est survenu de notre côté. Veuillez réessayer.",
    error_title: "Ce lien de connexion ne fonctionne pas",
    error_unknown_client: "L’application qui vous a envoyé ici est inconnue.",
    error_missing_client: "Le lien ne désigne aucune application.",
    error_redirect_mismatch: "L’application a demandé à revenir vers une adresse qu’elle n’a pas enregistrée.",
    error_missing_redirect: "Le lien n’indique pas où revenir.",
    error_logout_mismatch: "L’application a demandé à aller vers une adresse de déconnexion qu’elle n’a pas enregistrée.",
    error_repeated_parameter: "Le lien est mal formé.",
    error_invalid_state: "Cette connexion a expiré ou a déjà été utilisée. Revenez à l’application et reconnectez-vous.",
    error_hint: "Revenez à l’application et réessayez. Si le problème persiste, prévenez son responsable.",
    sign_in_with: "Se connecter avec",
    or_divider: "ou",
};

/// Every language there is, English first (the fallback).
pub static LANGUAGES: &[&Strings] = &[&ENGLISH, &FRENCH];

/// The strings for the language the request prefers (`Accept-Language`, by `q`), among
/// [`LANGUAGES`]; English when none matches.
pub fn for_request(headers: &HeaderMap) -> &'static Strings {
    let accepted = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut ranked: Vec<(u16, &str)> = accepted
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(1000, |q| (q.parse::<f32>().unwrap_or(0.0) * 1000.0) as u16);
            Some((q, tag))
        })
        .filter(|(q, tag)| *q > 0 && !tag.is_empty())
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (_, tag) in ranked {
        let primary = tag.split('-').next().unwrap_or(tag);
        if let Some(found) = LANGUAGES
            .iter()
            .find(|s| s.lang.eq_ignore_ascii_case(primary))
        {
            return found;
        }
    }
    &ENGLISH
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn english_is_the_fallback_language() {
        for accepted in ["", "de-CH, it;q=0.8", "en-GB;q=0.5, xx", "*", "fr;q=0"] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_LANGUAGE,
                HeaderValue::from_str(accepted).unwrap(),
            );
            assert_eq!(for_request(&headers).lang, "en", "{accepted}");
        }
    }

    fn preferred(accepted: &str) -> &'static str {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(accepted).unwrap(),
        );
        for_request(&headers).lang
    }

    #[test]
    fn french_is_chosen_by_accept_language() {
        let cases = [
            ("fr", "fr"),
            ("fr-CA", "fr"),
            ("FR-fr", "fr"),
            ("de-CH, fr;q=0.8, en;q=0.5", "fr"),
            ("en;q=0.4, fr;q=0.9", "fr"),
            ("en-US, fr;q=0.9", "en"),
            ("fr;q=0.3, en;q=0.7", "en"),
        ];
        for (accepted, expected) in cases {
            assert_eq!(preferred(accepted), expected, "{accepted}");
        }
    }

    #[test]
    fn every_language_has_every_string() {
        // The fields of `Strings` make a missing string a compile error; an empty or
        // untranslated one is caught here (the `lang` tags differ, the titles too).
        for strings in LANGUAGES {
            let debug = format!("{strings:?}");
            assert!(
                !debug.contains(": \"\""),
                "an empty string in {}",
                strings.lang
            );
        }
        assert_ne!(FRENCH.sign_in_title, ENGLISH.sign_in_title);
        assert_ne!(FRENCH.error_hint, ENGLISH.error_hint);
    }
}
