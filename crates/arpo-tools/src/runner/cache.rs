//! The runner's result cache: (tool, input) → answer text, bounded, oldest entry evicted first.

use std::collections::{HashMap, VecDeque};

/// Bounded (tool, input) → text map; the oldest entry is evicted first.
pub(super) struct ResultCache {
    capacity: usize,
    map: HashMap<(usize, String), String>,
    order: VecDeque<(usize, String)>,
}

impl ResultCache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(super) fn get(&self, slot: usize, input: &str) -> Option<String> {
        self.map.get(&(slot, input.to_string())).cloned()
    }

    pub(super) fn insert(&mut self, slot: usize, input: String, text: String) {
        if self.capacity == 0 {
            return;
        }
        let key = (slot, input);
        if self.map.insert(key.clone(), text).is_none() {
            self.order.push_back(key);
        }
        while self.map.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }
}
