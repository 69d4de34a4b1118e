//! IAM's query-protocol operations (operator credentials only). Policy documents are
//! answered URL-encoded, as IAM does (botocore decodes them back into dictionaries).

use std::time::SystemTime;

use axum::http::StatusCode;
use gatehouse_policy::calendar::format_rfc3339;

use super::xml::Xml;
use super::{Call, QueryError, Reply, invalid_action};
use crate::iam::{IamError, ManagedPolicy, NewRole, PolicyVersion, Role, SimulationRequest, Tag};
use crate::sts::Principal;
use crate::time::unix_seconds;

const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The one mapping of [`IamError`] to IAM's error codes and statuses.
pub(super) fn from_iam_error(e: &IamError) -> QueryError {
    let (status, code, message) = match e {
        IamError::NoSuchEntity(m) => (StatusCode::NOT_FOUND, "NoSuchEntity", m.as_str()),
        IamError::EntityAlreadyExists(m) => {
            (StatusCode::CONFLICT, "EntityAlreadyExists", m.as_str())
        }
        IamError::MalformedPolicyDocument(m) => (
            StatusCode::BAD_REQUEST,
            "MalformedPolicyDocument",
            m.as_str(),
        ),
        IamError::InvalidInput(m) => (StatusCode::BAD_REQUEST, "InvalidInput", m.as_str()),
        IamError::Validation(m) => (StatusCode::BAD_REQUEST, "ValidationError", m.as_str()),
        IamError::LimitExceeded(m) => (StatusCode::CONFLICT, "LimitExceeded", m.as_str()),
        IamError::DeleteConflict(m) => (StatusCode::CONFLICT, "DeleteConflict", m.as_str()),
        IamError::Throttling(m) => (StatusCode::BAD_REQUEST, "Throttling", m.as_str()),
        IamError::Internal(_) => {
            return QueryError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: "Receiver",
                code: "ServiceFailure",
                message: "Internal server error".into(),
            };
        }
    };
    QueryError::sender(status, code, message)
}

/// Percent-encodes a policy document as IAM answers it (spaces as `%20`: botocore decodes
/// with `unquote`, which leaves `+` alone).
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn date(t: SystemTime) -> String {
    format_rfc3339(unix_seconds(t))
}

fn write_tags(xml: &mut Xml, tags: &[Tag]) {
    xml.members("Tags", tags, |xml, tag| {
        xml.leaf("Key", &tag.key);
        xml.leaf("Value", &tag.value);
    });
}

/// `IsTruncated`, and the `Marker` of the next page when there is one.
fn write_marker(xml: &mut Xml, marker: Option<&str>) {
    match marker {
        Some(marker) => {
            xml.leaf("IsTruncated", "true");
            xml.leaf("Marker", marker);
        }
        None => xml.leaf("IsTruncated", "false"),
    }
}

fn write_role(xml: &mut Xml, tag: &str, role: &Role) {
    xml.open(tag, None);
    xml.leaf("Path", &role.path);
    xml.leaf("RoleName", &role.name);
    xml.leaf("RoleId", &role.role_id);
    xml.leaf("Arn", &role.arn);
    xml.leaf("CreateDate", &date(role.created_at));
    xml.leaf("AssumeRolePolicyDocument", &url_encode(&role.trust_policy));
    xml.opt("Description", role.description.as_deref());
    xml.leaf("MaxSessionDuration", &role.max_session_duration.to_string());
    if let Some(arn) = &role.permissions_boundary {
        xml.open("PermissionsBoundary", None);
        xml.leaf("PermissionsBoundaryType", "Policy");
        xml.leaf("PermissionsBoundaryArn", arn);
        xml.close("PermissionsBoundary");
    }
    if !role.tags.is_empty() {
        write_tags(xml, &role.tags);
    }
    xml.close(tag);
}

fn write_policy(xml: &mut Xml, tag: &str, policy: &ManagedPolicy) {
    xml.open(tag, None);
    xml.leaf("PolicyName", &policy.name);
    xml.leaf("PolicyId", &policy.policy_id);
    xml.leaf("Arn", &policy.arn);
    xml.leaf("Path", &policy.path);
    xml.leaf("DefaultVersionId", &policy.default_version);
    xml.leaf("AttachmentCount", &policy.attachment_count.to_string());
    xml.leaf("PermissionsBoundaryUsageCount", "0");
    xml.leaf("IsAttachable", "true");
    xml.opt("Description", policy.description.as_deref());
    xml.leaf("CreateDate", &date(policy.created_at));
    xml.leaf("UpdateDate", &date(policy.updated_at));
    if !policy.tags.is_empty() {
        write_tags(xml, &policy.tags);
    }
    xml.close(tag);
}

fn write_version(xml: &mut Xml, tag: &str, version: &PolicyVersion, with_document: bool) {
    xml.open(tag, None);
    if with_document {
        xml.leaf("Document", &url_encode(&version.document));
    }
    xml.leaf("VersionId", &version.version_id);
    xml.leaf(
        "IsDefaultVersion",
        if version.is_default { "true" } else { "false" },
    );
    xml.leaf("CreateDate", &date(version.created_at));
    xml.close(tag);
}

/// Runs an IAM action for the operator.
pub(super) async fn run(call: Call<'_>) -> Result<String, QueryError> {
    match &call.caller {
        Some(auth) if matches!(auth.principal, Principal::Operator { .. }) => {}
        Some(auth) => {
            let arn = auth.principal.arn(call.federation.verifier.account_id());
            return Err(QueryError::sender(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!(
                    "User: {arn} is not authorized to perform: iam:{} (IAM takes the operator's credentials)",
                    call.action
                ),
            ));
        }
        None => {
            return Err(super::from_credential_error(
                &crate::sts::CredentialError::Signature(
                    crate::sigv4::SigV4Error::MissingAuthentication,
                ),
            ));
        }
    }
    let iam = &call.federation.iam;
    let p = &call.params;
    let action = call.action.as_str();
    let reply = Reply::new(NAMESPACE, &call);
    let done = |()| reply.empty();
    let result: Result<String, IamError> = match action {
        "CreateRole" => {
            let role = iam
                .create_role(NewRole {
                    name: p.required("RoleName")?.to_owned(),
                    path: p.get("Path").map(str::to_owned),
                    trust_policy: p.required("AssumeRolePolicyDocument")?.to_owned(),
                    description: p.get("Description").map(str::to_owned),
                    max_session_duration: p.int("MaxSessionDuration")?,
                    permissions_boundary: p.get("PermissionsBoundary").map(str::to_owned),
                    tags: p.tags("Tags"),
                })
                .await;
            role.map(|role| reply.with(|x| write_role(x, "Role", &role)))
        }
        "GetRole" => iam
            .get_role(p.required("RoleName")?)
            .await
            .map(|role| reply.with(|x| write_role(x, "Role", &role))),
        "ListRoles" => iam
            .list_roles(
                p.get("PathPrefix").unwrap_or("/"),
                p.int("MaxItems")?,
                p.get("Marker"),
            )
            .await
            .map(|roles| {
                reply.with(|x| {
                    x.open("Roles", None);
                    for role in &roles.items {
                        write_role(x, "member", role);
                    }
                    x.close("Roles");
                    write_marker(x, roles.marker.as_deref());
                })
            }),
        "UpdateAssumeRolePolicy" => iam
            .update_assume_role_policy(
                p.required("RoleName")?,
                p.required("PolicyDocument")?.to_owned(),
            )
            .await
            .map(done),
        "DeleteRole" => iam.delete_role(p.required("RoleName")?).await.map(done),
        "PutRolePolicy" => iam
            .put_role_policy(
                p.required("RoleName")?,
                p.required("PolicyName")?,
                p.required("PolicyDocument")?,
            )
            .await
            .map(done),
        "GetRolePolicy" => {
            let (role, name) = (p.required("RoleName")?, p.required("PolicyName")?);
            iam.get_role_policy(role, name).await.map(|document| {
                reply.with(|x| {
                    x.leaf("RoleName", role);
                    x.leaf("PolicyName", name);
                    x.leaf("PolicyDocument", &url_encode(&document));
                })
            })
        }
        "ListRolePolicies" => iam
            .list_role_policies(p.required("RoleName")?)
            .await
            .map(|names| {
                reply.with(|x| {
                    x.members("PolicyNames", &names, |x, n| x.text(n));
                    x.leaf("IsTruncated", "false");
                })
            }),
        "DeleteRolePolicy" => iam
            .delete_role_policy(p.required("RoleName")?, p.required("PolicyName")?)
            .await
            .map(done),
        "AttachRolePolicy" => iam
            .attach_role_policy(p.required("RoleName")?, p.required("PolicyArn")?)
            .await
            .map(done),
        "DetachRolePolicy" => iam
            .detach_role_policy(p.required("RoleName")?, p.required("PolicyArn")?)
            .await
            .map(done),
        "ListAttachedRolePolicies" => iam
            .list_attached_role_policies(p.required("RoleName")?)
            .await
            .map(|attached| {
                reply.with(|x| {
                    x.members("AttachedPolicies", &attached, |x, (name, arn)| {
                        x.leaf("PolicyName", name);
                        x.leaf("PolicyArn", arn);
                    });
                    x.leaf("IsTruncated", "false");
                })
            }),
        "PutRolePermissionsBoundary" => iam
            .put_role_permissions_boundary(
                p.required("RoleName")?,
                p.required("PermissionsBoundary")?.to_owned(),
            )
            .await
            .map(done),
        "DeleteRolePermissionsBoundary" => iam
            .delete_role_permissions_boundary(p.required("RoleName")?)
            .await
            .map(done),
        "TagRole" => iam
            .tag_role(p.required("RoleName")?, p.tags("Tags"))
            .await
            .map(done),
        "UntagRole" => iam
            .untag_role(p.required("RoleName")?, &p.list("TagKeys", ""))
            .await
            .map(done),
        "ListRoleTags" => iam
            .list_role_tags(p.required("RoleName")?)
            .await
            .map(|tags| {
                reply.with(|x| {
                    write_tags(x, &tags);
                    x.leaf("IsTruncated", "false");
                })
            }),
        "CreatePolicy" => iam
            .create_policy(
                p.required("PolicyName")?,
                p.get("Path").map(str::to_owned),
                p.required("PolicyDocument")?,
                p.get("Description").map(str::to_owned),
                p.tags("Tags"),
            )
            .await
            .map(|policy| reply.with(|x| write_policy(x, "Policy", &policy))),
        "GetPolicy" => iam
            .get_policy(p.required("PolicyArn")?)
            .await
            .map(|policy| reply.with(|x| write_policy(x, "Policy", &policy))),
        "ListPolicies" => {
            // This account's policies are the only ones there are (`Scope=AWS` lists none).
            let aws_only = p.get("Scope") == Some("AWS");
            iam.list_policies(
                p.get("PathPrefix").unwrap_or("/"),
                p.flag("OnlyAttached"),
                p.int("MaxItems")?,
                p.get("Marker"),
            )
            .await
            .map(|mut policies| {
                if aws_only {
                    policies.items.clear();
                    policies.marker = None;
                }
                reply.with(|x| {
                    x.open("Policies", None);
                    for policy in &policies.items {
                        write_policy(x, "member", policy);
                    }
                    x.close("Policies");
                    write_marker(x, policies.marker.as_deref());
                })
            })
        }
        "CreatePolicyVersion" => iam
            .create_policy_version(
                p.required("PolicyArn")?,
                p.required("PolicyDocument")?,
                p.flag("SetAsDefault"),
            )
            .await
            .map(|v| reply.with(|x| write_version(x, "PolicyVersion", &v, false))),
        "GetPolicyVersion" => iam
            .get_policy_version(p.required("PolicyArn")?, p.required("VersionId")?)
            .await
            .map(|v| reply.with(|x| write_version(x, "PolicyVersion", &v, true))),
        "ListPolicyVersions" => iam
            .list_policy_versions(p.required("PolicyArn")?)
            .await
            .map(|versions| {
                reply.with(|x| {
                    x.open("Versions", None);
                    for v in &versions {
                        write_version(x, "member", v, false);
                    }
                    x.close("Versions");
                    x.leaf("IsTruncated", "false");
                })
            }),
        "DeletePolicy" => iam.delete_policy(p.required("PolicyArn")?).await.map(done),
        "CreateOpenIDConnectProvider" => iam
            .create_oidc_provider(
                p.required("Url")?,
                p.list("ClientIDList", ""),
                p.list("ThumbprintList", ""),
                p.tags("Tags"),
            )
            .await
            .map(|provider| {
                reply.with(|x| {
                    x.leaf("OpenIDConnectProviderArn", &provider.arn);
                    if !provider.tags.is_empty() {
                        write_tags(x, &provider.tags);
                    }
                })
            }),
        "GetOpenIDConnectProvider" => iam
            .get_oidc_provider(p.required("OpenIDConnectProviderArn")?)
            .await
            .map(|provider| {
                reply.with(|x| {
                    x.leaf("Url", &provider.url);
                    x.members("ClientIDList", &provider.client_ids, |x, c| x.text(c));
                    x.members("ThumbprintList", &provider.thumbprints, |x, t| x.text(t));
                    x.leaf("CreateDate", &date(provider.created_at));
                    write_tags(x, &provider.tags);
                })
            }),
        "ListOpenIDConnectProviders" => iam.list_oidc_providers().await.map(|providers| {
            reply.with(|x| {
                x.members("OpenIDConnectProviderList", &providers, |x, provider| {
                    x.leaf("Arn", &provider.arn);
                });
            })
        }),
        "DeleteOpenIDConnectProvider" => iam
            .delete_oidc_provider(p.required("OpenIDConnectProviderArn")?)
            .await
            .map(done),
        "SimulateCustomPolicy" | "SimulatePrincipalPolicy" => {
            let request = SimulationRequest {
                policy_source_arn: if action == "SimulatePrincipalPolicy" {
                    Some(p.required("PolicySourceArn")?.to_owned())
                } else {
                    None
                },
                policy_inputs: p.list("PolicyInputList", ""),
                boundary_inputs: p.list("PermissionsBoundaryPolicyInputList", ""),
                resource_policy: p.get("ResourcePolicy").map(str::to_owned),
                caller_arn: p.get("CallerArn").map(str::to_owned),
                actions: p.list("ActionNames", ""),
                resources: p.list("ResourceArns", ""),
                context: (1..=super::MAX_PARAMETERS)
                    .map_while(|i| {
                        let key = p.get(&format!("ContextEntries.member.{i}.ContextKeyName"))?;
                        let values =
                            p.list(&format!("ContextEntries.member.{i}.ContextKeyValues"), "");
                        Some((key.to_owned(), values))
                    })
                    .collect(),
            };
            if action == "SimulateCustomPolicy" && request.policy_inputs.is_empty() {
                return Err(QueryError::sender(
                    StatusCode::BAD_REQUEST,
                    "ValidationError",
                    "1 validation error detected: Value null at 'policyInputList' failed to satisfy constraint: Member must not be null",
                ));
            }
            iam.simulate(request).await.map(|results| {
                reply.with(|x| {
                    x.members("EvaluationResults", &results, |x, r| {
                        x.leaf("EvalActionName", &r.action);
                        x.leaf("EvalResourceName", &r.resource);
                        x.leaf("EvalDecision", r.decision);
                        x.members("MatchedStatements", &r.matched, |x, (source, index, _)| {
                            x.leaf("SourcePolicyId", source);
                            x.leaf("SourcePolicyType", "IAM Policy");
                            x.open("StartPosition", None);
                            x.leaf("Line", &index.to_string());
                            x.leaf("Column", "0");
                            x.close("StartPosition");
                        });
                        x.members("MissingContextValues", &Vec::<String>::new(), |x, v| {
                            x.text(v)
                        });
                    });
                    x.leaf("IsTruncated", "false");
                })
            })
        }
        other => return Err(invalid_action(other)),
    };
    result.map_err(|e| from_iam_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_error_mapping_table() {
        let m = || "msg".to_owned();
        let cases: Vec<(IamError, &str, u16)> = vec![
            (IamError::NoSuchEntity(m()), "NoSuchEntity", 404),
            (
                IamError::EntityAlreadyExists(m()),
                "EntityAlreadyExists",
                409,
            ),
            (
                IamError::MalformedPolicyDocument(m()),
                "MalformedPolicyDocument",
                400,
            ),
            (IamError::InvalidInput(m()), "InvalidInput", 400),
            (IamError::Validation(m()), "ValidationError", 400),
            (IamError::LimitExceeded(m()), "LimitExceeded", 409),
            (IamError::DeleteConflict(m()), "DeleteConflict", 409),
            (IamError::Throttling(m()), "Throttling", 400),
            (IamError::Internal("secret".into()), "ServiceFailure", 500),
        ];
        for (e, code, status) in cases {
            let q = from_iam_error(&e);
            assert_eq!((q.code, q.status.as_u16()), (code, status), "{e:?}");
            assert!(!q.message.contains("secret"));
        }
    }

    #[test]
    fn documents_are_percent_encoded_with_spaces_as_percent_20() {
        assert_eq!(
            url_encode(r#"{"a": "b+c"}"#),
            "%7B%22a%22%3A%20%22b%2Bc%22%7D"
        );
    }
}
