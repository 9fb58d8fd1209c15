//! Whole logviewer requests (`storm::logviewer::http::handle`): URL routing, segment decoding, the
//! file-name checks that keep requests inside the log roots, paging and search parameters — against
//! a small log tree made once per process.
#![no_main]
use std::io::Read;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use storm::logviewer::files::LogRoots;
use storm::logviewer::http::{handle, Context};
use storm::logviewer::search::LinkBase;
use storm::paths::StormPaths;
use storm::http::{Body, Method};

fn ctx() -> &'static Context {
    static CTX: OnceLock<(tempfile::TempDir, Context)> = OnceLock::new();
    &CTX.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let paths = StormPaths::new(dir.path().join("local"), dir.path().join("logs"));
        let port = paths.worker_artifacts("wc-1-1", 6700);
        std::fs::create_dir_all(&port).unwrap();
        let log: String = (0..400)
            .map(|i| format!("{i:05} line <{i:04}> needle\n"))
            .collect();
        std::fs::write(port.join("worker.log"), log).unwrap();
        std::fs::write(port.join("worker.log.1"), b"older needle\n").unwrap();
        std::fs::write(port.join("dump.jfr"), b"JFR").unwrap();
        std::fs::write(paths.daemon_log("nimbus"), b"nimbus started\n").unwrap();
        let ctx = Context {
            roots: LogRoots::new(&paths),
            links: LinkBase {
                host: "h1".into(),
                port: 8000,
            },
            slots: vec![6700, 6701],
            auth: None,
        };
        (dir, ctx)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let url = String::from_utf8_lossy(rest);
    let method = if sel & 1 == 0 {
        Method::Get
    } else {
        Method::Head
    };
    let origin = (sel & 2 != 0).then_some("http://h1:8080");
    let reply = handle(ctx(), method, &url, origin);
    if let Body::Stream { reader, .. } = reply.body {
        let mut body = Vec::new();
        let _ = reader.take(1 << 20).read_to_end(&mut body);
    }
});
