//! URL handling of the HTTP daemons: DRPC's REST routes (`/drpc/<func>/<args>`), the shared URL
//! decoders and query parser (`storm::http`, UI and logviewer), the logviewer's callback sanitising.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storm::http::Method;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let url = String::from_utf8_lossy(rest);
    let method = match sel % 4 {
        0 => Method::Get,
        1 => Method::Post,
        2 => Method::Put,
        _ => Method::Head,
    };
    let _ = storm::drpc::http::route(method, &url);
    let _ = storm::drpc::http::percent_decode(&url);
    if let Some(decoded) = storm::http::url_decode(&url) {
        // Encoding then decoding gives the text back.
        let enc = storm::http::url_encode(&decoded);
        assert_eq!(
            storm::http::url_decode(&enc).as_deref(),
            Some(decoded.as_str())
        );
    }
    let _ = storm::http::url_decode_lossy(&url, sel & 0x10 != 0);
    let (_, query) = url.split_once('?').unwrap_or(("", &url));
    let q = storm::http::Query::parse(query);
    let _ = q.get("callback");
    let _ = q.flag("sys");
    let _ = storm::logviewer::http::sanitize_callback(q.get("callback"));
});
