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
    /// The challenge pages (a sign-in's next steps).
    pub session_expired: &'static str,
    pub new_password_title: &'static str,
    pub new_password_intro: &'static str,
    pub new_password_label: &'static str,
    pub confirm_password_label: &'static str,
    pub change_password_button: &'static str,
    pub invalid_password: &'static str,
    pub passwords_differ: &'static str,
    pub invalid_answer: &'static str,
    /// Labels of the standard attributes a new-password page may ask for (other names are
    /// shown as they are).
    pub attribute_labels: &'static [(&'static str, &'static str)],
    pub code_label: &'static str,
    pub verify_button: &'static str,
    pub wrong_code: &'static str,
    pub totp_title: &'static str,
    pub totp_intro: &'static str,
    pub email_code_title: &'static str,
    /// Followed by the masked address.
    pub email_code_intro: &'static str,
    pub select_factor_title: &'static str,
    pub select_factor_intro: &'static str,
    pub factor_totp: &'static str,
    pub factor_email: &'static str,
    pub continue_button: &'static str,
    pub setup_title: &'static str,
    pub setup_scan: &'static str,
    pub setup_qr_alt: &'static str,
    pub setup_key_label: &'static str,
    pub setup_code_intro: &'static str,
    pub sign_up_title: &'static str,
    pub sign_up_button: &'static str,
    pub sign_up_link: &'static str,
    pub no_account: &'static str,
    pub forgot_link: &'static str,
    pub have_account: &'static str,
    pub sign_in_link: &'static str,
    pub back_to_sign_in: &'static str,
    pub username_only_label: &'static str,
    pub email_label: &'static str,
    pub phone_label: &'static str,
    pub email_or_phone_label: &'static str,
    pub password_rules_intro: &'static str,
    /// `{n}`: the policy's minimum length.
    pub rule_min_length: &'static str,
    pub rule_lowercase: &'static str,
    pub rule_uppercase: &'static str,
    pub rule_number: &'static str,
    pub rule_symbol: &'static str,
    pub sign_up_unavailable: &'static str,
    pub created_pending: &'static str,
    pub confirm_title: &'static str,
    pub confirm_button: &'static str,
    pub resend_button: &'static str,
    /// `{destination}`: where the code went, masked.
    pub code_sent_to: &'static str,
    pub code_resent_to: &'static str,
    pub code_mismatch: &'static str,
    pub code_expired: &'static str,
    pub account_confirmed: &'static str,
    pub forgot_title: &'static str,
    pub forgot_intro: &'static str,
    pub send_code_button: &'static str,
    pub reset_title: &'static str,
    pub reset_code_sent_to: &'static str,
    pub reset_button: &'static str,
    pub password_changed: &'static str,
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
    session_expired: "This sign-in has expired or was already completed. Please sign in again.",
    new_password_title: "Choose a new password",
    new_password_intro: "Your account needs a new password before you continue.",
    new_password_label: "New password",
    confirm_password_label: "New password again",
    change_password_button: "Change password",
    invalid_password: "This password does not meet the requirements. Choose a longer or more varied one.",
    passwords_differ: "The two passwords are not the same.",
    invalid_answer: "Some fields are missing or not valid. Check them and try again.",
    attribute_labels: &[
        ("name", "Full name"),
        ("given_name", "First name"),
        ("family_name", "Last name"),
        ("middle_name", "Middle name"),
        ("nickname", "Nickname"),
        ("preferred_username", "Preferred username"),
        ("email", "Email"),
        ("phone_number", "Phone number"),
        ("birthdate", "Date of birth (YYYY-MM-DD)"),
        ("gender", "Gender"),
        ("address", "Address"),
        ("locale", "Locale"),
        ("zoneinfo", "Time zone"),
        ("website", "Website"),
        ("picture", "Picture URL"),
        ("profile", "Profile URL"),
    ],
    code_label: "Code",
    verify_button: "Verify",
    wrong_code: "That code is not right. Check it and try again.",
    totp_title: "Enter your authentication code",
    totp_intro: "Open your authenticator app and enter the 6-digit code it shows for this account.",
    email_code_title: "Check your email",
    email_code_intro: "We sent a sign-in code to",
    select_factor_title: "Choose how to verify",
    select_factor_intro: "Your account has more than one second factor. Which one do you want to use?",
    factor_totp: "Authenticator app",
    factor_email: "Code by email",
    continue_button: "Continue",
    setup_title: "Set up an authenticator app",
    setup_scan: "This account needs a second factor. Scan the QR code with an authenticator app, or enter the key below by hand.",
    setup_qr_alt: "QR code of the key for your authenticator app",
    setup_key_label: "Key",
    setup_code_intro: "Then enter the 6-digit code the app shows.",
    sign_up_title: "Create an account",
    sign_up_button: "Sign up",
    sign_up_link: "Sign up",
    no_account: "Need an account?",
    forgot_link: "Forgot your password?",
    have_account: "Already have an account?",
    sign_in_link: "Sign in",
    back_to_sign_in: "Back to sign in",
    username_only_label: "Username",
    email_label: "Email",
    phone_label: "Phone number",
    email_or_phone_label: "Email or phone number",
    password_rules_intro: "Your password needs:",
    rule_min_length: "At least {n} characters",
    rule_lowercase: "A lowercase letter",
    rule_uppercase: "An uppercase letter",
    rule_number: "A number",
    rule_symbol: "A special character",
    sign_up_unavailable: "This application does not let people sign up here. Ask its administrator for an account.",
    created_pending: "Your account was created. An administrator must confirm it before you can sign in.",
    confirm_title: "Confirm your account",
    confirm_button: "Confirm account",
    resend_button: "Send a new code",
    code_sent_to: "We sent a code to {destination}. Enter it below to confirm your account.",
    code_resent_to: "We sent a new code to {destination}.",
    code_mismatch: "Invalid verification code provided, please try again.",
    code_expired: "This code has expired. Ask for a new one.",
    account_confirmed: "Your account is confirmed. Sign in to continue.",
    forgot_title: "Reset your password",
    forgot_intro: "Enter your username and we will send you a code to reset your password.",
    send_code_button: "Send code",
    reset_title: "Choose a new password",
    reset_code_sent_to: "If an account goes by that name, we sent it a code ({destination}).",
    reset_button: "Change password",
    password_changed: "Your password was changed. Sign in with your new password.",
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
    session_expired: "Cette connexion a expiré ou est déjà terminée. Veuillez vous reconnecter.",
    new_password_title: "Choisissez un nouveau mot de passe",
    new_password_intro: "Votre compte a besoin d’un nouveau mot de passe avant de continuer.",
    new_password_label: "Nouveau mot de passe",
    confirm_password_label: "Nouveau mot de passe (encore)",
    change_password_button: "Changer le mot de passe",
    invalid_password: "Ce mot de passe ne respecte pas les exigences. Choisissez-en un plus long ou plus varié.",
    passwords_differ: "Les deux mots de passe ne sont pas identiques.",
    invalid_answer: "Des champs manquent ou ne sont pas valides. Vérifiez-les et réessayez.",
    sign_up_title: "Créer un compte",
    sign_up_button: "S’inscrire",
    sign_up_link: "Inscrivez-vous",
    no_account: "Pas encore de compte ?",
    forgot_link: "Mot de passe oublié ?",
    have_account: "Vous avez déjà un compte ?",
    sign_in_link: "Connectez-vous",
    back_to_sign_in: "Retour à la connexion",
    username_only_label: "Nom d’utilisateur",
    email_label: "E-mail",
    phone_label: "Numéro de téléphone",
    email_or_phone_label: "E-mail ou numéro de téléphone",
    password_rules_intro: "Votre mot de passe doit contenir :",
    rule_min_length: "Au moins {n} caractères",
    rule_lowercase: "Une lettre minuscule",
    rule_uppercase: "Une lettre majuscule",
    rule_number: "Un chiffre",
    rule_symbol: "Un caractère spécial",
    sign_up_unavailable: "Cette application ne permet pas de s’inscrire ici. Demandez un compte à son administrateur.",
    created_pending: "Votre compte a été créé. Un administrateur doit le confirmer avant que vous puissiez vous connecter.",
    confirm_title: "Confirmez votre compte",
    confirm_button: "Confirmer le compte",
    resend_button: "Envoyer un nouveau code",
    code_sent_to: "Nous avons envoyé un code à {destination}. Saisissez-le ci-dessous pour confirmer votre compte.",
    code_resent_to: "Nous avons envoyé un nouveau code à {destination}.",
    code_mismatch: "Code de vérification incorrect, veuillez réessayer.",
    code_expired: "Ce code a expiré. Demandez-en un nouveau.",
    account_confirmed: "Votre compte est confirmé. Connectez-vous pour continuer.",
    forgot_title: "Réinitialiser votre mot de passe",
    forgot_intro: "Saisissez votre nom d’utilisateur : nous vous enverrons un code pour réinitialiser votre mot de passe.",
    send_code_button: "Envoyer le code",
    reset_title: "Choisissez un nouveau mot de passe",
    reset_code_sent_to: "Si un compte porte ce nom, nous lui avons envoyé un code ({destination}).",
    reset_button: "Changer le mot de passe",
    password_changed: "Votre mot de passe a été modifié. Connectez-vous avec votre nouveau mot de passe.",
    attribute_labels: &[
        ("name", "Nom complet"),
        ("given_name", "Prénom"),
        ("family_name", "Nom de famille"),
        ("middle_name", "Deuxième prénom"),
        ("nickname", "Surnom"),
        ("preferred_username", "Nom d’utilisateur préféré"),
        ("email", "E-mail"),
        ("phone_number", "Numéro de téléphone"),
        ("birthdate", "Date de naissance (AAAA-MM-JJ)"),
        ("gender", "Genre"),
        ("address", "Adresse"),
        ("locale", "Langue et région"),
        ("zoneinfo", "Fuseau horaire"),
        ("website", "Site web"),
        ("picture", "URL de la photo"),
        ("profile", "URL du profil"),
    ],
    code_label: "Code",
    verify_button: "Vérifier",
    wrong_code: "Ce code n’est pas le bon. Vérifiez-le et réessayez.",
    totp_title: "Saisissez votre code d’authentification",
    totp_intro: "Ouvrez votre application d’authentification et saisissez le code à 6 chiffres qu’elle affiche pour ce compte.",
    email_code_title: "Consultez vos e-mails",
    email_code_intro: "Nous avons envoyé un code de connexion à",
    select_factor_title: "Choisissez comment vous vérifier",
    select_factor_intro: "Votre compte a plusieurs seconds facteurs. Lequel voulez-vous utiliser ?",
    factor_totp: "Application d’authentification",
    factor_email: "Code par e-mail",
    continue_button: "Continuer",
    setup_title: "Configurez une application d’authentification",
    setup_scan: "Ce compte demande un second facteur. Scannez le QR code avec une application d’authentification, ou saisissez la clé ci-dessous à la main.",
    setup_qr_alt: "QR code de la clé pour votre application d’authentification",
    setup_key_label: "Clé",
    setup_code_intro: "Saisissez ensuite le code à 6 chiffres affiché par l’application.",
    sign_in_with: "Se connecter avec",
    or_divider: "ou",
};

impl Strings {
    /// The label of attribute `name` on the sign-up form: its translation, or for a custom
    /// attribute its name without `custom:`.
    pub fn attribute_label(&self, name: &str) -> String {
        self.attribute_labels
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(
                || name.strip_prefix("custom:").unwrap_or(name).to_owned(),
                |(_, label)| (*label).to_owned(),
            )
    }
}

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
