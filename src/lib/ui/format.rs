//! How Storm's UI writes values (`UIHelpers`, `StatsUtil`): uptimes as `"1d 2h 3m 4s"`, latencies and
//! capacities as strings with three decimals, window hints, URL encoding as Java's `URLEncoder`,
//! stream names made safe for the visualization, and the logviewer links of workers, nimbuses and
//! supervisors (`http://<host>:<logviewer.port>/api/v1/log?file=<topology-id>%2F<port>%2Fworker.log`,
//! `https` with `logviewer.https.port` when that is set and not negative).

use crate::config::Config;
pub use crate::http::url_encode;

/// Storm's all-time window.
pub const ALL_TIME: &str = ":all-time";

/// `prettyUptimeSec`: `"3m 33s"`, `"1d 0h 0m 5s"`; 0 (or less) is the empty string, as Storm's.
pub fn pretty_uptime_secs(secs: i64) -> String {
    let mut parts = Vec::new();
    let mut rest = secs;
    for (unit, div) in [
        ("s", Some(60)),
        ("m", Some(60)),
        ("h", Some(24)),
        ("d", None),
    ] {
        if rest <= 0 {
            break;
        }
        match div {
            Some(d) => {
                parts.push(format!("{}{unit}", rest % d));
                rest /= d;
            }
            None => {
                parts.push(format!("{rest}{unit}"));
                rest = 0;
            }
        }
    }
    parts.reverse();
    parts.join(" ")
}

/// `StatsUtil.floatStr`: three decimals, `"0"` for a missing value. Ties round half up (Java's
/// `Formatter` on the double's exact value).
pub fn float_str(v: Option<f64>) -> String {
    let Some(v) = v else {
        return "0".to_string();
    };
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let s = format!("{v:.3}");
    // Rust rounds an exact tie to even; Java rounds it up (away from zero).
    let exact = format!("{v:.60}");
    if let Some((_, frac)) = exact.split_once('.') {
        let tail = &frac[3..];
        let is_tie = tail.starts_with('5') && tail[1..].bytes().all(|b| b == b'0');
        if is_tie {
            let scaled = (v.abs() * 1000.0).trunc() + 1.0;
            let up = scaled / 1000.0 * v.signum();
            return format!("{up:.3}");
        }
    }
    s
}

/// `getWindowHint`: `"All time"` or the window's seconds pretty-printed; `None` for a window that
/// is neither `:all-time` nor a number (Storm answers such a request with an error).
pub fn window_hint(window: &str) -> Option<String> {
    if window == ALL_TIME {
        return Some("All time".to_string());
    }
    window.trim().parse::<i64>().ok().map(pretty_uptime_secs)
}

/// `sanitizeStreamName`: every character but `A-Za-z_-.` becomes `_`; a name that does not start
/// with a letter gets the prefix `_s`.
pub fn sanitize_stream_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphabetic() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.chars().next().is_some_and(char::is_alphabetic) {
        clean
    } else {
        format!("_s{clean}")
    }
}

/// Where the logviewers listen: `(scheme, port)` (Storm's `isSecureLogviewer`/`getLogviewerPort`).
pub fn logviewer(conf: &Config) -> (&'static str, i64) {
    match conf.get_opt_i64("logviewer.https.port") {
        Ok(Some(p)) if p >= 0 => ("https", p),
        _ => ("http", conf.get_i64("logviewer.port").unwrap_or(8000)),
    }
}

/// `getLogviewerLink`: a link to file `fname` (a path under the worker logs) on `host`'s logviewer.
pub fn logviewer_link(conf: &Config, host: &str, fname: &str) -> String {
    let (scheme, port) = logviewer(conf);
    format!(
        "{scheme}://{}:{}/api/v1/log?file={}",
        url_encode(host),
        port,
        url_encode(fname)
    )
}

/// `getWorkerLogLink`: the worker log of `topology_id` on `host:port`.
pub fn worker_log_link(conf: &Config, host: &str, port: i64, topology_id: &str) -> String {
    logviewer_link(conf, host, &format!("{topology_id}/{port}/worker.log"))
}

/// `getNimbusLogLink` / `getSupervisorLogLink`: `daemon` is `nimbus` or `supervisor`.
pub fn daemon_log_link(conf: &Config, host: &str, daemon: &str) -> String {
    let (scheme, port) = logviewer(conf);
    format!(
        "{scheme}://{}:{port}/api/v1/daemonlog?file={daemon}.log",
        url_encode(host)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptimes_read_as_storm_writes_them() {
        assert_eq!(pretty_uptime_secs(0), "");
        assert_eq!(pretty_uptime_secs(5), "5s");
        assert_eq!(pretty_uptime_secs(213), "3m 33s");
        assert_eq!(pretty_uptime_secs(600), "10m 0s");
        assert_eq!(pretty_uptime_secs(10800), "3h 0m 0s");
        assert_eq!(pretty_uptime_secs(86400), "1d 0h 0m 0s");
        assert_eq!(pretty_uptime_secs(90061), "1d 1h 1m 1s");
        assert_eq!(window_hint(":all-time").as_deref(), Some("All time"));
        assert_eq!(window_hint("600").as_deref(), Some("10m 0s"));
        assert_eq!(window_hint("abc"), None);
    }

    #[test]
    fn floats_have_three_decimals_and_round_ties_up() {
        assert_eq!(float_str(None), "0");
        assert_eq!(float_str(Some(0.0)), "0.000");
        assert_eq!(float_str(Some(12.3456)), "12.346");
        assert_eq!(float_str(Some(0.0625)), "0.063");
        assert_eq!(float_str(Some(-0.0625)), "-0.063");
        assert_eq!(float_str(Some(2.5)), "2.500");
        assert_eq!(float_str(Some(1e6 / 3.0)), "333333.333");
    }

    #[test]
    fn url_encoding_is_javas() {
        assert_eq!(
            url_encode("wc-1-1402960825/6707/worker.log"),
            "wc-1-1402960825%2F6707%2Fworker.log"
        );
        assert_eq!(url_encode("a b~é*"), "a+b%7E%C3%A9*");
        assert_eq!(
            crate::http::url_decode_lossy("a+b%2Fc%zz%", true),
            "a b/c%zz%"
        );
        assert_eq!(crate::http::url_decode_lossy("a+b%41", false), "a+bA");
        assert_eq!(crate::http::url_decode_lossy("%4", false), "%4");
    }

    #[test]
    fn stream_names_are_sanitized_like_storm() {
        assert_eq!(sanitize_stream_name("default"), "default");
        assert_eq!(sanitize_stream_name("__ack_init"), "_s__ack_init");
        assert_eq!(sanitize_stream_name("s1:x y"), "s__x_y");
        assert_eq!(sanitize_stream_name(""), "_s");
    }

    #[test]
    fn log_links_point_to_the_logviewer() {
        let mut conf = Config::defaults();
        assert_eq!(
            worker_log_link(&conf, "10.0.0.1", 6700, "wc-1-1"),
            "http://10.0.0.1:8000/api/v1/log?file=wc-1-1%2F6700%2Fworker.log"
        );
        assert_eq!(
            daemon_log_link(&conf, "h", "nimbus"),
            "http://h:8000/api/v1/daemonlog?file=nimbus.log"
        );
        conf.set("logviewer.https.port", 8443);
        assert_eq!(
            worker_log_link(&conf, "h", 1, "t"),
            "https://h:8443/api/v1/log?file=t%2F1%2Fworker.log"
        );
    }
}
