//! Wire types and handlers of the group operations.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::users::{UserType, user_type};
use super::wire::{Empty, epoch};
use crate::http::HttpState;
use crate::user_pools::{Group, GroupUpdate, UserPoolError};

/// `GroupType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GroupType {
    group_name: String,
    user_pool_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    precedence: Option<i64>,
    last_modified_date: f64,
    creation_date: f64,
}

fn group_type(g: Group) -> GroupType {
    GroupType {
        last_modified_date: epoch(g.updated_at),
        creation_date: epoch(g.created_at),
        group_name: g.name,
        user_pool_id: g.pool_id,
        description: g.description,
        role_arn: g.role_arn,
        precedence: g.precedence,
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GroupResponse {
    group: GroupType,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GroupRequest {
    user_pool_id: String,
    group_name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    precedence: Option<i64>,
    #[serde(default)]
    role_arn: Option<String>,
}

pub(super) async fn create_group(
    s: Arc<HttpState>,
    r: GroupRequest,
) -> Result<GroupResponse, UserPoolError> {
    let g = s
        .user_pools
        .create_group(
            &r.user_pool_id,
            &r.group_name,
            r.description,
            r.precedence,
            r.role_arn,
        )
        .await?;
    Ok(GroupResponse {
        group: group_type(g),
    })
}

pub(super) async fn update_group(
    s: Arc<HttpState>,
    r: GroupRequest,
) -> Result<GroupResponse, UserPoolError> {
    let update = GroupUpdate {
        description: r.description,
        precedence: r.precedence,
        role_arn: r.role_arn,
    };
    let g = s
        .user_pools
        .update_group(&r.user_pool_id, &r.group_name, update)
        .await?;
    Ok(GroupResponse {
        group: group_type(g),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GroupNameRequest {
    user_pool_id: String,
    group_name: String,
}

pub(super) async fn get_group(
    s: Arc<HttpState>,
    r: GroupNameRequest,
) -> Result<GroupResponse, UserPoolError> {
    let g = s
        .user_pools
        .get_group(&r.user_pool_id, &r.group_name)
        .await?;
    Ok(GroupResponse {
        group: group_type(g),
    })
}

pub(super) async fn delete_group(
    s: Arc<HttpState>,
    r: GroupNameRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .delete_group(&r.user_pool_id, &r.group_name)
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListGroupsRequest {
    user_pool_id: String,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListGroupsResponse {
    groups: Vec<GroupType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(super) async fn list_groups(
    s: Arc<HttpState>,
    r: ListGroupsRequest,
) -> Result<ListGroupsResponse, UserPoolError> {
    let page = s
        .user_pools
        .list_groups(&r.user_pool_id, r.limit, r.next_token.as_deref())
        .await?;
    Ok(ListGroupsResponse {
        groups: page.items.into_iter().map(group_type).collect(),
        next_token: page.next,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MembershipRequest {
    user_pool_id: String,
    username: String,
    group_name: String,
}

pub(super) async fn admin_add_user_to_group(
    s: Arc<HttpState>,
    r: MembershipRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_add_user_to_group(&r.user_pool_id, &r.username, &r.group_name)
        .await?;
    Ok(Empty {})
}

pub(super) async fn admin_remove_user_from_group(
    s: Arc<HttpState>,
    r: MembershipRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_remove_user_from_group(&r.user_pool_id, &r.username, &r.group_name)
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminListGroupsForUserRequest {
    user_pool_id: String,
    username: String,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    next_token: Option<String>,
}

pub(super) async fn admin_list_groups_for_user(
    s: Arc<HttpState>,
    r: AdminListGroupsForUserRequest,
) -> Result<ListGroupsResponse, UserPoolError> {
    let page = s
        .user_pools
        .admin_list_groups_for_user(
            &r.user_pool_id,
            &r.username,
            r.limit,
            r.next_token.as_deref(),
        )
        .await?;
    Ok(ListGroupsResponse {
        groups: page.items.into_iter().map(group_type).collect(),
        next_token: page.next,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListUsersInGroupRequest {
    user_pool_id: String,
    group_name: String,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListUsersInGroupResponse {
    users: Vec<UserType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(super) async fn list_users_in_group(
    s: Arc<HttpState>,
    r: ListUsersInGroupRequest,
) -> Result<ListUsersInGroupResponse, UserPoolError> {
    let page = s
        .user_pools
        .list_users_in_group(
            &r.user_pool_id,
            &r.group_name,
            r.limit,
            r.next_token.as_deref(),
        )
        .await?;
    Ok(ListUsersInGroupResponse {
        users: page.items.iter().map(user_type).collect(),
        next_token: page.next,
    })
}
