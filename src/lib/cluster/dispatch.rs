//! Delivery of watch events to listeners, shared by both storages.
//!
//! Each storage owns one [`Dispatcher`]: a named thread that receives [`WatchEvent`]s on a channel and
//! calls every registered listener in order, outside any storage lock and outside the ZooKeeper
//! runtime, so listeners may call back into the storage. A panicking listener is logged and skipped.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::storage::{ListenerId, WatchEvent, WatchListener};

/// The listeners of one storage.
#[derive(Default)]
pub(crate) struct Listeners {
    next: AtomicU64,
    map: Mutex<BTreeMap<u64, WatchListener>>,
}

impl fmt::Debug for Listeners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.map.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("Listeners").field("count", &n).finish()
    }
}

impl Listeners {
    pub(crate) fn add(&self, listener: WatchListener) -> ListenerId {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, listener);
        ListenerId(id)
    }

    pub(crate) fn remove(&self, id: ListenerId) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id.0);
    }

    fn snapshot(&self) -> Vec<WatchListener> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// The dispatch thread of one storage.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    pub(crate) listeners: Arc<Listeners>,
    sender: Mutex<Option<mpsc::Sender<WatchEvent>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Starts the thread `name`.
    pub(crate) fn start(name: String) -> Dispatcher {
        let listeners = Arc::new(Listeners::default());
        let (tx, rx) = mpsc::channel::<WatchEvent>();
        let for_thread = listeners.clone();
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            while let Ok(event) = rx.recv() {
                for listener in for_thread.snapshot() {
                    let call = std::panic::AssertUnwindSafe(|| listener(&event));
                    if std::panic::catch_unwind(call).is_err() {
                        tracing::error!(path = %event.path, kind = ?event.kind, "a watch listener panicked");
                    }
                }
            }
        });
        let thread = match spawned {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::error!(error = %e, "cannot start a watch dispatch thread; watch events will be lost");
                None
            }
        };
        Dispatcher {
            listeners,
            sender: Mutex::new(Some(tx)),
            thread: Mutex::new(thread),
        }
    }

    /// A sender for events (`None` once stopped).
    pub(crate) fn sender(&self) -> Option<mpsc::Sender<WatchEvent>> {
        self.sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Queues one event for every listener.
    pub(crate) fn send(&self, event: WatchEvent) {
        if let Some(tx) = self
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = tx.send(event);
        }
    }

    /// Stops accepting events, lets the thread deliver what is queued, and joins it (unless called
    /// from a listener on that very thread). Senders handed out earlier must be dropped by their
    /// holders for the thread to end.
    pub(crate) fn stop(&self) {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}
