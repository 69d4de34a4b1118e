//! The configuration documents of a pool ([`PoolConfig`]) and an app client
//! ([`ClientConfig`]), stored by `gatehouse-storage` as JSON it never reads. Field names are
//! snake_case and every field has a default, so documents written by older builds still load.
//! Enumerations serialise with Cognito's own names (`ALLOW_USER_PASSWORD_AUTH`, `email`, …).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::UserPoolError;
use crate::password::{MAX_MINIMUM_LENGTH, MIN_MINIMUM_LENGTH, PasswordPolicy};

/// Declares an enum whose serde and text forms are Cognito's names.
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v),+
        }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$v),+];
            /// Cognito's name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
            /// The value with Cognito's name `s`.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)+ _ => None }
            }
        }
    };
}
pub(crate) use named_enum;

named_enum!(
    /// Attributes that can be used as the username (`UsernameAttributes`).
    UsernameAttribute { Email = "email", PhoneNumber = "phone_number" }
);
named_enum!(
    /// Attributes that can be used as sign-in aliases (`AliasAttributes`).
    AliasAttribute { Email = "email", PhoneNumber = "phone_number", PreferredUsername = "preferred_username" }
);
named_enum!(
    /// Attributes verified automatically by sending a code (`AutoVerifiedAttributes`).
    VerifiedAttribute { Email = "email", PhoneNumber = "phone_number" }
);
named_enum!(
    /// `MfaConfiguration`: no second factor, one the user may enable, one every user must have.
    MfaConfiguration { Off = "OFF", On = "ON", Optional = "OPTIONAL" }
);
named_enum!(
    /// A schema attribute's `AttributeDataType`.
    AttributeDataType { String = "String", Number = "Number", DateTime = "DateTime", Boolean = "Boolean" }
);
named_enum!(
    /// `ExplicitAuthFlows` values, current and legacy.
    ExplicitAuthFlow {
        AllowAdminUserPasswordAuth = "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        AllowCustomAuth = "ALLOW_CUSTOM_AUTH",
        AllowUserPasswordAuth = "ALLOW_USER_PASSWORD_AUTH",
        AllowUserSrpAuth = "ALLOW_USER_SRP_AUTH",
        AllowRefreshTokenAuth = "ALLOW_REFRESH_TOKEN_AUTH",
        AllowUserAuth = "ALLOW_USER_AUTH",
        /// Legacy name of `ALLOW_ADMIN_USER_PASSWORD_AUTH`.
        AdminNoSrpAuth = "ADMIN_NO_SRP_AUTH",
        /// Legacy: custom authentication only.
        CustomAuthFlowOnly = "CUSTOM_AUTH_FLOW_ONLY",
        /// Legacy name of `ALLOW_USER_PASSWORD_AUTH`.
        UserPasswordAuth = "USER_PASSWORD_AUTH",
    }
);
named_enum!(
    /// Units of `TokenValidityUnits`.
    TimeUnit { Seconds = "seconds", Minutes = "minutes", Hours = "hours", Days = "days" }
);
named_enum!(
    /// `AllowedOAuthFlows`, stored for the hosted UI.
    OAuthFlow { Code = "code", Implicit = "implicit", ClientCredentials = "client_credentials" }
);

impl TimeUnit {
    /// Seconds in one unit.
    pub fn seconds(self) -> u64 {
        match self {
            Self::Seconds => 1,
            Self::Minutes => 60,
            Self::Hours => 3600,
            Self::Days => 86_400,
        }
    }
}

named_enum!(
    /// A `RecoveryMechanisms` entry's `Name` (`AccountRecoverySetting`).
    RecoveryMechanism {
        VerifiedEmail = "verified_email",
        VerifiedPhoneNumber = "verified_phone_number",
        AdminOnly = "admin_only",
    }
);

// === PoolConfig ===

/// Everything about a pool except its id and name (storage columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PoolConfig {
    /// `Policies.PasswordPolicy`.
    pub password_policy: PasswordPolicyConfig,
    /// Every attribute of the pool: the standard ones and `custom:*`, in schema order.
    pub schema: Vec<SchemaAttribute>,
    /// `UsernameAttributes`: sign up with an email or phone number instead of a username.
    pub username_attributes: Vec<UsernameAttribute>,
    /// `AliasAttributes`: sign in with these besides the username.
    pub alias_attributes: Vec<AliasAttribute>,
    /// `AutoVerifiedAttributes`.
    pub auto_verified_attributes: Vec<VerifiedAttribute>,
    /// `UsernameConfiguration.CaseSensitive`; `None` when not given (case sensitive).
    pub username_case_sensitive: Option<bool>,
    /// `MfaConfiguration`.
    pub mfa_configuration: MfaConfiguration,
    /// `DeletionProtection` ACTIVE.
    pub deletion_protection: bool,
    /// `UserPoolTags`.
    pub tags: BTreeMap<String, String>,
    /// `VerificationMessageTemplate` and the older top-level message members.
    pub verification_message: MessageTemplate,
    /// `AdminCreateUserConfig`.
    pub admin_create_user: AdminCreateUserSettings,
    /// `SmsAuthenticationMessage`.
    pub sms_authentication_message: Option<String>,
    /// `SoftwareTokenMfaConfiguration.Enabled` of SetUserPoolMfaConfig; `None` when never
    /// set, which leaves software tokens available (gatehouse has no SMS, so a pool with MFA
    /// on needs them).
    pub software_token_mfa: Option<bool>,
    /// `EmailMfaConfiguration`: email sign-in codes are a second factor when set.
    pub email_mfa: Option<EmailMfaSettings>,
    /// Settings stored and returned as given, keyed by member name. Some are read from
    /// here (`LambdaConfig` by [`PoolConfig::triggers`], `DeviceConfiguration`,
    /// `AccountRecoverySetting`, `UserAttributeUpdateSettings`); the rest are not acted on
    /// (`EmailConfiguration`, `SmsConfiguration`, `DeviceConfiguration`, `UserPoolAddOns`,
    /// `AccountRecoverySetting`, `UserAttributeUpdateSettings`, …), keyed by member name.
    pub stored_only: BTreeMap<String, serde_json::Value>,
}

/// `EmailMfaConfiguration`: the message of email sign-in codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailMfaSettings {
    /// Body; contains `{####}`.
    pub message: Option<String>,
    /// Subject.
    pub subject: Option<String>,
}

/// `DeviceConfiguration`: device tracking is on when the pool has one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceSettings {
    /// A remembered device signs in with device SRP instead of an MFA code.
    pub challenge_required_on_new_device: bool,
    /// A confirmed device is remembered only when the user says so (UpdateDeviceStatus).
    pub device_only_remembered_on_user_prompt: bool,
}

/// `Policies.PasswordPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordPolicyConfig {
    /// 6..=99.
    pub minimum_length: u32,
    /// At least one `A`–`Z`.
    pub require_uppercase: bool,
    /// At least one `a`–`z`.
    pub require_lowercase: bool,
    /// At least one digit.
    pub require_numbers: bool,
    /// At least one symbol.
    pub require_symbols: bool,
    /// How long a temporary password from AdminCreateUser is valid (days, 0..=365).
    pub temporary_password_validity_days: u32,
    /// Refuse new passwords on the list of commonly used passwords (a gatehouse setting, on
    /// unless the pool tag [`COMMON_PASSWORDS_TAG`] says `false`).
    pub reject_common_passwords: bool,
}

/// The pool tag that switches the common-password check: `false` turns it off, `true` (or
/// no tag) keeps it on. A tag, because every Cognito client can send tags (boto3 refuses
/// members its CreateUserPool shape does not know).
pub const COMMON_PASSWORDS_TAG: &str = "gatehouse:reject-common-passwords";

impl Default for PasswordPolicyConfig {
    fn default() -> Self {
        Self {
            minimum_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
            temporary_password_validity_days: 7,
            reject_common_passwords: true,
        }
    }
}

impl PasswordPolicyConfig {
    /// The checker for this policy.
    pub fn policy(&self) -> Result<PasswordPolicy, UserPoolError> {
        PasswordPolicy::new(
            self.minimum_length,
            self.require_uppercase,
            self.require_lowercase,
            self.require_numbers,
            self.require_symbols,
        )
        .map_err(|e| UserPoolError::invalid(e.to_string()))
    }
}

/// One attribute of the pool schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaAttribute {
    /// Full name: `email`, `custom:tier`.
    pub name: String,
    /// Type of the values.
    pub data_type: AttributeDataType,
    /// Only the operator API may read or write it.
    #[serde(default)]
    pub developer_only: bool,
    /// Whether it may change after the user is created.
    pub mutable: bool,
    /// Whether every user must have it.
    #[serde(default)]
    pub required: bool,
    /// String length bounds (characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// String length bounds (characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Number bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<i64>,
    /// Number bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<i64>,
}

/// Message templates for codes (`VerificationMessageTemplate`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageTemplate {
    /// Email body; must contain `{####}`.
    pub email_message: Option<String>,
    /// Email subject.
    pub email_subject: Option<String>,
    /// SMS text; must contain `{####}`.
    pub sms_message: Option<String>,
    /// `CONFIRM_WITH_CODE` or `CONFIRM_WITH_LINK`.
    pub default_email_option: Option<String>,
}

/// `AdminCreateUserConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdminCreateUserSettings {
    /// Only operators create users (SignUp is refused).
    pub allow_admin_create_user_only: bool,
    /// Invitation email body; `{username}` and `{####}` are filled in.
    pub invite_email_message: Option<String>,
    /// Invitation email subject.
    pub invite_email_subject: Option<String>,
    /// Invitation SMS.
    pub invite_sms_message: Option<String>,
}

/// The standard attributes of every pool: (name, type, mutable, max length).
const STANDARD_ATTRIBUTES: &[(&str, AttributeDataType, bool)] = &[
    ("sub", AttributeDataType::String, false),
    ("name", AttributeDataType::String, true),
    ("given_name", AttributeDataType::String, true),
    ("family_name", AttributeDataType::String, true),
    ("middle_name", AttributeDataType::String, true),
    ("nickname", AttributeDataType::String, true),
    ("preferred_username", AttributeDataType::String, true),
    ("profile", AttributeDataType::String, true),
    ("picture", AttributeDataType::String, true),
    ("website", AttributeDataType::String, true),
    ("email", AttributeDataType::String, true),
    ("email_verified", AttributeDataType::Boolean, true),
    ("gender", AttributeDataType::String, true),
    ("birthdate", AttributeDataType::String, true),
    ("zoneinfo", AttributeDataType::String, true),
    ("locale", AttributeDataType::String, true),
    ("phone_number", AttributeDataType::String, true),
    ("phone_number_verified", AttributeDataType::Boolean, true),
    ("address", AttributeDataType::String, true),
    ("updated_at", AttributeDataType::Number, true),
];

/// Longest attribute value Cognito accepts.
pub const MAX_ATTRIBUTE_VALUE_LEN: u32 = 2048;
/// Most custom attributes a pool may declare (Cognito's quota).
pub const MAX_CUSTOM_ATTRIBUTES: usize = 50;

/// Whether `name` is one of Cognito's standard attributes.
pub fn is_standard_attribute(name: &str) -> bool {
    STANDARD_ATTRIBUTES.iter().any(|(n, _, _)| *n == name)
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            password_policy: PasswordPolicyConfig::default(),
            schema: standard_schema(),
            username_attributes: Vec::new(),
            alias_attributes: Vec::new(),
            auto_verified_attributes: Vec::new(),
            username_case_sensitive: None,
            mfa_configuration: MfaConfiguration::Off,
            deletion_protection: false,
            tags: BTreeMap::new(),
            verification_message: MessageTemplate::default(),
            admin_create_user: AdminCreateUserSettings::default(),
            sms_authentication_message: None,
            software_token_mfa: None,
            email_mfa: None,
            stored_only: BTreeMap::new(),
        }
    }
}

/// The standard attributes with Cognito's default settings.
pub fn standard_schema() -> Vec<SchemaAttribute> {
    STANDARD_ATTRIBUTES
        .iter()
        .map(|&(name, data_type, mutable)| SchemaAttribute {
            name: name.to_owned(),
            data_type,
            developer_only: false,
            mutable,
            required: name == "sub",
            min_length: (data_type == AttributeDataType::String).then_some(match name {
                "sub" => 1,
                // `YYYY-MM-DD`, as Cognito's default schema says.
                "birthdate" => 10,
                _ => 0,
            }),
            max_length: (data_type == AttributeDataType::String).then_some(match name {
                "birthdate" => 10,
                _ => MAX_ATTRIBUTE_VALUE_LEN,
            }),
            min_value: (data_type == AttributeDataType::Number).then_some(0),
            max_value: None,
        })
        .collect()
}

impl PoolConfig {
    /// Checks what CreateUserPool/UpdateUserPool check: the password policy range, a sane
    /// schema, no username/alias overlap.
    pub fn validate(&self) -> Result<(), UserPoolError> {
        let p = &self.password_policy;
        if !(MIN_MINIMUM_LENGTH..=MAX_MINIMUM_LENGTH).contains(&p.minimum_length) {
            return Err(UserPoolError::invalid(format!(
                "password policy minimum length `{}` must be between {MIN_MINIMUM_LENGTH} and {MAX_MINIMUM_LENGTH}",
                p.minimum_length
            )));
        }
        if p.temporary_password_validity_days > 365 {
            return Err(UserPoolError::invalid(
                "temporary password validity days must be between 0 and 365",
            ));
        }
        if !self.username_attributes.is_empty() && !self.alias_attributes.is_empty() {
            return Err(UserPoolError::invalid(
                "only one of alias attributes or username attributes can be set",
            ));
        }
        let custom = self
            .schema
            .iter()
            .filter(|a| a.name.starts_with("custom:"))
            .count();
        if custom > MAX_CUSTOM_ATTRIBUTES {
            return Err(UserPoolError::invalid(format!(
                "a pool may declare at most {MAX_CUSTOM_ATTRIBUTES} custom attributes"
            )));
        }
        for a in &self.schema {
            if let (Some(lo), Some(hi)) = (a.min_length, a.max_length)
                && lo > hi
            {
                return Err(UserPoolError::invalid(format!(
                    "attribute `{}`: min length is greater than max length",
                    a.name
                )));
            }
            if let (Some(lo), Some(hi)) = (a.min_value, a.max_value)
                && lo > hi
            {
                return Err(UserPoolError::invalid(format!(
                    "attribute `{}`: min value is greater than max value",
                    a.name
                )));
            }
        }
        for attribute in self.verify_before_update()? {
            if !self.auto_verifies(attribute) {
                return Err(UserPoolError::invalid(format!(
                    "`{}` in AttributesRequireVerificationBeforeUpdate must be an auto-verified attribute",
                    attribute.as_str()
                )));
            }
        }
        self.triggers()?;
        let recovery = self.recovery_mechanisms()?;
        if recovery.contains(&RecoveryMechanism::AdminOnly) && recovery.len() > 1 {
            return Err(UserPoolError::invalid(
                "admin_only cannot be combined with other recovery mechanisms",
            ));
        }
        for template in [
            &self.verification_message.email_message,
            &self.verification_message.sms_message,
        ]
        .into_iter()
        .flatten()
        {
            if !template.contains("{####}") {
                return Err(UserPoolError::invalid(
                    "verification message templates must contain `{####}`",
                ));
            }
        }
        Ok(())
    }

    /// Reads the settings gatehouse keeps in pool tags ([`COMMON_PASSWORDS_TAG`]) into the
    /// configuration; a value other than `true` or `false` is refused.
    pub fn apply_setting_tags(&mut self) -> Result<(), UserPoolError> {
        self.password_policy.reject_common_passwords =
            match self.tags.get(COMMON_PASSWORDS_TAG).map(String::as_str) {
                None | Some("true") => true,
                Some("false") => false,
                Some(other) => {
                    return Err(UserPoolError::invalid(format!(
                        "tag `{COMMON_PASSWORDS_TAG}` must be `true` or `false`, not `{other}`"
                    )));
                }
            };
        Ok(())
    }

    /// The pool's Lambda triggers (`LambdaConfig`), checked by [`PoolConfig::validate`].
    pub fn triggers(&self) -> Result<super::triggers::Triggers, UserPoolError> {
        super::triggers::Triggers::parse(self.stored_only.get("LambdaConfig"))
    }

    /// The schema attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<&SchemaAttribute> {
        self.schema.iter().find(|a| a.name == name)
    }

    /// Whether usernames compare case-insensitively.
    pub fn case_insensitive_usernames(&self) -> bool {
        self.username_case_sensitive == Some(false)
    }

    /// Whether email or phone numbers are the username (`UsernameAttributes`).
    pub fn uses_username_attributes(&self) -> bool {
        !self.username_attributes.is_empty()
    }

    /// The schema attribute a name refers to: `custom:x`, or `dev:custom:x` (how Cognito
    /// shows a developer-only custom attribute).
    pub fn attribute_named(&self, name: &str) -> Option<&SchemaAttribute> {
        let name = name.strip_prefix("dev:").unwrap_or(name);
        self.attribute(name)
    }

    /// `AccountRecoverySetting.RecoveryMechanisms` by priority (lowest first); empty when
    /// the pool has none. The setting is kept as given (`stored_only`) and checked by
    /// [`PoolConfig::validate`].
    pub fn recovery_mechanisms(&self) -> Result<Vec<RecoveryMechanism>, UserPoolError> {
        let Some(setting) = self.stored_only.get("AccountRecoverySetting") else {
            return Ok(Vec::new());
        };
        let invalid = || UserPoolError::invalid("invalid account recovery setting");
        let entries = match setting.get("RecoveryMechanisms") {
            None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
            Some(serde_json::Value::Array(entries)) => entries,
            Some(_) => return Err(invalid()),
        };
        let mut ranked = Vec::with_capacity(entries.len());
        for entry in entries {
            let name = entry.get("Name").and_then(serde_json::Value::as_str);
            let priority = entry.get("Priority").and_then(serde_json::Value::as_i64);
            let (Some(name), Some(priority)) = (name, priority) else {
                return Err(invalid());
            };
            let mechanism = RecoveryMechanism::parse(name).ok_or_else(|| {
                UserPoolError::invalid(format!(
                    "value `{name}` at `RecoveryMechanisms.Name` failed to satisfy constraint: member must satisfy enum value set"
                ))
            })?;
            ranked.push((priority, mechanism));
        }
        ranked.sort();
        Ok(ranked.into_iter().map(|(_, m)| m).collect())
    }

    /// `UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate`: the
    /// attributes (email, phone number) whose new value takes effect only once verified.
    /// Kept as given (`stored_only`), checked by [`PoolConfig::validate`].
    pub fn verify_before_update(&self) -> Result<Vec<VerifiedAttribute>, UserPoolError> {
        let Some(setting) = self.stored_only.get("UserAttributeUpdateSettings") else {
            return Ok(Vec::new());
        };
        let names = match setting.get("AttributesRequireVerificationBeforeUpdate") {
            None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
            Some(serde_json::Value::Array(names)) => names,
            Some(_) => {
                return Err(UserPoolError::invalid(
                    "invalid user attribute update settings",
                ));
            }
        };
        names
            .iter()
            .map(|name| {
                name.as_str()
                    .and_then(VerifiedAttribute::parse)
                    .ok_or_else(|| {
                        UserPoolError::invalid(format!(
                            "value `{name}` at `AttributesRequireVerificationBeforeUpdate` failed to satisfy constraint: member must satisfy enum value set"
                        ))
                    })
            })
            .collect()
    }

    /// Whether a new value of `attribute` waits for its verification.
    pub fn verifies_before_update(&self, attribute: VerifiedAttribute) -> bool {
        self.verify_before_update()
            .is_ok_and(|attributes| attributes.contains(&attribute))
    }

    /// Whether `attribute` is auto-verified.
    pub fn auto_verifies(&self, attribute: VerifiedAttribute) -> bool {
        self.auto_verified_attributes.contains(&attribute)
    }

    /// Whether users may use software tokens as a second factor.
    pub fn software_token_mfa_enabled(&self) -> bool {
        self.software_token_mfa != Some(false)
    }

    /// The pool's `DeviceConfiguration` (kept as given among the stored-only members), or
    /// `None` when devices are not tracked. A member that is not a boolean reads as `false`.
    pub fn device_settings(&self) -> Option<DeviceSettings> {
        let config = self.stored_only.get("DeviceConfiguration")?.as_object()?;
        let flag = |name: &str| {
            config
                .get(name)
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        };
        Some(DeviceSettings {
            challenge_required_on_new_device: flag("ChallengeRequiredOnNewDevice"),
            device_only_remembered_on_user_prompt: flag("DeviceOnlyRememberedOnUserPrompt"),
        })
    }
}

// === ClientConfig ===

/// Everything about an app client except its id, pool, name and secret (storage columns; the
/// secret is sealed in its own column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientConfig {
    /// `ExplicitAuthFlows` as given; empty means Cognito's default set
    /// ([`ClientConfig::allows`]).
    pub explicit_auth_flows: Vec<ExplicitAuthFlow>,
    /// `PreventUserExistenceErrors` ENABLED (`false` = LEGACY, the API default).
    pub prevent_user_existence_errors: bool,
    /// `AccessTokenValidity` as given (in `token_validity_units.access_token`).
    pub access_token_validity: Option<u32>,
    /// `IdTokenValidity` as given.
    pub id_token_validity: Option<u32>,
    /// `RefreshTokenValidity` as given.
    pub refresh_token_validity: Option<u32>,
    /// `TokenValidityUnits` as given.
    pub token_validity_units: Option<TokenValidityUnits>,
    /// `ReadAttributes`; empty means every attribute.
    pub read_attributes: Vec<String>,
    /// `WriteAttributes`; empty means every attribute except the `*_verified` flags.
    pub write_attributes: Vec<String>,
    /// `CallbackURLs`.
    pub callback_urls: Vec<String>,
    /// `LogoutURLs`.
    pub logout_urls: Vec<String>,
    /// `DefaultRedirectURI`.
    pub default_redirect_uri: Option<String>,
    /// `AllowedOAuthFlows`.
    pub allowed_oauth_flows: Vec<OAuthFlow>,
    /// `AllowedOAuthScopes`.
    pub allowed_oauth_scopes: Vec<String>,
    /// `AllowedOAuthFlowsUserPoolClient`.
    pub allowed_oauth_flows_user_pool_client: bool,
    /// `SupportedIdentityProviders`.
    pub supported_identity_providers: Vec<String>,
    /// `EnableTokenRevocation` (default true).
    pub enable_token_revocation: bool,
    /// `EnablePropagateAdditionalUserContextData`.
    pub enable_propagate_additional_user_context_data: bool,
    /// `AuthSessionValidity` in minutes (3..=15, default 3): how long a challenge session lives.
    pub auth_session_validity: u32,
    /// `RefreshTokenRotation` as given; `None` (never given) is rotation off.
    pub refresh_token_rotation: Option<RefreshTokenRotation>,
}

/// `RefreshTokenRotation`: whether GetTokensFromRefreshToken hands out a new refresh token
/// each time (and takes the old one out), and how long a rotated token still works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenRotation {
    /// `Feature` ENABLED.
    pub enabled: bool,
    /// `RetryGracePeriodSeconds` (0..=60): how long a rotated token may still be used, so a
    /// client that lost the answer can retry. 0: never.
    pub retry_grace_period_seconds: u32,
}

/// The longest `RetryGracePeriodSeconds` Cognito accepts.
pub const MAX_RETRY_GRACE_PERIOD_SECONDS: u32 = 60;

/// `TokenValidityUnits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenValidityUnits {
    /// Unit of `AccessTokenValidity` (default hours).
    pub access_token: TimeUnit,
    /// Unit of `IdTokenValidity` (default hours).
    pub id_token: TimeUnit,
    /// Unit of `RefreshTokenValidity` (default days).
    pub refresh_token: TimeUnit,
}

impl Default for TokenValidityUnits {
    fn default() -> Self {
        Self {
            access_token: TimeUnit::Hours,
            id_token: TimeUnit::Hours,
            refresh_token: TimeUnit::Days,
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            explicit_auth_flows: Vec::new(),
            prevent_user_existence_errors: false,
            access_token_validity: None,
            id_token_validity: None,
            refresh_token_validity: None,
            token_validity_units: None,
            read_attributes: Vec::new(),
            write_attributes: Vec::new(),
            callback_urls: Vec::new(),
            logout_urls: Vec::new(),
            default_redirect_uri: None,
            allowed_oauth_flows: Vec::new(),
            allowed_oauth_scopes: Vec::new(),
            allowed_oauth_flows_user_pool_client: false,
            supported_identity_providers: Vec::new(),
            enable_token_revocation: true,
            enable_propagate_additional_user_context_data: false,
            auth_session_validity: 3,
            refresh_token_rotation: None,
        }
    }
}

/// Most entries of `CallbackURLs` and of `LogoutURLs` (Cognito's quota).
pub const MAX_OAUTH_URLS: usize = 100;

/// One redirect or sign-out URL (see `ClientConfig::validate_oauth`).
fn check_redirect_url(member: &str, url: &str) -> Result<(), UserPoolError> {
    let refuse = |why: &str| {
        Err(UserPoolError::invalid(format!(
            "{member} entry `{}` {why}",
            url.chars().take(100).collect::<String>()
        )))
    };
    if url.is_empty() || url.len() > 1024 {
        return refuse("must be 1 to 1024 characters long");
    }
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return refuse("must not contain spaces or control characters");
    }
    if url.contains('#') {
        return refuse("must not have a fragment");
    }
    let Some((scheme, rest)) = url.split_once(':') else {
        return refuse("must be an absolute URL");
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok || rest.is_empty() {
        return refuse("must be an absolute URL");
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" | "http" => {
            let Some(after) = rest.strip_prefix("//") else {
                return refuse("must be an absolute URL");
            };
            let authority = after.split(['/', '?']).next().unwrap_or("");
            let host = authority.rsplit('@').next().unwrap_or("");
            let host = match host.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or(""),
                None => host.split(':').next().unwrap_or(""),
            };
            if host.is_empty() {
                return refuse("must name a host");
            }
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if scheme.eq_ignore_ascii_case("http") && !loopback {
                return refuse("must use HTTPS (HTTP only for localhost)");
            }
            Ok(())
        }
        "javascript" | "data" | "file" | "vbscript" => refuse("must not use that scheme"),
        _ => Ok(()),
    }
}

/// Default ID and access token lifetime (1 hour).
pub const DEFAULT_TOKEN_VALIDITY: Duration = Duration::from_secs(3600);
/// Default refresh token lifetime (30 days).
pub const DEFAULT_REFRESH_TOKEN_VALIDITY: Duration = Duration::from_secs(30 * 86_400);

impl ClientConfig {
    /// Checks token validity ranges (ID/access 5 minutes..1 day, refresh 1 hour..10 years),
    /// the session validity and the flow list.
    pub fn validate(&self) -> Result<(), UserPoolError> {
        let five_min = Duration::from_secs(300);
        let day = Duration::from_secs(86_400);
        for (name, value, d) in [
            (
                "access token validity",
                self.access_token_validity,
                self.access_token_lifetime(),
            ),
            (
                "id token validity",
                self.id_token_validity,
                self.id_token_lifetime(),
            ),
        ] {
            if value.is_some() && !(five_min..=day).contains(&d) {
                return Err(UserPoolError::invalid(format!(
                    "{name} must be between 5 minutes and 1 day"
                )));
            }
        }
        if self.refresh_token_validity.is_some()
            && !(Duration::from_secs(3600)..=Duration::from_secs(3650 * 86_400))
                .contains(&self.refresh_token_lifetime())
        {
            return Err(UserPoolError::invalid(
                "refresh token validity must be between 60 minutes and 10 years",
            ));
        }
        if self
            .refresh_token_rotation
            .is_some_and(|r| r.retry_grace_period_seconds > MAX_RETRY_GRACE_PERIOD_SECONDS)
        {
            return Err(UserPoolError::invalid(format!(
                "retry grace period seconds must be between 0 and {MAX_RETRY_GRACE_PERIOD_SECONDS}"
            )));
        }
        if !(3..=15).contains(&self.auth_session_validity) {
            return Err(UserPoolError::invalid(
                "auth session validity must be between 3 and 15 minutes",
            ));
        }
        self.validate_oauth()?;
        let legacy = self.explicit_auth_flows.iter().any(|f| {
            matches!(
                f,
                ExplicitAuthFlow::AdminNoSrpAuth
                    | ExplicitAuthFlow::CustomAuthFlowOnly
                    | ExplicitAuthFlow::UserPasswordAuth
            )
        });
        let modern = self
            .explicit_auth_flows
            .iter()
            .any(|f| f.as_str().starts_with("ALLOW_"));
        if legacy && modern {
            return Err(UserPoolError::invalid(
                "explicit auth flows cannot mix legacy and ALLOW_ values",
            ));
        }
        Ok(())
    }

    /// The OAuth settings, as Cognito checks them: redirect and sign-out URLs (at most 100,
    /// each an absolute URL of at most 1024 bytes without a fragment; `https`, or `http` only
    /// to `localhost` or a loopback address, or an app's own scheme), `DefaultRedirectURI` one
    /// of the callbacks, flows that go together, and `COGNITO` as the only identity provider
    /// (federation is not served yet). Scopes are checked against the pool's resource servers
    /// by the service (`clients`).
    fn validate_oauth(&self) -> Result<(), UserPoolError> {
        for (member, urls) in [
            ("CallbackURLs", &self.callback_urls),
            ("LogoutURLs", &self.logout_urls),
        ] {
            if urls.len() > MAX_OAUTH_URLS {
                return Err(UserPoolError::invalid(format!(
                    "{member} has more than {MAX_OAUTH_URLS} entries"
                )));
            }
            for url in urls {
                check_redirect_url(member, url)?;
            }
        }
        if let Some(default) = &self.default_redirect_uri
            && !self.callback_urls.contains(default)
        {
            return Err(UserPoolError::invalid(
                "DefaultRedirectURI must be one of the CallbackURLs",
            ));
        }
        let user_flows = self
            .allowed_oauth_flows
            .iter()
            .any(|f| matches!(f, OAuthFlow::Code | OAuthFlow::Implicit));
        if user_flows
            && self
                .allowed_oauth_flows
                .contains(&OAuthFlow::ClientCredentials)
        {
            return Err(UserPoolError::InvalidOAuthFlow(
                "client_credentials flow can not be selected along with code flow or implicit flow"
                    .into(),
            ));
        }
        if self.allowed_oauth_flows_user_pool_client {
            if self.allowed_oauth_flows.is_empty() || self.allowed_oauth_scopes.is_empty() {
                return Err(UserPoolError::InvalidOAuthFlow(
                    "AllowedOAuthFlows and AllowedOAuthScopes are required when the client may use OAuth flows"
                        .into(),
                ));
            }
            if user_flows && self.callback_urls.is_empty() {
                return Err(UserPoolError::invalid(
                    "CallbackURLs can not be empty when code or implicit flow is allowed",
                ));
            }
        }
        // Whether each named provider exists is the pool's to say (`UserPools`' client
        // checks); here only the shape.
        if self.supported_identity_providers.len() > 50
            || self
                .supported_identity_providers
                .iter()
                .any(|p| p.is_empty() || p.chars().count() > 32)
        {
            return Err(UserPoolError::invalid(
                "SupportedIdentityProviders lists at most 50 names of 1 to 32 characters",
            ));
        }
        Ok(())
    }

    fn units(&self) -> TokenValidityUnits {
        self.token_validity_units.unwrap_or_default()
    }

    /// How long access tokens live.
    pub fn access_token_lifetime(&self) -> Duration {
        self.access_token_validity
            .map_or(DEFAULT_TOKEN_VALIDITY, |v| {
                Duration::from_secs(u64::from(v) * self.units().access_token.seconds())
            })
    }

    /// How long ID tokens live.
    pub fn id_token_lifetime(&self) -> Duration {
        self.id_token_validity.map_or(DEFAULT_TOKEN_VALIDITY, |v| {
            Duration::from_secs(u64::from(v) * self.units().id_token.seconds())
        })
    }

    /// How long refresh tokens live.
    pub fn refresh_token_lifetime(&self) -> Duration {
        self.refresh_token_validity
            .map_or(DEFAULT_REFRESH_TOKEN_VALIDITY, |v| {
                Duration::from_secs(u64::from(v) * self.units().refresh_token.seconds())
            })
    }

    /// Whether the client allows `flow` (an `ALLOW_*` value), honouring legacy names and the
    /// default set (SRP, refresh, custom) when none were given.
    pub fn allows(&self, flow: ExplicitAuthFlow) -> bool {
        use ExplicitAuthFlow as F;
        if self.explicit_auth_flows.is_empty() {
            return matches!(
                flow,
                F::AllowUserSrpAuth | F::AllowRefreshTokenAuth | F::AllowCustomAuth
            );
        }
        if self.explicit_auth_flows.contains(&flow) {
            return true;
        }
        // Legacy values imply their ALLOW_ twins; refresh is always allowed with legacy flows.
        let legacy_only = !self
            .explicit_auth_flows
            .iter()
            .any(|f| f.as_str().starts_with("ALLOW_"));
        match flow {
            F::AllowAdminUserPasswordAuth => self.explicit_auth_flows.contains(&F::AdminNoSrpAuth),
            F::AllowUserPasswordAuth => self.explicit_auth_flows.contains(&F::UserPasswordAuth),
            F::AllowCustomAuth => self.explicit_auth_flows.contains(&F::CustomAuthFlowOnly),
            F::AllowRefreshTokenAuth | F::AllowUserSrpAuth => legacy_only,
            _ => false,
        }
    }

    /// Whether GetTokensFromRefreshToken rotates refresh tokens.
    pub fn rotates_refresh_tokens(&self) -> bool {
        self.refresh_token_rotation.is_some_and(|r| r.enabled)
    }

    /// How long a rotated refresh token may still be used (zero when rotation is off: then
    /// a token that was rotated while it was on is spent).
    pub fn refresh_retry_grace(&self) -> Duration {
        match self.refresh_token_rotation {
            Some(r) if r.enabled => Duration::from_secs(u64::from(r.retry_grace_period_seconds)),
            _ => Duration::ZERO,
        }
    }

    /// Whether this client may read `attribute`.
    pub fn can_read(&self, attribute: &str) -> bool {
        self.read_attributes.is_empty() || self.read_attributes.iter().any(|a| a == attribute)
    }

    /// Whether this client may write `attribute` (public operations).
    pub fn can_write(&self, attribute: &str) -> bool {
        if self.write_attributes.is_empty() {
            !attribute.ends_with("_verified") && attribute != "sub"
        } else {
            self.write_attributes.iter().any(|a| a == attribute)
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::field_reassign_with_default,
    reason = "each case changes one field of the default"
)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_and_old_documents_load() {
        let mut pool = PoolConfig::default();
        pool.username_attributes = vec![UsernameAttribute::Email];
        pool.tags.insert("team".into(), "id".into());
        let json = serde_json::to_string(&pool).unwrap();
        assert!(
            json.contains(r#""username_attributes":["email"]"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<PoolConfig>(&json).unwrap(), pool);
        // A document missing every field is the default.
        assert_eq!(
            serde_json::from_str::<PoolConfig>("{}").unwrap(),
            PoolConfig::default()
        );

        let client = ClientConfig {
            explicit_auth_flows: vec![ExplicitAuthFlow::AllowUserPasswordAuth],
            ..ClientConfig::default()
        };
        let json = serde_json::to_string(&client).unwrap();
        assert!(json.contains("ALLOW_USER_PASSWORD_AUTH"), "{json}");
        assert_eq!(serde_json::from_str::<ClientConfig>(&json).unwrap(), client);
    }

    #[test]
    fn pool_validation() {
        let ok = PoolConfig::default();
        assert!(ok.validate().is_ok());
        let mut bad = PoolConfig::default();
        bad.password_policy.minimum_length = 100;
        assert!(matches!(
            bad.validate(),
            Err(UserPoolError::InvalidParameter(_))
        ));
        let mut bad = PoolConfig::default();
        bad.username_attributes = vec![UsernameAttribute::Email];
        bad.alias_attributes = vec![AliasAttribute::PhoneNumber];
        assert!(bad.validate().is_err());
        let mut bad = PoolConfig::default();
        bad.verification_message.email_message = Some("no code here".into());
        assert!(bad.validate().is_err());
    }

    #[test]
    fn token_lifetimes_and_ranges() {
        let c = ClientConfig::default();
        assert_eq!(c.access_token_lifetime(), Duration::from_secs(3600));
        assert_eq!(c.refresh_token_lifetime(), Duration::from_secs(30 * 86_400));
        let c = ClientConfig {
            access_token_validity: Some(30),
            id_token_validity: Some(2),
            refresh_token_validity: Some(10),
            token_validity_units: Some(TokenValidityUnits {
                access_token: TimeUnit::Minutes,
                id_token: TimeUnit::Hours,
                refresh_token: TimeUnit::Days,
            }),
            ..ClientConfig::default()
        };
        assert!(c.validate().is_ok());
        assert_eq!(c.access_token_lifetime(), Duration::from_secs(1800));
        assert_eq!(c.id_token_lifetime(), Duration::from_secs(7200));
        assert_eq!(c.refresh_token_lifetime(), Duration::from_secs(864_000));
        let too_short = ClientConfig {
            access_token_validity: Some(4),
            token_validity_units: c.token_validity_units,
            ..ClientConfig::default()
        };
        assert!(too_short.validate().is_err());
        let too_long = ClientConfig {
            id_token_validity: Some(25),
            ..ClientConfig::default()
        };
        assert!(too_long.validate().is_err());
    }

    #[test]
    fn auth_flow_defaults_and_legacy_names() {
        use ExplicitAuthFlow as F;
        let default = ClientConfig::default();
        assert!(default.allows(F::AllowUserSrpAuth) && default.allows(F::AllowRefreshTokenAuth));
        assert!(!default.allows(F::AllowUserPasswordAuth));
        let legacy = ClientConfig {
            explicit_auth_flows: vec![F::AdminNoSrpAuth],
            ..ClientConfig::default()
        };
        assert!(legacy.allows(F::AllowAdminUserPasswordAuth));
        assert!(legacy.allows(F::AllowRefreshTokenAuth));
        assert!(!legacy.allows(F::AllowUserPasswordAuth));
        let modern = ClientConfig {
            explicit_auth_flows: vec![F::AllowUserPasswordAuth],
            ..ClientConfig::default()
        };
        assert!(!modern.allows(F::AllowRefreshTokenAuth));
        let mixed = ClientConfig {
            explicit_auth_flows: vec![F::AdminNoSrpAuth, F::AllowUserPasswordAuth],
            ..ClientConfig::default()
        };
        assert!(mixed.validate().is_err());
    }

    #[test]
    fn oauth_settings_as_cognito_checks_them() {
        let ok = |c: &ClientConfig| c.validate().is_ok();
        let web = ClientConfig {
            callback_urls: vec!["https://app.example.com/cb".into()],
            allowed_oauth_flows: vec![OAuthFlow::Code],
            allowed_oauth_scopes: vec!["openid".into()],
            allowed_oauth_flows_user_pool_client: true,
            supported_identity_providers: vec!["COGNITO".into()],
            ..ClientConfig::default()
        };
        assert!(ok(&web));
        let cases: Vec<(&str, ClientConfig, bool)> = vec![
            (
                "http to localhost",
                ClientConfig {
                    callback_urls: vec!["http://localhost:3000/cb".into()],
                    ..web.clone()
                },
                true,
            ),
            (
                "http to a loopback address",
                ClientConfig {
                    callback_urls: vec!["http://127.0.0.1:3000/cb".into()],
                    ..web.clone()
                },
                true,
            ),
            (
                "an app's own scheme",
                ClientConfig {
                    callback_urls: vec!["myapp://signed-in".into()],
                    ..web.clone()
                },
                true,
            ),
            (
                "http elsewhere",
                ClientConfig {
                    callback_urls: vec!["http://app.example.com/cb".into()],
                    ..web.clone()
                },
                false,
            ),
            (
                "a fragment",
                ClientConfig {
                    callback_urls: vec!["https://app.example.com/cb#x".into()],
                    ..web.clone()
                },
                false,
            ),
            (
                "relative",
                ClientConfig {
                    callback_urls: vec!["/cb".into()],
                    ..web.clone()
                },
                false,
            ),
            (
                "javascript",
                ClientConfig {
                    callback_urls: vec!["javascript:alert(1)".into()],
                    ..web.clone()
                },
                false,
            ),
            (
                "a space",
                ClientConfig {
                    logout_urls: vec!["https://a.example/x y".into()],
                    ..web.clone()
                },
                false,
            ),
            (
                "default not a callback",
                ClientConfig {
                    default_redirect_uri: Some("https://other.example/".into()),
                    ..web.clone()
                },
                false,
            ),
            (
                "no callback for the code flow",
                ClientConfig {
                    callback_urls: vec![],
                    ..web.clone()
                },
                false,
            ),
            (
                "no scopes",
                ClientConfig {
                    allowed_oauth_scopes: vec![],
                    ..web.clone()
                },
                false,
            ),
            (
                "client credentials with code",
                ClientConfig {
                    allowed_oauth_flows: vec![OAuthFlow::Code, OAuthFlow::ClientCredentials],
                    ..web.clone()
                },
                false,
            ),
            (
                "an identity provider with an empty name",
                ClientConfig {
                    supported_identity_providers: vec![String::new()],
                    ..web.clone()
                },
                false,
            ),
            (
                "OAuth settings stored while OAuth is off",
                ClientConfig {
                    allowed_oauth_flows_user_pool_client: false,
                    allowed_oauth_scopes: vec![],
                    ..web.clone()
                },
                true,
            ),
        ];
        for (name, config, valid) in cases {
            assert_eq!(ok(&config), valid, "{name}");
        }
    }

    #[test]
    fn read_and_write_attribute_defaults() {
        let c = ClientConfig::default();
        assert!(c.can_read("email_verified") && c.can_read("custom:tier"));
        assert!(c.can_write("email") && !c.can_write("email_verified") && !c.can_write("sub"));
        let c = ClientConfig {
            read_attributes: vec!["email".into()],
            write_attributes: vec!["email_verified".into()],
            ..ClientConfig::default()
        };
        assert!(c.can_read("email") && !c.can_read("name"));
        assert!(c.can_write("email_verified") && !c.can_write("email"));
    }
}
