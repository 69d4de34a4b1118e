//! The three pipeline steps on the key table, in API Gateway's order: the API key
//! ([`ApiKeyStep`]), throttling ([`ThrottleStep`]: the plan's per-method and per-key limits,
//! the route's, then the account-wide one when set) and quotas ([`QuotaStep`]).

use std::sync::Arc;

use http::{HeaderName, HeaderValue};

use super::keys;
use super::quota::QuotaCheck;
use super::throttle::Gcra;
use gatehouse_policy::calendar::unix_millis;

use super::{KeyEntry, Usage};
use crate::definition::compiled::Gateway;
use crate::definition::model::{ApiKeySource, HttpMethod};
use crate::definition::responses::GatewayResponseType;
use crate::server::steps::{Phase, Prepared, Rejection, RequestContext, Step, StepFuture, Verdict};

/// The step that checks API keys.
#[derive(Debug)]
pub struct ApiKeyStep(pub Arc<Usage>);
/// The step that applies throttles.
#[derive(Debug)]
pub struct ThrottleStep(pub Arc<Usage>);
/// The step that counts quotas.
#[derive(Debug)]
pub struct QuotaStep(pub Arc<Usage>);

const API_KEY_HEADER: &str = "x-api-key";

/// Set by the key step for the throttle and quota steps ([`RequestContext::usage_key`]).
#[derive(Debug, Clone)]
pub(crate) struct KeyContext {
    entry: Arc<KeyEntry>,
    plan: usize,
    stage: usize,
}

fn retry_after(seconds: u64) -> (HeaderName, HeaderValue) {
    (http::header::RETRY_AFTER, HeaderValue::from(seconds.max(1)))
}

fn reject(kind: GatewayResponseType) -> StepFuture<'static> {
    StepFuture::ready(Verdict::Reject(Rejection::new(kind)))
}

// === impl ApiKeyStep ===

impl Step for ApiKeyStep {
    fn name(&self) -> &'static str {
        "api_key"
    }

    fn phase(&self) -> Phase {
        Phase::ApiKey
    }

    fn prepare(&self, gateway: &Gateway) -> Result<Prepared, String> {
        self.0.set_definition(gateway);
        Ok(Arc::new(()))
    }

    fn on_request<'a>(
        &'a self,
        cx: &'a mut RequestContext<'_>,
        _prepared: &'a Prepared,
    ) -> StepFuture<'a> {
        if !cx.hit.definition.settings.api_key_required {
            return StepFuture::ready(Verdict::Continue);
        }
        let value: Option<&str> = match cx.hit.api.api_key_source {
            ApiKeySource::Header => cx
                .head
                .headers
                .get(const { HeaderName::from_static(API_KEY_HEADER) })
                .and_then(|v| v.to_str().ok()),
            ApiKeySource::Authorizer => cx
                .authorizer
                .as_ref()
                .and_then(|a| a.usage_identifier_key.as_deref()),
        };
        let Some(value) = value.filter(|v| v.len() <= keys::MAX_KEY_LEN) else {
            return reject(GatewayResponseType::InvalidApiKey);
        };
        let Some(entry) = self.0.table.load().lookup(value.as_bytes()) else {
            return reject(GatewayResponseType::InvalidApiKey);
        };
        if !entry.enabled {
            return reject(GatewayResponseType::InvalidApiKey);
        }
        let api_id = cx.hit.api.id.as_str();
        let stage_name = cx.hit.stage.stage.name.as_str();
        let found = entry.plans.iter().enumerate().find_map(|(i, p)| {
            p.plan
                .plan
                .stages
                .iter()
                .position(|s| s.api_id == api_id && s.stage == stage_name)
                .map(|s| (i, s))
        });
        // API Gateway: a key that is in no usage plan of this stage is refused.
        let Some((plan, stage)) = found else {
            return reject(GatewayResponseType::InvalidApiKey);
        };
        cx.identity.api_key = Some(value.to_owned());
        cx.identity.api_key_id = Some(entry.id.clone());
        cx.usage_key = Some(KeyContext { entry, plan, stage });
        StepFuture::ready(Verdict::Continue)
    }
}

// === impl ThrottleStep ===

/// Per stage index, per route: the route's stage/method limiter.
#[derive(Debug)]
struct RouteLimiters(Vec<Vec<Option<Gcra>>>);

impl Step for ThrottleStep {
    fn name(&self) -> &'static str {
        "throttle"
    }

    fn phase(&self) -> Phase {
        Phase::Throttle
    }

    fn prepare(&self, gateway: &Gateway) -> Result<Prepared, String> {
        let mut per_stage: Vec<Vec<Option<Gcra>>> = Vec::new();
        per_stage.resize_with(gateway.stage_count(), Vec::new);
        for compiled in gateway.stages() {
            let routes = compiled
                .routes
                .routes()
                .map(|(id, _, _)| {
                    compiled
                        .route_settings(id)
                        .and_then(|s| s.throttle)
                        .map(Gcra::new)
                })
                .collect();
            if let Some(slot) = per_stage.get_mut(compiled.index()) {
                *slot = routes;
            }
        }
        Ok(Arc::new(RouteLimiters(per_stage)))
    }

    fn on_request<'a>(
        &'a self,
        cx: &'a mut RequestContext<'_>,
        prepared: &'a Prepared,
    ) -> StepFuture<'a> {
        let mut checks: [Option<&Gcra>; 4] = [None; 4];
        let key = cx.usage_key.as_ref();
        if let Some(kc) = key
            && let Some(kp) = kc.entry.plans.get(kc.plan)
        {
            let method = HttpMethod::from_request(cx.head.method.as_str()).unwrap_or(cx.hit.method);
            let path = cx.hit.resource.path.as_str();
            checks[0] = kp
                .method_limiters
                .get(kc.stage)
                .and_then(|list| {
                    list.iter()
                        .filter(|(k, _)| k.applies_to(path, method))
                        .max_by_key(|(k, _)| k.specificity())
                })
                .map(|(_, g)| &**g);
            checks[1] = kp.limiter.as_deref();
        }
        checks[2] = prepared
            .downcast_ref::<RouteLimiters>()
            .and_then(|r| r.0.get(cx.hit.stage.index()))
            .and_then(|routes| routes.get(cx.hit.route.0 as usize))
            .and_then(Option::as_ref);
        checks[3] = self.0.account.as_ref();
        for gcra in checks.into_iter().flatten() {
            if let Err(wait) = gcra.check() {
                let (name, value) = retry_after(wait);
                return StepFuture::ready(Verdict::Reject(
                    Rejection::new(GatewayResponseType::Throttled).with_header(name, value),
                ));
            }
        }
        StepFuture::ready(Verdict::Continue)
    }
}

// === impl QuotaStep ===

impl Step for QuotaStep {
    fn name(&self) -> &'static str {
        "quota"
    }

    fn phase(&self) -> Phase {
        Phase::Quota
    }

    fn on_request<'a>(
        &'a self,
        cx: &'a mut RequestContext<'_>,
        _prepared: &'a Prepared,
    ) -> StepFuture<'a> {
        let Some(kc) = cx.usage_key.as_ref() else {
            return StepFuture::ready(Verdict::Continue);
        };
        let Some(kp) = kc.entry.plans.get(kc.plan) else {
            return StepFuture::ready(Verdict::Continue);
        };
        let (Some(slot), Some(quota)) = (kp.quota.as_deref(), kp.plan.plan.quota.as_ref()) else {
            return StepFuture::ready(Verdict::Continue);
        };
        // Decided at once from the last known total and this node's unwritten counts: a
        // request never waits for a counter write (see `quota`).
        match self.0.quota.check(slot, quota, unix_millis(cx.now)) {
            QuotaCheck::Admitted => StepFuture::ready(Verdict::Continue),
            QuotaCheck::Exceeded { retry_after: s } => StepFuture::ready(exceeded(s)),
        }
    }
}

fn exceeded(seconds: u64) -> Verdict {
    let (name, value) = retry_after(seconds);
    Verdict::Reject(Rejection::new(GatewayResponseType::QuotaExceeded).with_header(name, value))
}
