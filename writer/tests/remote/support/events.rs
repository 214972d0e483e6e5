//! Captures the `tracing` events the remote state layer emits, so tests can check that every
//! outcome is a structured field, not only log text.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One event: its fields as text.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub fields: Vec<(String, String)>,
}

impl Captured {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

/// A subscriber that keeps every event.
#[derive(Clone, Default)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Captured>>>,
}

impl Recorder {
    /// Runs `f` with this recorder as the thread's subscriber.
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        tracing::subscriber::with_default(self.clone(), f)
    }

    /// Events with field `op` = `op` (e.g. `state.upload`), in order.
    pub fn with_op(&self, op: &str) -> Vec<Captured> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.get("op") == Some(op))
            .cloned()
            .collect()
    }

    /// The `outcome` fields of every event.
    pub fn outcomes(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| e.get("outcome").map(str::to_owned))
            .collect()
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.events.lock().unwrap().push(Captured { fields });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
