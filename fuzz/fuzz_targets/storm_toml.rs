//! `storm.toml` text laid over the defaults (`Config::merge_text`, what `Config::load` does with the
//! file), then read back through the typed getters the daemons use; also `-c key=value` overrides.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use storm::config::{parse_override, Config};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut conf = Config::defaults();
    if conf
        .merge_text(text, Path::new("/fuzz/conf/storm.toml"))
        .is_ok()
    {
        let keys: Vec<String> = conf.iter().map(|(k, _)| k.clone()).collect();
        for k in keys.iter().take(64) {
            let _ = conf.get_i64(k);
            let _ = conf.get_port(k);
            let _ = conf.get_f64(k);
            let _ = conf.get_string_list(k);
            let _ = conf.get_map(k);
            let _ = conf.get_path(k);
        }
        let _ = conf.zookeeper_connect_string();
        let _ = conf.to_json();
    }
    for line in text.lines().take(16) {
        let _ = parse_override(line);
    }
});
