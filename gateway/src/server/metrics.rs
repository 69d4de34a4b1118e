//! Prometheus metrics of the data plane, rendered as text for the identity listener's
//! `/metrics`.
//!
//! Label cardinality is bounded by the definitions, never by traffic: series are per API,
//! stage and route (the resource template and method, `GET /pets/{petId}`), never per raw
//! path. Counters are atomics in per-route blocks that the snapshot hands to each request, so
//! recording is a few relaxed atomic adds with no lookup; blocks survive reloads (a route
//! that still exists keeps its counters).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The registry: every route's block plus gateway-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<RouteKey, Arc<RouteMetrics>>>,
    /// Requests that matched no route, by reason (`no_mapping`, `unknown_stage`, …).
    misses: [AtomicU64; 4],
    /// Requests refused for their path (`..` segments, see
    /// [`crate::definition::path::check_request_path`]; encoded slashes that would reroute a greedy
    /// route, see [`crate::definition::path::split_encoded_slashes`]).
    refused_paths: AtomicU64,
    /// Access-log lines dropped because the writer fell behind (logging never blocks).
    pub(crate) access_log_dropped: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    /// Outcomes of the pipeline steps, by stage name: counter blocks handed to the pipeline
    /// once (see [`Metrics::step_counters`]) so counting is a relaxed atomic add.
    stage_outcomes: Mutex<BTreeMap<&'static str, Arc<StepCounters>>>,
}

/// One pipeline step's outcome counters (`continue`, `reject`, `respond`).
#[derive(Debug, Default)]
pub struct StepCounters {
    outcomes: [AtomicU64; 3],
}

/// The outcome labels, in [`StepCounters`] order.
const STAGE_OUTCOMES: [&str; 3] = ["continue", "reject", "respond"];

/// The labels of a route's series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteKey {
    pub api: String,
    pub stage: String,
    /// `METHOD /resource/{template}` (the method as defined, `ANY` included).
    pub route: String,
}

/// One route's counters.
#[derive(Debug, Default)]
pub struct RouteMetrics {
    /// Responses by status class: 1xx/2xx, 3xx, 4xx, 5xx.
    responses: [AtomicU64; 4],
    latency: Histogram,
    integration_latency: Histogram,
}

/// A latency histogram with fixed buckets (seconds, Prometheus style).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Upper bounds in seconds: 0.5 ms up to 30 s (past the 29 s integration timeout).
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];
const MISS_REASONS: [&str; 4] = [
    "no_mapping",
    "unknown_stage",
    "no_resource",
    "method_not_defined",
];
const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

// === impl Metrics ===

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// The block for a route, created on first use and shared across snapshots.
    pub fn route(&self, key: RouteKey) -> Arc<RouteMetrics> {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(routes.entry(key).or_default())
    }

    pub(crate) fn miss(&self, reason: crate::definition::compiled::MissReason) {
        use crate::definition::compiled::MissReason as R;
        let i = match reason {
            R::NoMapping => 0,
            R::UnknownStage => 1,
            R::NoResource => 2,
            R::MethodNotDefined => 3,
        };
        if let Some(c) = self.misses.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn refused_path(&self) {
        self.refused_paths.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reload(&self, ok: bool) {
        let counter = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counter block of a pipeline step, created on first use; stage names are `'static`,
    /// so the label set is bounded by the stages compiled in. The pipeline fetches these
    /// once, not per request.
    pub fn step_counters(&self, stage: &'static str) -> Arc<StepCounters> {
        let mut map = self
            .stage_outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(stage).or_default())
    }

    /// Counts a pipeline step's outcome (`continue`, `reject`, `respond`; anything else is
    /// ignored). Off the hot path: the pipeline counts through [`Metrics::step_counters`].
    pub fn stage_outcome(&self, stage: &'static str, outcome: &'static str) {
        self.step_counters(stage).count(outcome);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let routes: Vec<(RouteKey, Arc<RouteMetrics>)> = {
            let map = self.routes.lock().unwrap_or_else(|e| e.into_inner());
            map.iter()
                .map(|(k, v)| (k.clone(), Arc::clone(v)))
                .collect()
        };
        out.push_str("# HELP gatehouse_gateway_requests_total Requests served by a route, by status class.\n# TYPE gatehouse_gateway_requests_total counter\n");
        for (key, m) in &routes {
            for (class, counter) in CLASSES.iter().zip(&m.responses) {
                let _ = writeln!(
                    out,
                    "gatehouse_gateway_requests_total{{{},status_class=\"{class}\"}} {}",
                    labels(key),
                    counter.load(Ordering::Relaxed)
                );
            }
        }
        out.push_str("# HELP gatehouse_gateway_errors_total Responses with a 4xx or 5xx status, by class.\n# TYPE gatehouse_gateway_errors_total counter\n");
        for (key, m) in &routes {
            for (class, counter) in CLASSES.iter().zip(&m.responses).skip(2) {
                let _ = writeln!(
                    out,
                    "gatehouse_gateway_errors_total{{{},status_class=\"{class}\"}} {}",
                    labels(key),
                    counter.load(Ordering::Relaxed)
                );
            }
        }
        for (name, help, pick) in [
            (
                "gatehouse_gateway_request_duration_seconds",
                "Time from request head to response head at the gateway.",
                (|m: &RouteMetrics| &m.latency) as fn(&RouteMetrics) -> &Histogram,
            ),
            (
                "gatehouse_gateway_integration_duration_seconds",
                "Time the integration (backend) took to answer with its response head.",
                |m: &RouteMetrics| &m.integration_latency,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for (key, m) in &routes {
                pick(m).render(&mut out, name, &labels(key));
            }
        }
        out.push_str("# HELP gatehouse_gateway_unmatched_requests_total Requests no route serves (answered 403), by reason.\n# TYPE gatehouse_gateway_unmatched_requests_total counter\n");
        for (reason, counter) in MISS_REASONS.iter().zip(&self.misses) {
            let _ = writeln!(
                out,
                "gatehouse_gateway_unmatched_requests_total{{reason=\"{reason}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP gatehouse_gateway_refused_paths_total Requests refused with 400 for their path: a `.` or `..` segment (however encoded), a path that is not UTF-8 once decoded, an encoded NUL, or an encoded slash that would take a greedy resource around another.\n# TYPE gatehouse_gateway_refused_paths_total counter\ngatehouse_gateway_refused_paths_total {}",
            self.refused_paths.load(Ordering::Relaxed)
        );
        out.push_str("# HELP gatehouse_gateway_stage_outcomes_total Outcomes of pipeline stages (keys, throttling, cache, authorizers).\n# TYPE gatehouse_gateway_stage_outcomes_total counter\n");
        {
            let map = self
                .stage_outcomes
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for (stage, counters) in map.iter() {
                for (outcome, counter) in STAGE_OUTCOMES.iter().zip(&counters.outcomes) {
                    let n = counter.load(Ordering::Relaxed);
                    // Outcomes a stage never had stay out of the exposition, as before.
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "gatehouse_gateway_stage_outcomes_total{{stage=\"{stage}\",outcome=\"{outcome}\"}} {n}"
                        );
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP gatehouse_gateway_reloads_total Definition reloads, by result.\n# TYPE gatehouse_gateway_reloads_total counter\ngatehouse_gateway_reloads_total{{result=\"ok\"}} {}\ngatehouse_gateway_reloads_total{{result=\"refused\"}} {}",
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_failed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP gatehouse_gateway_access_log_dropped_total Access-log lines dropped because the writer fell behind.\n# TYPE gatehouse_gateway_access_log_dropped_total counter\ngatehouse_gateway_access_log_dropped_total {}",
            self.access_log_dropped.load(Ordering::Relaxed)
        );
        out
    }
}

// === impl StepCounters ===

impl StepCounters {
    /// Counts `outcome` (`continue`, `reject`, `respond`; anything else is ignored).
    pub fn count(&self, outcome: &str) {
        if let Some(i) = STAGE_OUTCOMES.iter().position(|o| *o == outcome)
            && let Some(counter) = self.outcomes.get(i)
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts by position in `STAGE_OUTCOMES` (what the pipeline calls per request).
    pub(crate) fn add(&self, index: usize) {
        if let Some(counter) = self.outcomes.get(index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn labels(key: &RouteKey) -> String {
    format!(
        "api=\"{}\",stage=\"{}\",route=\"{}\"",
        escape(&key.api),
        escape(&key.stage),
        escape(&key.route)
    )
}

/// Label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

// === impl RouteMetrics ===

impl RouteMetrics {
    /// Records a finished request.
    pub fn record(&self, status: u16, latency: Duration, integration: Option<Duration>) {
        let class = match status {
            0..=299 => 0,
            300..=399 => 1,
            400..=499 => 2,
            _ => 3,
        };
        if let Some(c) = self.responses.get(class) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.observe(latency);
        if let Some(d) = integration {
            self.integration_latency.observe(d);
        }
    }

    /// Requests counted so far (all classes), for tests and diagnostics.
    pub fn total(&self) -> u64 {
        self.responses
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

// === impl Histogram ===

impl Histogram {
    pub fn observe(&self, value: Duration) {
        let secs = value.as_secs_f64();
        // Buckets are cumulative at render time; store per-bucket counts here.
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(c) = self.buckets.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(value.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0u64;
        for (bound, c) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "{name}_sum{{{labels}}} {sum}\n{name}_count{{{labels}}} {count}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets_and_classes() {
        let metrics = Metrics::new();
        let key = RouteKey {
            api: "shop".into(),
            stage: "prod".into(),
            route: "GET /pets/{id}".into(),
        };
        let route = metrics.route(key.clone());
        route.record(
            200,
            Duration::from_micros(300),
            Some(Duration::from_micros(200)),
        );
        route.record(504, Duration::from_millis(40), None);
        assert!(Arc::ptr_eq(&route, &metrics.route(key)));
        let text = metrics.render();
        let labels = r#"api="shop",stage="prod",route="GET /pets/{id}""#;
        for line in [
            format!("gatehouse_gateway_requests_total{{{labels},status_class=\"2xx\"}} 1"),
            format!("gatehouse_gateway_requests_total{{{labels},status_class=\"5xx\"}} 1"),
            format!(
                "gatehouse_gateway_request_duration_seconds_bucket{{{labels},le=\"0.0005\"}} 1"
            ),
            format!("gatehouse_gateway_request_duration_seconds_bucket{{{labels},le=\"0.05\"}} 2"),
            format!("gatehouse_gateway_request_duration_seconds_count{{{labels}}} 2"),
            format!("gatehouse_gateway_integration_duration_seconds_count{{{labels}}} 1"),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
