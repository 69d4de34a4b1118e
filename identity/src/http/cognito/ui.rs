//! Wire types and handlers of the hosted pages' branding: SetUICustomization and
//! GetUICustomization (`ImageFile` is a blob: base64 in the JSON).

use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::wire::epoch;
use crate::http::HttpState;
use crate::user_pools::{UiCustomization, UserPoolError};

/// `UICustomizationType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UiCustomizationType {
    user_pool_id: String,
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    #[serde(rename = "CSS", skip_serializing_if = "Option::is_none")]
    css: Option<String>,
    #[serde(rename = "CSSVersion", skip_serializing_if = "Option::is_none")]
    css_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    creation_date: Option<f64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UiCustomizationResponse {
    #[serde(rename = "UICustomization")]
    ui_customization: UiCustomizationType,
}

fn response(c: UiCustomization) -> UiCustomizationResponse {
    UiCustomizationResponse {
        ui_customization: UiCustomizationType {
            user_pool_id: c.pool_id,
            client_id: c.client_id,
            image_url: c.image_url,
            css: c.css,
            css_version: c.css_version,
            last_modified_date: c.modified.map(epoch),
            creation_date: c.created.map(epoch),
        },
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SetUiCustomizationRequest {
    user_pool_id: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default, rename = "CSS")]
    css: Option<String>,
    #[serde(default)]
    image_file: Option<String>,
}

pub(super) async fn set_ui_customization(
    s: Arc<HttpState>,
    r: SetUiCustomizationRequest,
) -> Result<UiCustomizationResponse, UserPoolError> {
    let image = r
        .image_file
        .as_deref()
        .map(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| UserPoolError::InvalidParameter("ImageFile is not base64".to_owned()))
        })
        .transpose()?;
    let c = s
        .user_pools
        .set_ui_customization(
            &r.user_pool_id,
            r.client_id.as_deref(),
            r.css.as_deref(),
            image.as_deref(),
        )
        .await?;
    Ok(response(c))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetUiCustomizationRequest {
    user_pool_id: String,
    #[serde(default)]
    client_id: Option<String>,
}

pub(super) async fn get_ui_customization(
    s: Arc<HttpState>,
    r: GetUiCustomizationRequest,
) -> Result<UiCustomizationResponse, UserPoolError> {
    let c = s
        .user_pools
        .get_ui_customization(&r.user_pool_id, r.client_id.as_deref())
        .await?;
    Ok(response(c))
}
