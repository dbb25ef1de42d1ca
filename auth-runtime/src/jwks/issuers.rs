//! One JWKS cache per issuer for multi-domain Authenticators: created on first use, bounded in
//! number (the oldest dropped first), each with its own discovery and keys.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use reqwest::Url;

use super::JwksCache;
use crate::config::{IssuerSource, Settings};
use crate::stats::Counters;

pub(crate) struct IssuerCaches {
    settings: Arc<Settings>,
    client: reqwest::Client,
    counters: Arc<Counters>,
    max: usize,
    caches: RwLock<HashMap<String, Arc<JwksCache>>>,
    /// Creation order, for eviction.
    order: Mutex<VecDeque<String>>,
}

impl IssuerCaches {
    pub(crate) fn new(
        settings: Arc<Settings>,
        client: reqwest::Client,
        counters: Arc<Counters>,
        max: usize,
    ) -> Self {
        IssuerCaches {
            settings,
            client,
            counters,
            max: max.max(1),
            caches: RwLock::new(HashMap::new()),
            order: Mutex::new(VecDeque::new()),
        }
    }

    /// The cache of the issuer `base` (`https://host/`), if one exists (no I/O).
    pub(crate) fn get(&self, issuer: &str) -> Option<Arc<JwksCache>> {
        self.caches.read().ok()?.get(issuer).cloned()
    }

    /// The cache of `base`, created (without fetching) if there is none yet.
    pub(crate) fn get_or_create(&self, base: &Url) -> Arc<JwksCache> {
        if let Some(cache) = self.get(base.as_str()) {
            return cache;
        }
        let mut settings = Settings::clone(&self.settings);
        settings.source = IssuerSource::Discover { base: base.clone() };
        let created = Arc::new(JwksCache::new(
            Arc::new(settings),
            self.client.clone(),
            Arc::clone(&self.counters),
        ));
        let Ok(mut caches) = self.caches.write() else {
            return created;
        };
        if let Some(existing) = caches.get(base.as_str()) {
            // Another request created it meanwhile.
            return Arc::clone(existing);
        }
        if let Ok(mut order) = self.order.lock() {
            while caches.len() >= self.max {
                let Some(oldest) = order.pop_front() else {
                    break;
                };
                caches.remove(&oldest);
            }
            order.push_back(base.as_str().to_owned());
        }
        caches.insert(base.as_str().to_owned(), Arc::clone(&created));
        created
    }

    /// Every cache now.
    pub(crate) fn all(&self) -> Vec<Arc<JwksCache>> {
        self.caches
            .read()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }
}
