//! Counters for `GET /metrics` in the Prometheus text format (version 0.0.4): requests by route
//! and status, request latency histograms by route, gallery size and encoder queue depth.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use super::queue::PoolLoad;

/// Upper bounds of the latency buckets, in seconds (`+Inf` is implied).
pub const LATENCY_BUCKETS_S: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations `<= LATENCY_BUCKETS_S[i]` (not cumulative; summed when written).
    buckets: [u64; LATENCY_BUCKETS_S.len()],
    count: u64,
    sum_s: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// Request counters and latency histograms (one lock, held for a few map updates).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// The gauges `/metrics` reports beside the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauges {
    /// Subjects in the in-memory index.
    pub gallery_size: usize,
    /// The encoder pool's load.
    pub pool: PoolLoad,
    /// Encoder workers and queue capacity.
    pub workers: usize,
    /// Requests allowed to wait.
    pub queue_capacity: usize,
}

impl Metrics {
    /// Records one request on `route` (the matched route pattern, e.g. `/v1/verify`) that was
    /// answered with `status` after `elapsed`.
    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *g.requests.entry((route.to_string(), status)).or_default() += 1;
        let h = g.latency.entry(route.to_string()).or_default();
        let s = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS_S.iter().position(|&b| s <= b) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum_s += s;
    }

    /// Requests counted for `route` with `status`.
    pub fn requests(&self, route: &str, status: u16) -> u64 {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.requests
            .get(&(route.to_string(), status))
            .copied()
            .unwrap_or(0)
    }

    /// The Prometheus text exposition of every counter and `gauges`.
    pub fn render(&self, gauges: Gauges) -> String {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = (|| -> std::fmt::Result {
            writeln!(
                out,
                "# HELP siamedge_requests_total HTTP requests by route and status."
            )?;
            writeln!(out, "# TYPE siamedge_requests_total counter")?;
            for ((route, status), n) in &g.requests {
                writeln!(
                    out,
                    "siamedge_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                )?;
            }
            writeln!(
                out,
                "# HELP siamedge_request_duration_seconds Request latency by route, in seconds."
            )?;
            writeln!(out, "# TYPE siamedge_request_duration_seconds histogram")?;
            for (route, h) in &g.latency {
                let route = escape(route);
                let mut cumulative = 0;
                for (b, n) in LATENCY_BUCKETS_S.iter().zip(h.buckets) {
                    cumulative += n;
                    writeln!(
                        out,
                        "siamedge_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cumulative}"
                    )?;
                }
                writeln!(
                    out,
                    "siamedge_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                )?;
                writeln!(
                    out,
                    "siamedge_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum_s
                )?;
                writeln!(
                    out,
                    "siamedge_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                )?;
            }
            let gauges = [
                (
                    "siamedge_gallery_subjects",
                    "Subjects enrolled (in the index).",
                    gauges.gallery_size,
                ),
                (
                    "siamedge_encoder_queue_depth",
                    "Requests waiting for an encoder worker.",
                    gauges.pool.waiting,
                ),
                (
                    "siamedge_encoder_busy_workers",
                    "Encoder workers running a job.",
                    gauges.pool.running,
                ),
                (
                    "siamedge_encoder_workers",
                    "Encoder workers.",
                    gauges.workers,
                ),
                (
                    "siamedge_encoder_queue_capacity",
                    "Requests allowed to wait before 503.",
                    gauges.queue_capacity,
                ),
            ];
            for (name, help, v) in gauges {
                writeln!(out, "# HELP {name} {help}")?;
                writeln!(out, "# TYPE {name} gauge")?;
                writeln!(out, "{name} {v}")?;
            }
            Ok(())
        })();
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_cumulative_buckets_and_gauges() {
        let m = Metrics::default();
        m.observe("/v1/verify", 200, Duration::from_micros(800));
        m.observe("/v1/verify", 200, Duration::from_millis(20));
        m.observe("/v1/verify", 404, Duration::from_secs(10));
        assert_eq!(m.requests("/v1/verify", 200), 2);
        let text = m.render(Gauges {
            gallery_size: 7,
            pool: PoolLoad {
                waiting: 2,
                running: 1,
            },
            workers: 4,
            queue_capacity: 8,
        });
        for line in [
            "siamedge_requests_total{route=\"/v1/verify\",status=\"200\"} 2",
            "siamedge_requests_total{route=\"/v1/verify\",status=\"404\"} 1",
            "siamedge_request_duration_seconds_bucket{route=\"/v1/verify\",le=\"0.001\"} 1",
            "siamedge_request_duration_seconds_bucket{route=\"/v1/verify\",le=\"0.01\"} 1",
            "siamedge_request_duration_seconds_bucket{route=\"/v1/verify\",le=\"0.025\"} 2",
            "siamedge_request_duration_seconds_bucket{route=\"/v1/verify\",le=\"5\"} 2",
            "siamedge_request_duration_seconds_bucket{route=\"/v1/verify\",le=\"+Inf\"} 3",
            "siamedge_request_duration_seconds_count{route=\"/v1/verify\"} 3",
            "siamedge_gallery_subjects 7",
            "siamedge_encoder_queue_depth 2",
            "siamedge_encoder_busy_workers 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
