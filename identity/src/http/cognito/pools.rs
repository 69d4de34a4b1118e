//! Wire types and handlers of CreateUserPool, DescribeUserPool, ListUserPools,
//! UpdateUserPool, AddCustomAttributes and DeleteUserPool.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::wire::{Empty, epoch, parse_enum, parse_enums};
use crate::http::HttpState;
use crate::user_pools::config::{
    AdminCreateUserSettings, AliasAttribute, AttributeDataType, MessageTemplate, MfaConfiguration,
    PasswordPolicyConfig, SchemaAttribute, UsernameAttribute, VerifiedAttribute,
};
use crate::user_pools::schema_with;
use crate::user_pools::{PoolConfig, UserPool, UserPoolError};

/// Members kept as given in [`PoolConfig::stored_only`].
const STORED_ONLY: &[&str] = &[
    "LambdaConfig",
    "EmailConfiguration",
    "SmsConfiguration",
    "DeviceConfiguration",
    "UserPoolAddOns",
    "AccountRecoverySetting",
    "UserAttributeUpdateSettings",
    "UserPoolTier",
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PoolSettings {
    #[serde(default, deserialize_with = "super::wire::object")]
    policies: Option<Policies>,
    deletion_protection: Option<String>,
    auto_verified_attributes: Option<Vec<String>>,
    alias_attributes: Option<Vec<String>>,
    username_attributes: Option<Vec<String>>,
    sms_verification_message: Option<String>,
    email_verification_message: Option<String>,
    email_verification_subject: Option<String>,
    #[serde(default, deserialize_with = "super::wire::object")]
    verification_message_template: Option<VerificationMessageTemplate>,
    sms_authentication_message: Option<String>,
    mfa_configuration: Option<String>,
    user_pool_tags: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "super::wire::object")]
    admin_create_user_config: Option<AdminCreateUserConfig>,
    schema: Option<Vec<SchemaAttributeType>>,
    #[serde(default, deserialize_with = "super::wire::object")]
    username_configuration: Option<UsernameConfiguration>,
    lambda_config: Option<serde_json::Value>,
    email_configuration: Option<serde_json::Value>,
    sms_configuration: Option<serde_json::Value>,
    device_configuration: Option<serde_json::Value>,
    user_pool_add_ons: Option<serde_json::Value>,
    account_recovery_setting: Option<serde_json::Value>,
    user_attribute_update_settings: Option<serde_json::Value>,
    user_pool_tier: Option<serde_json::Value>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Policies {
    #[serde(
        default,
        deserialize_with = "super::wire::object",
        skip_serializing_if = "Option::is_none"
    )]
    password_policy: Option<PasswordPolicyType>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PasswordPolicyType {
    #[serde(default)]
    minimum_length: Option<u32>,
    #[serde(default)]
    require_uppercase: Option<bool>,
    #[serde(default)]
    require_lowercase: Option<bool>,
    #[serde(default)]
    require_numbers: Option<bool>,
    #[serde(default)]
    require_symbols: Option<bool>,
    #[serde(default)]
    temporary_password_validity_days: Option<u32>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VerificationMessageTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sms_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_email_option: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AdminCreateUserConfig {
    #[serde(default)]
    allow_admin_create_user_only: Option<bool>,
    #[serde(
        default,
        deserialize_with = "super::wire::object",
        skip_serializing_if = "Option::is_none"
    )]
    invite_message_template: Option<InviteMessageTemplate>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct InviteMessageTemplate {
    #[serde(
        rename = "SMSMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    sms_message: Option<String>,
    #[serde(
        rename = "EmailMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    email_message: Option<String>,
    #[serde(
        rename = "EmailSubject",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    email_subject: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UsernameConfiguration {
    case_sensitive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SchemaAttributeType {
    name: String,
    #[serde(default)]
    attribute_data_type: Option<String>,
    #[serde(default)]
    developer_only_attribute: Option<bool>,
    #[serde(default)]
    mutable: Option<bool>,
    #[serde(default)]
    required: Option<bool>,
    #[serde(
        default,
        deserialize_with = "super::wire::object",
        skip_serializing_if = "Option::is_none"
    )]
    number_attribute_constraints: Option<NumberConstraints>,
    #[serde(
        default,
        deserialize_with = "super::wire::object",
        skip_serializing_if = "Option::is_none"
    )]
    string_attribute_constraints: Option<StringConstraints>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NumberConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_value: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StringConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_length: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_length: Option<String>,
}

/// A constraint's number; anything else is Cognito's "Invalid …Constraints for schema
/// attribute" (`constraints` names the member).
fn parse_number<T: std::str::FromStr>(
    constraints: &str,
    attribute: &str,
    v: Option<String>,
) -> Result<Option<T>, UserPoolError> {
    v.map(|s| {
        s.trim().parse().map_err(|_| {
            UserPoolError::InvalidParameter(format!(
                "Invalid {constraints} for schema attribute {attribute}"
            ))
        })
    })
    .transpose()
}

/// A `SchemaAttributeType` as the service's attribute. A standard attribute may leave out
/// its type (it has one); a custom one (`custom` set, or a name that is no standard
/// attribute) must give it.
fn schema_attribute(
    a: SchemaAttributeType,
    custom: bool,
) -> Result<SchemaAttribute, UserPoolError> {
    let standard = (!custom && !a.name.starts_with("custom:"))
        .then(crate::user_pools::config::standard_schema)
        .and_then(|schema| schema.into_iter().find(|s| s.name == a.name));
    let data_type = match (a.attribute_data_type.as_deref(), &standard) {
        (Some(t), _) => AttributeDataType::parse(t).ok_or_else(|| {
            UserPoolError::InvalidParameter(format!(
                "Validation error detected: Value '{t}' failed to satisfy constraint: Member must satisfy enum value set: [Boolean, Number, String, DateTime]"
            ))
        })?,
        (None, Some(standard)) => standard.data_type,
        (None, None) => {
            return Err(UserPoolError::InvalidParameter(
                "Invalid AttributeDataType input, consider using the provided AttributeDataType enum."
                    .into(),
            ));
        }
    };
    let (min_value, max_value) = match a.number_attribute_constraints {
        Some(c) => (
            parse_number("NumberAttributeConstraints", &a.name, c.min_value)?,
            parse_number("NumberAttributeConstraints", &a.name, c.max_value)?,
        ),
        None => (None, None),
    };
    let (min_length, max_length) = match a.string_attribute_constraints {
        Some(c) => (
            parse_number("StringAttributeConstraints", &a.name, c.min_length)?,
            parse_number("StringAttributeConstraints", &a.name, c.max_length)?,
        ),
        None => (None, None),
    };
    Ok(SchemaAttribute {
        mutable: a
            .mutable
            .unwrap_or_else(|| standard.as_ref().is_none_or(|s| s.mutable)),
        required: a
            .required
            .unwrap_or_else(|| standard.as_ref().is_some_and(|s| s.required)),
        name: a.name,
        data_type,
        developer_only: a.developer_only_attribute.unwrap_or(false),
        min_length,
        max_length,
        min_value,
        max_value,
    })
}

impl PoolSettings {
    /// The configuration these members describe; omitted members take Cognito's defaults.
    fn into_config(self) -> Result<PoolConfig, UserPoolError> {
        let mut c = PoolConfig::default();
        if let Some(p) = self.policies.and_then(|p| p.password_policy) {
            // A given policy's omitted flags are off, as in Cognito.
            c.password_policy = PasswordPolicyConfig {
                minimum_length: p.minimum_length.unwrap_or(8),
                require_uppercase: p.require_uppercase.unwrap_or(false),
                require_lowercase: p.require_lowercase.unwrap_or(false),
                require_numbers: p.require_numbers.unwrap_or(false),
                require_symbols: p.require_symbols.unwrap_or(false),
                temporary_password_validity_days: p.temporary_password_validity_days.unwrap_or(7),
                reject_common_passwords: true,
            };
        }
        if let Some(d) = self.deletion_protection {
            c.deletion_protection = match d.as_str() {
                "ACTIVE" => true,
                "INACTIVE" => false,
                other => {
                    return Err(UserPoolError::InvalidParameter(format!(
                        "value `{other}` at `DeletionProtection` failed to satisfy constraint: member must satisfy enum value set"
                    )));
                }
            };
        }
        c.auto_verified_attributes = parse_enums(
            "AutoVerifiedAttributes",
            self.auto_verified_attributes.unwrap_or_default(),
            VerifiedAttribute::parse,
        )?;
        c.alias_attributes = parse_enums(
            "AliasAttributes",
            self.alias_attributes.unwrap_or_default(),
            AliasAttribute::parse,
        )?;
        c.username_attributes = parse_enums(
            "UsernameAttributes",
            self.username_attributes.unwrap_or_default(),
            UsernameAttribute::parse,
        )?;
        let t = self.verification_message_template.unwrap_or_default();
        c.verification_message = MessageTemplate {
            email_message: t.email_message.or(self.email_verification_message),
            email_subject: t.email_subject.or(self.email_verification_subject),
            sms_message: t.sms_message.or(self.sms_verification_message),
            default_email_option: t.default_email_option,
        };
        c.sms_authentication_message = self.sms_authentication_message;
        if let Some(m) = self.mfa_configuration {
            c.mfa_configuration = parse_enum("MfaConfiguration", &m, MfaConfiguration::parse)?;
        }
        c.tags = self.user_pool_tags.unwrap_or_default();
        c.apply_setting_tags()?;
        if let Some(a) = self.admin_create_user_config {
            let invite = a.invite_message_template.unwrap_or_default();
            c.admin_create_user = AdminCreateUserSettings {
                allow_admin_create_user_only: a.allow_admin_create_user_only.unwrap_or(false),
                invite_email_message: invite.email_message,
                invite_email_subject: invite.email_subject,
                invite_sms_message: invite.sms_message,
            };
        }
        if let Some(schema) = self.schema {
            c.schema = schema_with(
                schema
                    .into_iter()
                    .map(|a| schema_attribute(a, false))
                    .collect::<Result<_, _>>()?,
            )?;
        }
        c.username_case_sensitive = self.username_configuration.map(|u| u.case_sensitive);
        for (name, value) in STORED_ONLY.iter().zip([
            self.lambda_config,
            self.email_configuration,
            self.sms_configuration,
            self.device_configuration,
            self.user_pool_add_ons,
            self.account_recovery_setting,
            self.user_attribute_update_settings,
            self.user_pool_tier,
        ]) {
            if let Some(v) = value {
                c.stored_only.insert((*name).to_owned(), v);
            }
        }
        Ok(c)
    }
}

/// `UserPoolType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserPoolType {
    id: String,
    name: String,
    arn: String,
    status: &'static str,
    creation_date: f64,
    last_modified_date: f64,
    policies: Policies,
    deletion_protection: &'static str,
    schema_attributes: Vec<SchemaAttributeType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    auto_verified_attributes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alias_attributes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    username_attributes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sms_verification_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verification_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verification_subject: Option<String>,
    verification_message_template: VerificationMessageTemplate,
    #[serde(skip_serializing_if = "Option::is_none")]
    sms_authentication_message: Option<String>,
    mfa_configuration: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_number_of_users: Option<u64>,
    user_pool_tags: BTreeMap<String, String>,
    admin_create_user_config: AdminCreateUserConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    username_configuration: Option<UsernameConfiguration>,
    #[serde(flatten)]
    stored_only: BTreeMap<String, serde_json::Value>,
}

/// An attribute as DescribeUserPool shows it: a developer-only custom attribute as
/// `dev:custom:NAME`, and only the constraints its type has and that are set.
fn schema_type(a: &SchemaAttribute) -> SchemaAttributeType {
    let name = if a.developer_only && a.name.starts_with("custom:") {
        format!("dev:{}", a.name)
    } else {
        a.name.clone()
    };
    let numbers = a.min_value.is_some() || a.max_value.is_some();
    let lengths = a.min_length.is_some() || a.max_length.is_some();
    SchemaAttributeType {
        name,
        attribute_data_type: Some(a.data_type.as_str().to_owned()),
        developer_only_attribute: Some(a.developer_only),
        mutable: Some(a.mutable),
        required: Some(a.required),
        number_attribute_constraints: (a.data_type == AttributeDataType::Number && numbers).then(
            || NumberConstraints {
                min_value: a.min_value.map(|v| v.to_string()),
                max_value: a.max_value.map(|v| v.to_string()),
            },
        ),
        string_attribute_constraints: (a.data_type == AttributeDataType::String && lengths).then(
            || StringConstraints {
                min_length: a.min_length.map(|v| v.to_string()),
                max_length: a.max_length.map(|v| v.to_string()),
            },
        ),
    }
}

pub(super) fn user_pool_type(pool: &UserPool, estimated_users: Option<u64>) -> UserPoolType {
    let c = &pool.config;
    let p = c.password_policy;
    let t = &c.verification_message;
    UserPoolType {
        id: pool.id.clone(),
        name: pool.name.clone(),
        arn: pool.arn.clone(),
        status: "Enabled",
        creation_date: epoch(pool.created_at),
        last_modified_date: epoch(pool.updated_at),
        policies: Policies {
            password_policy: Some(PasswordPolicyType {
                minimum_length: Some(p.minimum_length),
                require_uppercase: Some(p.require_uppercase),
                require_lowercase: Some(p.require_lowercase),
                require_numbers: Some(p.require_numbers),
                require_symbols: Some(p.require_symbols),
                temporary_password_validity_days: Some(p.temporary_password_validity_days),
            }),
        },
        deletion_protection: if c.deletion_protection {
            "ACTIVE"
        } else {
            "INACTIVE"
        },
        schema_attributes: c.schema.iter().map(schema_type).collect(),
        auto_verified_attributes: c
            .auto_verified_attributes
            .iter()
            .map(|a| a.as_str())
            .collect(),
        alias_attributes: c.alias_attributes.iter().map(|a| a.as_str()).collect(),
        username_attributes: c.username_attributes.iter().map(|a| a.as_str()).collect(),
        sms_verification_message: t.sms_message.clone(),
        email_verification_message: t.email_message.clone(),
        email_verification_subject: t.email_subject.clone(),
        verification_message_template: VerificationMessageTemplate {
            sms_message: t.sms_message.clone(),
            email_message: t.email_message.clone(),
            email_subject: t.email_subject.clone(),
            default_email_option: Some(
                t.default_email_option
                    .clone()
                    .unwrap_or_else(|| "CONFIRM_WITH_CODE".into()),
            ),
        },
        sms_authentication_message: c.sms_authentication_message.clone(),
        mfa_configuration: c.mfa_configuration.as_str(),
        estimated_number_of_users: estimated_users,
        user_pool_tags: c.tags.clone(),
        admin_create_user_config: AdminCreateUserConfig {
            allow_admin_create_user_only: Some(c.admin_create_user.allow_admin_create_user_only),
            invite_message_template: Some(InviteMessageTemplate {
                sms_message: c.admin_create_user.invite_sms_message.clone(),
                email_message: c.admin_create_user.invite_email_message.clone(),
                email_subject: c.admin_create_user.invite_email_subject.clone(),
            }),
        },
        username_configuration: c
            .username_case_sensitive
            .map(|case_sensitive| UsernameConfiguration { case_sensitive }),
        stored_only: c.stored_only.clone(),
    }
}

// === CreateUserPool ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateUserPoolRequest {
    pool_name: String,
    #[serde(flatten)]
    settings: PoolSettings,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserPoolResponse {
    user_pool: UserPoolType,
}

pub(super) async fn create_user_pool(
    s: Arc<HttpState>,
    r: CreateUserPoolRequest,
) -> Result<UserPoolResponse, UserPoolError> {
    let config = r.settings.into_config()?;
    let region = super::signed_region();
    let pool = s
        .user_pools
        .create_user_pool_in(region.as_deref(), &r.pool_name, config)
        .await?;
    Ok(UserPoolResponse {
        user_pool: user_pool_type(&pool, Some(0)),
    })
}

// === DescribeUserPool / DeleteUserPool ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PoolIdRequest {
    user_pool_id: String,
}

pub(super) async fn describe_user_pool(
    s: Arc<HttpState>,
    r: PoolIdRequest,
) -> Result<UserPoolResponse, UserPoolError> {
    let (pool, users) = s.user_pools.describe_user_pool(&r.user_pool_id).await?;
    Ok(UserPoolResponse {
        user_pool: user_pool_type(&pool, Some(users)),
    })
}

pub(super) async fn delete_user_pool(
    s: Arc<HttpState>,
    r: PoolIdRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools.delete_user_pool(&r.user_pool_id).await?;
    Ok(Empty {})
}

// === ListUserPools ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListUserPoolsRequest {
    max_results: u32,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserPoolDescriptionType {
    id: String,
    name: String,
    lambda_config: serde_json::Value,
    status: &'static str,
    creation_date: f64,
    last_modified_date: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListUserPoolsResponse {
    user_pools: Vec<UserPoolDescriptionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(super) async fn list_user_pools(
    s: Arc<HttpState>,
    r: ListUserPoolsRequest,
) -> Result<ListUserPoolsResponse, UserPoolError> {
    let region = super::signed_region();
    let page = s
        .user_pools
        .list_user_pools_in(region.as_deref(), r.max_results, r.next_token.as_deref())
        .await?;
    Ok(ListUserPoolsResponse {
        user_pools: page
            .items
            .into_iter()
            .map(|p| UserPoolDescriptionType {
                lambda_config: p
                    .config
                    .stored_only
                    .get("LambdaConfig")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({})),
                id: p.id,
                name: p.name,
                status: "Enabled",
                creation_date: epoch(p.created_at),
                last_modified_date: epoch(p.updated_at),
            })
            .collect(),
        next_token: page.next,
    })
}

// === AddCustomAttributes ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AddCustomAttributesRequest {
    user_pool_id: String,
    custom_attributes: Vec<SchemaAttributeType>,
}

pub(super) async fn add_custom_attributes(
    s: Arc<HttpState>,
    r: AddCustomAttributesRequest,
) -> Result<Empty, UserPoolError> {
    let attributes = r
        .custom_attributes
        .into_iter()
        .map(|a| schema_attribute(a, true))
        .collect::<Result<Vec<_>, _>>()?;
    s.user_pools
        .add_custom_attributes(&r.user_pool_id, attributes)
        .await?;
    Ok(Empty {})
}

// === UpdateUserPool ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateUserPoolRequest {
    user_pool_id: String,
    #[serde(flatten)]
    settings: PoolSettings,
}

pub(super) async fn update_user_pool(
    s: Arc<HttpState>,
    r: UpdateUserPoolRequest,
) -> Result<Empty, UserPoolError> {
    let config = r.settings.into_config()?;
    s.user_pools
        .update_user_pool(&r.user_pool_id, config)
        .await?;
    Ok(Empty {})
}
