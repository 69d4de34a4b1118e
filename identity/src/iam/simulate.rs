//! SimulateCustomPolicy and SimulatePrincipalPolicy, answered by the policy engine: every
//! action against every resource (`*` when none is named), with the context entries given,
//! and the statements that decided each answer.

use std::sync::Arc;

use gatehouse_policy::{
    Context, Effect, Outcome, Policy, PolicySet, PolicySource, Principal, Request, evaluate,
};

use super::documents::{DocumentKind, check_policy};
use super::{Iam, IamError};

/// Most action × resource pairs one simulation answers.
const MAX_SIMULATIONS: usize = 1000;

/// What to simulate.
#[derive(Debug, Clone, Default)]
pub struct SimulationRequest {
    /// For SimulatePrincipalPolicy: the role whose policies (and boundary) apply.
    pub policy_source_arn: Option<String>,
    /// Identity policies to evaluate (added to the role's for SimulatePrincipalPolicy).
    pub policy_inputs: Vec<String>,
    /// Permissions boundaries (each must allow).
    pub boundary_inputs: Vec<String>,
    /// A resource-based policy.
    pub resource_policy: Option<String>,
    /// The caller, for the resource policy's `Principal`.
    pub caller_arn: Option<String>,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// Condition keys and their values.
    pub context: Vec<(String, Vec<String>)>,
}

/// One simulated decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationResult {
    pub action: String,
    pub resource: String,
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: &'static str,
    /// The statements that matched: (source id, statement index, effect).
    pub matched: Vec<(String, usize, Effect)>,
}

impl Iam {
    /// SimulateCustomPolicy / SimulatePrincipalPolicy.
    pub async fn simulate(
        &self,
        request: SimulationRequest,
    ) -> Result<Vec<SimulationResult>, IamError> {
        if request.actions.is_empty() {
            return Err(IamError::InvalidInput(
                "ActionNames must not be empty".into(),
            ));
        }
        let resources = if request.resources.is_empty() {
            vec!["*".to_owned()]
        } else {
            request.resources.clone()
        };
        if request.actions.len().saturating_mul(resources.len()) > MAX_SIMULATIONS {
            return Err(IamError::InvalidInput(format!(
                "a simulation answers at most {MAX_SIMULATIONS} action and resource pairs"
            )));
        }
        let mut identity: Vec<(String, Arc<Policy>)> = Vec::new();
        let mut boundaries: Vec<Arc<Policy>> = Vec::new();
        if let Some(arn) = &request.policy_source_arn {
            let name = self.role_name_of_arn(arn).ok_or_else(|| {
                IamError::InvalidInput(format!(
                    "PolicySourceArn `{arn}` is not a role of this account"
                ))
            })?;
            let role = self.compiled_role(name).await?.ok_or_else(|| {
                IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
            })?;
            for (i, policy) in role.identity.iter().enumerate() {
                identity.push((format!("{}#{i}", role.name), Arc::clone(policy)));
            }
            match &role.boundary {
                Some(Some(boundary)) => boundaries.push(Arc::clone(boundary)),
                Some(None) => {
                    return Err(IamError::internal(
                        "simulate",
                        "the role's permissions boundary does not compile",
                    ));
                }
                None => {}
            }
        }
        for (i, text) in request.policy_inputs.iter().enumerate() {
            let policy = check_policy(text, DocumentKind::Managed)?;
            identity.push((format!("PolicyInputList.{}", i + 1), Arc::new(policy)));
        }
        for text in &request.boundary_inputs {
            boundaries.push(Arc::new(check_policy(text, DocumentKind::Managed)?));
        }
        let resource_policy = request
            .resource_policy
            .as_deref()
            .map(Policy::parse)
            .transpose()
            .map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))?;
        let mut context = Context::new();
        for (key, values) in &request.context {
            context.set(key, values.clone());
        }
        let principal = request.caller_arn.clone().map(Principal::Aws);
        // The engine takes one boundary; several must each allow, so each is evaluated and
        // the answers combined below.
        let mut results = Vec::new();
        for action in &request.actions {
            for resource in &resources {
                let eval_request = Request {
                    action,
                    resource,
                    principal: principal.as_ref(),
                    context: &context,
                };
                let boundary_sets: Vec<Option<&Policy>> = if boundaries.is_empty() {
                    vec![None]
                } else {
                    boundaries.iter().map(|b| Some(b.as_ref())).collect()
                };
                let mut decision = Outcome::Allowed;
                let mut matched = Vec::new();
                for boundary in boundary_sets {
                    let set = PolicySet {
                        identity: identity.iter().map(|(_, p)| p.as_ref()).collect(),
                        boundary,
                        session: Vec::new(),
                        resource: resource_policy.iter().collect(),
                    };
                    let answer = evaluate(&set, &eval_request);
                    for m in answer.matched.iter() {
                        let source = match m.source {
                            PolicySource::Identity(i) => identity
                                .get(i)
                                .map_or_else(|| format!("identity {i}"), |(id, _)| id.clone()),
                            PolicySource::Boundary => "PermissionsBoundaryPolicyInputList".into(),
                            PolicySource::Session(i) => format!("session {i}"),
                            PolicySource::Resource(_) => "ResourcePolicy".into(),
                        };
                        let entry = (source, m.index, m.effect);
                        if !matched.contains(&entry) {
                            matched.push(entry);
                        }
                    }
                    decision = match (decision, answer.outcome) {
                        (Outcome::ExplicitDeny, _) | (_, Outcome::ExplicitDeny) => {
                            Outcome::ExplicitDeny
                        }
                        (Outcome::ImplicitDeny, _) | (_, Outcome::ImplicitDeny) => {
                            Outcome::ImplicitDeny
                        }
                        (Outcome::Allowed, Outcome::Allowed) => Outcome::Allowed,
                    };
                }
                results.push(SimulationResult {
                    action: action.clone(),
                    resource: resource.clone(),
                    decision: decision.as_str(),
                    matched,
                });
            }
        }
        Ok(results)
    }
}
