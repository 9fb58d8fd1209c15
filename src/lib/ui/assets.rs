//! The UI's web pages, embedded in the binary (`include_str!`): plain HTML, CSS and JavaScript
//! written for storm-rs, no build step. The pages call the REST API; each table pages, sorts and
//! filters in the browser, so a 500-component topology costs one API request per page view.
//!
//! | Path | Page |
//! |---|---|
//! | `/`, `/index.html` | cluster: nimbuses, supervisors, topologies, slots, nimbus configuration |
//! | `/topology.html?id=<id>` | a topology: stats per window, spouts, bolts, workers, configuration, actions |
//! | `/component.html?id=<component>&topology_id=<id>` | a component: stats per window, streams, executors, errors |
//! | `/supervisor.html?id=<id>` or `?host=<host>` | a supervisor and its workers |
//! | `/visualize.html?id=<id>` | the topology's graph with live rates |

use std::sync::OnceLock;

/// One embedded file.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

const HTML: &str = "text/html;charset=utf-8";
const JS: &str = "text/javascript;charset=utf-8";
const CSS: &str = "text/css;charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $type:expr, $file:literal) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!($file),
        }
    };
}

/// Every embedded file.
pub static ASSETS: &[Asset] = &[
    asset!("/index.html", HTML, "assets/index.html"),
    asset!("/topology.html", HTML, "assets/topology.html"),
    asset!("/component.html", HTML, "assets/component.html"),
    asset!("/supervisor.html", HTML, "assets/supervisor.html"),
    asset!("/visualize.html", HTML, "assets/visualize.html"),
    asset!("/css/ui.css", CSS, "assets/ui.css"),
    asset!("/js/ui.js", JS, "assets/ui.js"),
    asset!("/js/cluster.js", JS, "assets/cluster.js"),
    asset!("/js/topology.js", JS, "assets/topology.js"),
    asset!("/js/component.js", JS, "assets/component.js"),
    asset!("/js/supervisor.js", JS, "assets/supervisor.js"),
    asset!("/js/graph.js", JS, "assets/graph.js"),
    asset!("/favicon.svg", SVG, "assets/favicon.svg"),
];

/// What a path that is neither an endpoint nor a page gets.
pub const NOT_FOUND_PAGE: &str = "<!doctype html><meta charset=utf-8><title>Not found</title>\
<p>Nothing here. Go to the <a href=\"/\">cluster summary</a>.</p>";

/// The file served at `path` (`/` is the cluster page).
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = match path {
        "" | "/" => "/index.html",
        "/favicon.ico" => "/favicon.svg",
        p => p,
    };
    ASSETS.iter().find(|a| a.path == path)
}

/// A strong validator for `asset` (FNV-1a of its bytes), quoted as HTTP wants it.
pub fn etag(asset: &Asset) -> String {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in a.body {
                    h ^= u64::from(*b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
                format!("\"{h:016x}\"")
            })
            .collect()
    });
    ASSETS
        .iter()
        .position(|a| std::ptr::eq(a, asset))
        .and_then(|i| tags.get(i).cloned())
        .unwrap_or_else(|| "\"0\"".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_found_and_tagged() {
        assert_eq!(find("/").unwrap().path, "/index.html");
        assert!(find("/js/ui.js").is_some());
        assert!(find("/../Cargo.toml").is_none());
        let a = find("/topology.html").unwrap();
        assert_eq!(etag(a), etag(find("/topology.html").unwrap()));
        assert_ne!(etag(a), etag(find("/index.html").unwrap()));
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{}", a.path);
        }
    }
}
