//! A tracing subscriber that keeps route-guard's events, for assertions on logs.
//!
//! Tests install it per thread (`tracing::subscriber::set_default`), but `tracing` caches each
//! callsite's interest for the whole process, computed on the thread that first reaches it: a
//! sibling test without a subscriber would cache "never" and blind a collector on another
//! thread. So creating a collector also installs, once, an inert global subscriber that answers
//! "sometimes": every event is then asked about on the thread that emits it.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, Once};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// route-guard's events as `LEVEL field=value ...` lines.
#[derive(Clone)]
pub struct Collector {
    events: Arc<Mutex<Vec<String>>>,
}

impl Default for Collector {
    fn default() -> Self {
        static ANCHOR: Once = Once::new();
        ANCHOR.call_once(|| {
            // Fails only if a global subscriber exists already, which answers for itself.
            let _ = tracing::subscriber::set_global_default(Anchor);
        });
        Collector {
            events: Arc::default(),
        }
    }
}

/// The inert global subscriber: records nothing, keeps every callsite's interest open.
struct Anchor;

impl Subscriber for Anchor {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Collector {
    /// Every event so far.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().expect("events").clone()
    }

    /// Events since the `from`-th one.
    pub fn since(&self, from: usize) -> Vec<String> {
        self.events().split_off(from.min(self.len()))
    }

    /// Events at `level` (`"ERROR"`, `"INFO"`, ...) since the `from`-th one.
    pub fn at_level_since(&self, level: &str, from: usize) -> Vec<String> {
        let prefix = format!("{level} ");
        self.since(from)
            .into_iter()
            .filter(|e| e.starts_with(&prefix))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.events.lock().expect("events").len()
    }
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for Collector {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() == "route_guard" {
            let mut fields = Fields(format!("{} ", event.metadata().level()));
            event.record(&mut fields);
            self.events.lock().expect("events").push(fields.0);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
