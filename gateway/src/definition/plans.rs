//! Usage plans created at run time: their JSON document (API Gateway's `CreateUsagePlan`
//! shape, stored as given), its conversion to the model's [`UsagePlan`], and quota periods in
//! UTC as API Gateway counts them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use gatehouse_policy::calendar::{MILLIS_PER_DAY, civil_from_days, days_from_civil};

use crate::definition::model::Throttle;
use crate::definition::stage::{MethodSettingsKey, Quota, QuotaPeriod, UsagePlan, UsagePlanStage};

/// A usage plan as the operator API receives and returns it (API Gateway's JSON members).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub api_stages: Vec<ApiStageDocument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleDocument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaDocument>,
}

/// `apiStages[]`: a stage and per-method throttles keyed `/path/METHOD`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiStageDocument {
    pub api_id: String,
    pub stage: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub throttle: BTreeMap<String, ThrottleDocument>,
}

/// `{rateLimit, burstLimit}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleDocument {
    #[serde(default)]
    pub rate_limit: f64,
    #[serde(default)]
    pub burst_limit: u32,
}

/// `{limit, period, offset}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaDocument {
    pub limit: u64,
    pub period: String,
    #[serde(default)]
    pub offset: u32,
}

/// Why a plan document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("invalid usage plan: {0}")]
    Invalid(String),
}

// === impl PlanDocument ===

impl PlanDocument {
    /// The model plan named `name`, after checking every value.
    pub fn to_plan(&self, name: &str) -> Result<UsagePlan, PlanError> {
        let bad = |m: String| PlanError::Invalid(m);
        let throttle = self
            .throttle
            .map(ThrottleDocument::to_throttle)
            .transpose()?;
        let quota = match &self.quota {
            None => None,
            Some(q) => {
                let period = QuotaPeriod::parse(&q.period).map_err(|p| bad(p.to_string()))?;
                let max_offset = match period {
                    QuotaPeriod::Day => 0,
                    QuotaPeriod::Week => 6,
                    QuotaPeriod::Month => 27,
                };
                if q.offset > max_offset {
                    return Err(bad(format!(
                        "quota offset `{}` must be 0..={max_offset} for `{}`",
                        q.offset, q.period
                    )));
                }
                Some(Quota {
                    limit: q.limit,
                    period,
                    offset: q.offset,
                })
            }
        };
        let mut stages = Vec::with_capacity(self.api_stages.len());
        for s in &self.api_stages {
            if s.api_id.is_empty() || s.stage.is_empty() {
                return Err(bad("apiStages need `apiId` and `stage`".to_owned()));
            }
            let mut method_throttles = BTreeMap::new();
            for (key, t) in &s.throttle {
                let parsed = MethodSettingsKey::parse(key).map_err(|p| bad(p.to_string()))?;
                method_throttles.insert(parsed, t.to_throttle()?);
            }
            stages.push(UsagePlanStage {
                api_id: s.api_id.clone(),
                stage: s.stage.clone(),
                method_throttles,
            });
        }
        Ok(UsagePlan {
            name: name.to_owned(),
            description: self.description.clone(),
            stages,
            throttle,
            quota,
        })
    }

    /// The document of a plan defined in a file (for listings).
    pub fn from_plan(plan: &UsagePlan) -> Self {
        Self {
            description: plan.description.clone(),
            api_stages: plan
                .stages
                .iter()
                .map(|s| ApiStageDocument {
                    api_id: s.api_id.clone(),
                    stage: s.stage.clone(),
                    throttle: s
                        .method_throttles
                        .iter()
                        .map(|(k, t)| (k.to_string(), ThrottleDocument::from_throttle(*t)))
                        .collect(),
                })
                .collect(),
            throttle: plan.throttle.map(ThrottleDocument::from_throttle),
            quota: plan.quota.map(|q| QuotaDocument {
                limit: q.limit,
                period: match q.period {
                    QuotaPeriod::Day => "DAY",
                    QuotaPeriod::Week => "WEEK",
                    QuotaPeriod::Month => "MONTH",
                }
                .to_owned(),
                offset: q.offset,
            }),
        }
    }
}

impl ThrottleDocument {
    pub fn to_throttle(self) -> Result<Throttle, PlanError> {
        let t = Throttle {
            rate_per_second: self.rate_limit,
            burst: self.burst_limit,
        };
        t.check().map_err(|p| PlanError::Invalid(p.to_string()))?;
        Ok(t)
    }

    pub fn from_throttle(t: Throttle) -> Self {
        Self {
            rate_limit: t.rate_per_second,
            burst_limit: t.burst,
        }
    }
}

// === quota periods ===

/// The quota period containing `now_ms` (epoch milliseconds): `[start, end)` in epoch
/// milliseconds, UTC. DAY starts at midnight; WEEK on Sunday plus `offset` days; MONTH on the
/// first of the month plus `offset` days (API Gateway's `offset`).
pub fn period_bounds(quota: &Quota, now_ms: i64) -> (i64, i64) {
    let day = now_ms.div_euclid(MILLIS_PER_DAY);
    match quota.period {
        QuotaPeriod::Day => (day * MILLIS_PER_DAY, (day + 1) * MILLIS_PER_DAY),
        QuotaPeriod::Week => {
            // 1970-01-01 was a Thursday: day 0 is weekday 4 (Sunday = 0).
            let weekday = (day + 4).rem_euclid(7);
            let offset = i64::from(quota.offset.min(6));
            let mut start = day - weekday + offset;
            if start > day {
                start -= 7;
            }
            (start * MILLIS_PER_DAY, (start + 7) * MILLIS_PER_DAY)
        }
        QuotaPeriod::Month => {
            let offset = i64::from(quota.offset.min(27));
            let (y, m, d) = civil_from_days(day);
            let (mut y0, mut m0) = (y, m);
            if i64::from(d) - 1 < offset {
                (y0, m0) = previous_month(y, m);
            }
            let start = days_from_civil(y0, m0, 1) + offset;
            let (y1, m1) = next_month(y0, m0);
            let end = days_from_civil(y1, m1, 1) + offset;
            (start * MILLIS_PER_DAY, end * MILLIS_PER_DAY)
        }
    }
}

/// UTC midnight of the day containing `now_ms`.
pub fn day_start(now_ms: i64) -> i64 {
    now_ms.div_euclid(MILLIS_PER_DAY) * MILLIS_PER_DAY
}

/// Parses `YYYY-MM-DD` into the day's start (epoch milliseconds).
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    Some(days_from_civil(y, m, d) * MILLIS_PER_DAY)
}

fn previous_month(y: i64, m: u32) -> (i64, u32) {
    if m == 1 { (y - 1, 12) } else { (y, m - 1) }
}

fn next_month(y: i64, m: u32) -> (i64, u32) {
    if m == 12 { (y + 1, 1) } else { (y, m + 1) }
}

#[cfg(test)]
mod tests {
    use gatehouse_policy::calendar;

    use super::*;

    fn at(text: &str) -> i64 {
        parse_day(text).unwrap()
    }

    fn check(period: QuotaPeriod, offset: u32, now: &str, start: &str, end: &str) {
        let quota = Quota {
            limit: 1,
            period,
            offset,
        };
        let (s, e) = period_bounds(&quota, at(now) + 3_600_000);
        assert_eq!(
            (calendar::format_day(s), calendar::format_day(e)),
            (start.to_owned(), end.to_owned()),
            "{period:?} +{offset} at {now}"
        );
    }

    #[test]
    fn periods_follow_api_gateway_offsets() {
        // DAY: UTC midnight to midnight.
        check(
            QuotaPeriod::Day,
            0,
            "2024-02-29",
            "2024-02-29",
            "2024-03-01",
        );
        // WEEK: offset 0 is Sunday; 2024-05-15 is a Wednesday.
        check(
            QuotaPeriod::Week,
            0,
            "2024-05-15",
            "2024-05-12",
            "2024-05-19",
        );
        // offset 1 is Monday.
        check(
            QuotaPeriod::Week,
            1,
            "2024-05-15",
            "2024-05-13",
            "2024-05-20",
        );
        // offset 4 (Thursday) later in the week than today: the period began last Thursday.
        check(
            QuotaPeriod::Week,
            4,
            "2024-05-15",
            "2024-05-09",
            "2024-05-16",
        );
        // MONTH: the first, or the first plus offset days.
        check(
            QuotaPeriod::Month,
            0,
            "2024-12-31",
            "2024-12-01",
            "2025-01-01",
        );
        check(
            QuotaPeriod::Month,
            4,
            "2024-03-03",
            "2024-02-05",
            "2024-03-05",
        );
        check(
            QuotaPeriod::Month,
            4,
            "2024-03-05",
            "2024-03-05",
            "2024-04-05",
        );
    }

    #[test]
    fn days_round_trip() {
        for text in ["1970-01-01", "2000-02-29", "2024-12-31", "2100-03-01"] {
            assert_eq!(calendar::format_day(at(text)), text);
        }
        for bad in ["2024-13-01", "x", "2024-1", "1969-12-31"] {
            assert!(parse_day(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn plan_documents_convert_and_refuse_bad_values() {
        let doc: PlanDocument = serde_json::from_value(serde_json::json!({
            "description": "basic",
            "apiStages": [{"apiId": "shop", "stage": "prod",
                           "throttle": {"/orders/GET": {"rateLimit": 1.5, "burstLimit": 2}}}],
            "throttle": {"rateLimit": 10, "burstLimit": 20},
            "quota": {"limit": 100, "period": "WEEK", "offset": 1}
        }))
        .unwrap();
        let plan = doc.to_plan("basic").unwrap();
        assert_eq!(plan.quota.unwrap().offset, 1);
        assert_eq!(plan.stages[0].method_throttles.len(), 1);
        assert_eq!(PlanDocument::from_plan(&plan), doc);
        let mut bad = doc.clone();
        bad.quota = Some(QuotaDocument {
            limit: 1,
            period: "DAY".into(),
            offset: 1,
        });
        assert!(bad.to_plan("x").is_err());
        let mut bad = doc;
        bad.api_stages[0]
            .throttle
            .insert("GET".into(), ThrottleDocument::default());
        assert!(bad.to_plan("x").is_err());
    }
}
