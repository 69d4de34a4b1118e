//! The Cognito Identity JSON protocol (`x-amz-json-1.1`, `X-Amz-Target:
//! AWSCognitoIdentityService.<Op>`) on `POST /`, beside the user pools' protocol.
//!
//! Operator operations (pools, roles, identities, tags, developer identities, principal-tag
//! attribute maps) must be SigV4-signed by the operator
//! for service `cognito-identity` ([`crate::http::operator`], with `x-amz-target` signed);
//! the region signed for is where CreateIdentityPool makes the pool. GetId,
//! GetCredentialsForIdentity, GetOpenIdToken and UnlinkIdentity are public (a browser calls them with a user-pool ID token, or
//! as a guest), limited per client address like the user pools' unauthenticated operations.
//! Errors have Cognito Identity's `__type` names, mapped in one place
//! ([`from_identity_pool_error`]).

mod wire;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::wire::*;
use super::cognito::error::WireError;
use super::cognito::parse_body;
use super::operator::Protocol;
use super::{FederationState, HttpState};
use crate::identity_pools::IdentityPoolError;

/// The `X-Amz-Target` prefix of this service.
pub const TARGET_PREFIX: &str = "AWSCognitoIdentityService.";
/// The SigV4 service name of operator operations.
pub const SIGNING_SERVICE: &str = "cognito-identity";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Public,
    Operator,
}

/// What a handler gets.
struct Call {
    federation: Arc<FederationState>,
    /// The region an operator request was signed for.
    region: Option<String>,
}

macro_rules! operations {
    ($($name:ident => $access:ident, $handler:path;)*) => {
        fn access(operation: &str) -> Option<Access> {
            match operation {
                $(stringify!($name) => Some(Access::$access),)*
                _ => None,
            }
        }

        async fn run(operation: &str, call: Call, body: &[u8]) -> Result<Response, WireError> {
            match operation {
                $(stringify!($name) => dispatch(call, body, $handler).await,)*
                _ => Err(unknown_operation(operation)),
            }
        }
    };
}

operations! {
    CreateIdentityPool => Operator, create_identity_pool;
    DescribeIdentityPool => Operator, describe_identity_pool;
    ListIdentityPools => Operator, list_identity_pools;
    UpdateIdentityPool => Operator, update_identity_pool;
    DeleteIdentityPool => Operator, delete_identity_pool;
    SetIdentityPoolRoles => Operator, set_identity_pool_roles;
    GetIdentityPoolRoles => Operator, get_identity_pool_roles;
    ListIdentities => Operator, list_identities;
    DescribeIdentity => Operator, describe_identity;
    DeleteIdentities => Operator, delete_identities;
    TagResource => Operator, tag_resource;
    UntagResource => Operator, untag_resource;
    ListTagsForResource => Operator, list_tags_for_resource;
    GetId => Public, get_id;
    GetCredentialsForIdentity => Public, get_credentials_for_identity;
    GetOpenIdToken => Public, get_open_id_token;
    UnlinkIdentity => Public, unlink_identity;
    GetOpenIdTokenForDeveloperIdentity => Operator, get_open_id_token_for_developer_identity;
    LookupDeveloperIdentity => Operator, lookup_developer_identity;
    MergeDeveloperIdentities => Operator, merge_developer_identities;
    UnlinkDeveloperIdentity => Operator, unlink_developer_identity;
    SetPrincipalTagAttributeMap => Operator, set_principal_tag_attribute_map;
    GetPrincipalTagAttributeMap => Operator, get_principal_tag_attribute_map;
}

fn unknown_operation(operation: &str) -> WireError {
    WireError::bad_request(
        "UnknownOperationException",
        format!("unknown operation `{operation}`"),
    )
}

/// `POST /` with an `AWSCognitoIdentityService.*` target.
pub(crate) async fn handle(
    state: Arc<HttpState>,
    federation: Arc<FederationState>,
    request: axum::extract::Request,
) -> Response {
    let request_id = super::request_id();
    let Some((peer, parts, body)) = super::query::read_whole(request).await else {
        return WireError::bad_request(
            "SerializationException",
            "the request body could not be read",
        )
        .into_response_with(&request_id);
    };
    match process(
        &state,
        federation,
        &parts.method,
        &parts.uri,
        &parts.headers,
        peer,
        &body,
    )
    .await
    {
        Ok(response) => super::with_request_id(response, &request_id),
        Err(e) => e.into_response_with(&request_id),
    }
}

async fn process(
    state: &HttpState,
    federation: Arc<FederationState>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    body: &[u8],
) -> Result<Response, WireError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or("");
    let Some(access) = access(operation) else {
        return Err(unknown_operation(target));
    };
    let region = match access {
        Access::Operator => Some(state.operator.check(
            SIGNING_SERVICE,
            Protocol::AwsJson,
            method,
            uri,
            headers,
            body,
        )?),
        Access::Public => {
            // Anyone may call these: limited per client address, as sign-ins are.
            let client = match peer {
                Some(ip) => state.trusted_proxies.client_ip(ip, headers),
                None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            };
            if state
                .user_pools
                .source_limits()
                .check(client, state.clock.now())
                .is_err()
            {
                return Err(from_identity_pool_error(
                    &IdentityPoolError::TooManyRequests("Too many requests".into()),
                ));
            }
            None
        }
    };
    run(operation, Call { federation, region }, body).await
}

async fn dispatch<Req, Resp, F, Fut>(
    call: Call,
    body: &[u8],
    handler: F,
) -> Result<Response, WireError>
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: FnOnce(Call, Req) -> Fut,
    Fut: Future<Output = Result<Resp, IdentityPoolError>>,
{
    let request: Req = parse_body(body)?;
    let response = handler(call, request)
        .await
        .map_err(|e| from_identity_pool_error(&e))?;
    let bytes = serde_json::to_vec(&response)
        .map_err(|e| from_identity_pool_error(&IdentityPoolError::internal("response", e)))?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::cognito::CONTENT_TYPE),
        )],
        bytes,
    )
        .into_response())
}

/// The one mapping of [`IdentityPoolError`] to Cognito Identity's `__type` names.
pub fn from_identity_pool_error(e: &IdentityPoolError) -> WireError {
    use IdentityPoolError as E;
    let (error_type, message) = match e {
        E::NotAuthorized(m) => ("NotAuthorizedException", m.as_str()),
        E::ResourceNotFound(m) => ("ResourceNotFoundException", m.as_str()),
        E::InvalidParameter(m) => ("InvalidParameterException", m.as_str()),
        E::ResourceConflict(m) => ("ResourceConflictException", m.as_str()),
        E::InvalidIdentityPoolConfiguration(m) => {
            ("InvalidIdentityPoolConfigurationException", m.as_str())
        }
        E::TooManyRequests(m) => ("TooManyRequestsException", m.as_str()),
        E::LimitExceeded(m) => ("LimitExceededException", m.as_str()),
        E::DeveloperUserAlreadyRegistered(m) => {
            ("DeveloperUserAlreadyRegisteredException", m.as_str())
        }
        E::ExternalService(m) => ("ExternalServiceException", m.as_str()),
        E::Internal(_) => {
            return WireError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error_type: "InternalErrorException",
                message: "Internal server error".into(),
            };
        }
    };
    WireError::bad_request(error_type, message)
}

// === handlers ===

async fn create_identity_pool(
    call: Call,
    req: IdentityPoolWire,
) -> Result<IdentityPoolWire, IdentityPoolError> {
    let (name, config) = req.into_domain()?;
    let pool = call
        .federation
        .identity_pools
        .create_identity_pool(call.region.as_deref(), &name, config)
        .await?;
    Ok(IdentityPoolWire::from_domain(pool))
}

async fn describe_identity_pool(
    call: Call,
    req: PoolId,
) -> Result<IdentityPoolWire, IdentityPoolError> {
    let pool = call
        .federation
        .identity_pools
        .describe_identity_pool(&req.identity_pool_id)
        .await?;
    Ok(IdentityPoolWire::from_domain(pool))
}

async fn list_identity_pools(
    call: Call,
    req: ListPools,
) -> Result<ListPoolsResponse, IdentityPoolError> {
    let (pools, next) = call
        .federation
        .identity_pools
        .list_identity_pools(req.max_results, req.next_token.as_deref())
        .await?;
    Ok(ListPoolsResponse {
        identity_pools: pools
            .into_iter()
            .map(|(identity_pool_id, identity_pool_name)| PoolShort {
                identity_pool_id,
                identity_pool_name,
            })
            .collect(),
        next_token: next,
    })
}

async fn update_identity_pool(
    call: Call,
    req: IdentityPoolWire,
) -> Result<IdentityPoolWire, IdentityPoolError> {
    let id = req
        .identity_pool_id
        .clone()
        .ok_or_else(|| missing("IdentityPoolId"))?;
    let (name, config) = req.into_domain()?;
    let pool = call
        .federation
        .identity_pools
        .update_identity_pool(crate::identity_pools::IdentityPool { id, name, config })
        .await?;
    Ok(IdentityPoolWire::from_domain(pool))
}

async fn delete_identity_pool(call: Call, req: PoolId) -> Result<Empty, IdentityPoolError> {
    call.federation
        .identity_pools
        .delete_identity_pool(&req.identity_pool_id)
        .await?;
    Ok(Empty {})
}

async fn set_identity_pool_roles(call: Call, req: SetRoles) -> Result<Empty, IdentityPoolError> {
    let mappings = req
        .role_mappings
        .unwrap_or_default()
        .into_iter()
        .map(|(provider, mapping)| Ok((provider, mapping.into_domain()?)))
        .collect::<Result<BTreeMap<_, _>, IdentityPoolError>>()?;
    call.federation
        .identity_pools
        .set_identity_pool_roles(
            &req.identity_pool_id,
            req.roles.unwrap_or_default(),
            mappings,
        )
        .await?;
    Ok(Empty {})
}

async fn get_identity_pool_roles(
    call: Call,
    req: PoolId,
) -> Result<GetRolesResponse, IdentityPoolError> {
    let (roles, mappings) = call
        .federation
        .identity_pools
        .get_identity_pool_roles(&req.identity_pool_id)
        .await?;
    Ok(GetRolesResponse {
        identity_pool_id: req.identity_pool_id,
        roles,
        role_mappings: mappings
            .into_iter()
            .map(|(k, v)| (k, RoleMappingWire::from_domain(v)))
            .collect(),
    })
}

async fn list_identities(
    call: Call,
    req: ListIdentities,
) -> Result<ListIdentitiesResponse, IdentityPoolError> {
    let (identities, next) = call
        .federation
        .identity_pools
        .list_identities(
            &req.identity_pool_id,
            req.max_results,
            req.next_token.as_deref(),
            req.hide_disabled,
        )
        .await?;
    Ok(ListIdentitiesResponse {
        identity_pool_id: req.identity_pool_id,
        identities: identities
            .into_iter()
            .map(IdentityWire::from_domain)
            .collect(),
        next_token: next,
    })
}

async fn describe_identity(
    call: Call,
    req: IdentityIdReq,
) -> Result<IdentityWire, IdentityPoolError> {
    let identity = call
        .federation
        .identity_pools
        .describe_identity(&req.identity_id)
        .await?;
    Ok(IdentityWire::from_domain(identity))
}

async fn delete_identities(
    call: Call,
    req: DeleteIdentities,
) -> Result<DeleteIdentitiesResponse, IdentityPoolError> {
    let missing = call
        .federation
        .identity_pools
        .delete_identities(req.identity_ids_to_delete)
        .await?;
    Ok(DeleteIdentitiesResponse {
        unprocessed_identity_ids: missing
            .into_iter()
            .map(|identity_id| Unprocessed {
                identity_id,
                error_code: "IdentityNotFound",
            })
            .collect(),
    })
}

async fn tag_resource(call: Call, req: TagResource) -> Result<Empty, IdentityPoolError> {
    call.federation
        .identity_pools
        .tag_resource(&req.resource_arn, req.tags)
        .await?;
    Ok(Empty {})
}

async fn untag_resource(call: Call, req: UntagResource) -> Result<Empty, IdentityPoolError> {
    call.federation
        .identity_pools
        .untag_resource(&req.resource_arn, &req.tag_keys)
        .await?;
    Ok(Empty {})
}

async fn list_tags_for_resource(
    call: Call,
    req: ResourceArn,
) -> Result<TagsResponse, IdentityPoolError> {
    let tags = call
        .federation
        .identity_pools
        .list_tags_for_resource(&req.resource_arn)
        .await?;
    Ok(TagsResponse { tags })
}

async fn get_id(call: Call, req: GetId) -> Result<IdentityIdResponse, IdentityPoolError> {
    let identity_id = call
        .federation
        .identity_pools
        .get_id(&req.identity_pool_id, &req.logins.unwrap_or_default())
        .await?;
    Ok(IdentityIdResponse { identity_id })
}

async fn get_credentials_for_identity(
    call: Call,
    req: GetCredentials,
) -> Result<CredentialsResponse, IdentityPoolError> {
    let issued = call
        .federation
        .identity_pools
        .get_credentials_for_identity(
            &req.identity_id,
            &req.logins.unwrap_or_default(),
            req.custom_role_arn.as_deref(),
        )
        .await?;
    Ok(CredentialsResponse {
        identity_id: issued.identity_id,
        credentials: CredentialsWire {
            access_key_id: issued.credentials.access_key_id,
            secret_key: issued.credentials.secret_access_key,
            session_token: issued.credentials.session_token,
            expiration: epoch(issued.credentials.expiration),
        },
    })
}

async fn get_open_id_token(
    call: Call,
    req: GetOpenIdToken,
) -> Result<OpenIdTokenResponse, IdentityPoolError> {
    let issued = call
        .federation
        .identity_pools
        .get_open_id_token(&req.identity_id, &req.logins.unwrap_or_default())
        .await?;
    Ok(OpenIdTokenResponse {
        identity_id: issued.identity_id,
        token: issued.token,
    })
}

async fn unlink_identity(call: Call, req: UnlinkIdentity) -> Result<Empty, IdentityPoolError> {
    call.federation
        .identity_pools
        .unlink_identity(&req.identity_id, &req.logins, &req.logins_to_remove)
        .await?;
    Ok(Empty {})
}

async fn get_open_id_token_for_developer_identity(
    call: Call,
    req: DeveloperOpenIdToken,
) -> Result<OpenIdTokenResponse, IdentityPoolError> {
    let issued = call
        .federation
        .identity_pools
        .get_open_id_token_for_developer_identity(
            &req.identity_pool_id,
            req.identity_id.as_deref(),
            &req.logins,
            &req.principal_tags,
            req.token_duration,
        )
        .await?;
    Ok(OpenIdTokenResponse {
        identity_id: issued.identity_id,
        token: issued.token,
    })
}

async fn lookup_developer_identity(
    call: Call,
    req: LookupDeveloperIdentity,
) -> Result<LookupDeveloperIdentityResponse, IdentityPoolError> {
    let (identity_id, identifiers, next) = call
        .federation
        .identity_pools
        .lookup_developer_identity(
            &req.identity_pool_id,
            req.identity_id.as_deref(),
            req.developer_user_identifier.as_deref(),
            req.max_results,
            req.next_token.as_deref(),
        )
        .await?;
    Ok(LookupDeveloperIdentityResponse {
        identity_id,
        developer_user_identifier_list: identifiers,
        next_token: next,
    })
}

async fn merge_developer_identities(
    call: Call,
    req: MergeDeveloperIdentities,
) -> Result<IdentityIdResponse, IdentityPoolError> {
    let identity_id = call
        .federation
        .identity_pools
        .merge_developer_identities(
            &req.identity_pool_id,
            &req.developer_provider_name,
            &req.source_user_identifier,
            &req.destination_user_identifier,
        )
        .await?;
    Ok(IdentityIdResponse { identity_id })
}

async fn unlink_developer_identity(
    call: Call,
    req: UnlinkDeveloperIdentity,
) -> Result<Empty, IdentityPoolError> {
    call.federation
        .identity_pools
        .unlink_developer_identity(
            &req.identity_pool_id,
            &req.identity_id,
            &req.developer_provider_name,
            &req.developer_user_identifier,
        )
        .await?;
    Ok(Empty {})
}

async fn set_principal_tag_attribute_map(
    call: Call,
    req: SetPrincipalTagAttributeMap,
) -> Result<PrincipalTagAttributeMapResponse, IdentityPoolError> {
    let map = call
        .federation
        .identity_pools
        .set_principal_tag_attribute_map(
            &req.identity_pool_id,
            &req.identity_provider_name,
            req.use_defaults,
            req.principal_tags,
        )
        .await?;
    Ok(PrincipalTagAttributeMapResponse::from_domain(map))
}

async fn get_principal_tag_attribute_map(
    call: Call,
    req: GetPrincipalTagAttributeMap,
) -> Result<PrincipalTagAttributeMapResponse, IdentityPoolError> {
    let map = call
        .federation
        .identity_pools
        .get_principal_tag_attribute_map(&req.identity_pool_id, &req.identity_provider_name)
        .await?;
    Ok(PrincipalTagAttributeMapResponse::from_domain(map))
}

// === the OpenID issuer's documents ===

/// `/cognito-identity/.well-known/openid-configuration` and `…/jwks.json`: the issuer of
/// GetOpenIdToken's tokens.
pub(crate) fn well_known_routes(federation: Arc<FederationState>) -> axum::Router {
    use axum::routing::get;
    let configuration = {
        let federation = federation.clone();
        move || async move {
            super::json(
                StatusCode::OK,
                &federation.identity_pools.openid_configuration(),
            )
        }
    };
    let jwks = move || async move {
        match federation.identity_pools.openid_jwks().await {
            Ok(jwks) => super::json(StatusCode::OK, &jwks),
            Err(e) => from_identity_pool_error(&e).into_response_with(&super::request_id()),
        }
    };
    let base = format!("/{}", crate::identity_pools::OPENID_ISSUER_PATH);
    axum::Router::new()
        .route(
            &format!("{base}/.well-known/openid-configuration"),
            get(configuration),
        )
        .route(&format!("{base}/.well-known/jwks.json"), get(jwks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_pool_error_mapping_table() {
        use IdentityPoolError as E;
        let m = || "msg".to_owned();
        let cases: Vec<(E, &str, u16)> = vec![
            (E::NotAuthorized(m()), "NotAuthorizedException", 400),
            (E::ResourceNotFound(m()), "ResourceNotFoundException", 400),
            (E::InvalidParameter(m()), "InvalidParameterException", 400),
            (E::ResourceConflict(m()), "ResourceConflictException", 400),
            (
                E::InvalidIdentityPoolConfiguration(m()),
                "InvalidIdentityPoolConfigurationException",
                400,
            ),
            (E::TooManyRequests(m()), "TooManyRequestsException", 400),
            (E::LimitExceeded(m()), "LimitExceededException", 400),
            (
                E::DeveloperUserAlreadyRegistered(m()),
                "DeveloperUserAlreadyRegisteredException",
                400,
            ),
            (E::ExternalService(m()), "ExternalServiceException", 400),
            (
                E::Internal("secret cause".into()),
                "InternalErrorException",
                500,
            ),
        ];
        for (e, ty, status) in cases {
            let w = from_identity_pool_error(&e);
            assert_eq!((w.error_type, w.status.as_u16()), (ty, status), "{e:?}");
            assert!(!w.message.contains("secret"));
        }
    }
}
