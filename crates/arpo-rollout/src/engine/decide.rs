//! Branch decisions and their grants: the ARPO rule applied after each tool step, the budget
//! shared by a prompt's paths, refills, and the AEPO pre-check.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use arpo_core::{BranchDecision, NodeId, Policy};
use burn::tensor::backend::Backend;

use super::{Engine, Request};
use crate::branch::{branch_probability, branches, precheck_global_samples, window_entropy};
use crate::path::{split_node, tokens_before, Path, Pending};
use crate::seeds;

impl<B: Backend, P: Policy<B>> Engine<'_, B, P> {
    /// Applies the branch rule to the path's finished post-tool window.
    pub(super) fn decide(&mut self, slot: usize) {
        let Some(arpo) = self.arpo.clone() else {
            return;
        };
        let vocab = self.policy.vocab_size();
        let path = self.paths[slot].as_mut().expect("deciding path is live");
        let Some(window) = path.post_tool.take() else {
            return;
        };
        let Some(step) = window_entropy(&window.entropies, vocab, arpo.normalize_entropy) else {
            return;
        };
        let initial = path.initial_entropy.unwrap_or(step);
        let delta = step - initial;
        let round = path.decisions;
        path.decisions += 1;
        let alpha: f64 = path.decision_rng.random();
        let branched = branches(alpha, delta, &arpo, path.consecutive);
        let probability = branch_probability(delta, &arpo, path.consecutive);
        let prompt = path.prompt;
        let tree = &self.prompts[prompt].tree;
        let at_token = tokens_before(tree, window.snapshot.node, window.snapshot.segment);
        let decision = BranchDecision {
            tool_round: round,
            at_token,
            initial_entropy: initial,
            step_entropy: step,
            probability,
            draw: alpha,
            branched,
            copies: 0,
        };
        let probe_decides = path.probe && self.prompts[prompt].precheck_pending;
        if branched {
            path.consecutive += 1;
            let request = Request {
                local: path.local,
                round,
                seed: path.seed,
                consecutive: path.consecutive,
                initial_entropy: path.initial_entropy,
                history: path.history[..window.snapshot.history_len].to_vec(),
                decision,
                snapshot: window.snapshot,
            };
            self.prompts[prompt].requests.push(request);
        } else {
            path.consecutive = 0;
            self.prompts[prompt].tree.nodes[window.snapshot.node]
                .decisions
                .push(decision);
        }
        if probe_decides {
            let gain = arpo.aepo.precheck_gain.unwrap_or(0.5);
            let globals = precheck_global_samples(arpo.total, initial, step, gain);
            self.prompts[prompt].precheck_pending = false;
            self.launch_globals(prompt, globals.saturating_sub(1), false);
        }
    }

    /// Grants branch requests in (round, creation) order once no live path of the same prompt
    /// could still claim an earlier slot; refills prompts whose paths all ended early.
    pub(super) fn grant_and_refill(&mut self) {
        for prompt in 0..self.prompts.len() {
            while let Some(next) = self.next_grantable(prompt) {
                let request = self.prompts[prompt].requests.remove(next);
                self.grant(prompt, request);
            }
            let p = &self.prompts[prompt];
            if p.live == 0
                && p.requests.is_empty()
                && !p.precheck_pending
                && p.created < self.leaves()
            {
                // All paths ended before M leaves exist: the missing ones start together.
                let missing = self.leaves() - p.created;
                self.launch_globals(prompt, missing, false);
            }
        }
    }

    fn next_grantable(&self, prompt: usize) -> Option<usize> {
        let requests = &self.prompts[prompt].requests;
        let (index, first) = requests
            .iter()
            .enumerate()
            .min_by_key(|(_, r)| (r.round, r.local))?;
        let blocked = self
            .paths
            .iter()
            .flatten()
            .filter(|q| q.prompt == prompt && q.local != first.local)
            .any(|q| {
                // q may still ask for a slot that comes before `first`.
                q.decisions < first.round || (q.decisions == first.round && q.local < first.local)
            });
        (!blocked && !self.prompts[prompt].precheck_pending).then_some(index)
    }

    fn grant(&mut self, prompt: usize, request: Request<P::Cache>) {
        let arpo = self.arpo.clone().expect("requests exist only in ARPO mode");
        let mut decision = request.decision;
        let p = &mut self.prompts[prompt];
        let copies = arpo
            .copies_per_branch
            .min(self.config.mode.leaves().saturating_sub(p.created));
        decision.copies = copies;
        let snap = request.snapshot;
        // The fork point's offset in its node, taken now: a fork granted since the decision
        // may have split the node and moved the snapshot into the continuation (`remap`), and
        // whether that happened first depends on tool timing, not on the seed.
        decision.at_token = tokens_before(&p.tree, snap.node, snap.segment);
        if copies == 0 {
            p.tree.nodes[snap.node].decisions.push(decision);
            return;
        }
        let continuation = split_node(&mut p.tree, snap.node, snap.segment);
        p.tree.nodes[snap.node].decisions.push(decision);
        self.remap(prompt, snap.node, snap.segment, continuation);
        self.stats.branch_copies += copies;
        for copy in 0..copies {
            let p = &mut self.prompts[prompt];
            let seed = seeds::copy_seed(request.seed, request.round, copy);
            let node = p.tree.add_child(snap.node);
            let local = p.created;
            p.created += 1;
            p.live += 1;
            self.push_path(Path {
                prompt,
                local,
                seed,
                node,
                cache: snap.cache.clone(),
                pending: Pending::Logits(snap.logits.clone()),
                rng: ChaCha8Rng::seed_from_u64(seed),
                decision_rng: ChaCha8Rng::seed_from_u64(seeds::decision_seed(seed)),
                history: request.history.clone(),
                response_tokens: snap.response_tokens,
                tool_calls: snap.tool_calls,
                tool_state: snap.tool_state.clone(),
                initial_window: Vec::new(),
                initial_entropy: request.initial_entropy,
                post_tool: None,
                decisions: request.round + 1,
                consecutive: request.consecutive,
                open_segment: false,
                probe: false,
            });
        }
    }

    /// After `node` was split before `segment` into `child`, points every reference past the
    /// fork point (paths, their open windows, pending requests) at the child.
    fn remap(&mut self, prompt: usize, node: NodeId, segment: usize, child: NodeId) {
        let fix = |n: &mut NodeId, s: &mut usize| {
            if *n == node && *s >= segment {
                *n = child;
                *s -= segment;
            }
        };
        for path in self
            .paths
            .iter_mut()
            .flatten()
            .filter(|p| p.prompt == prompt)
        {
            if path.node == node {
                path.node = child;
            }
            if let Some(w) = path.post_tool.as_mut() {
                fix(&mut w.snapshot.node, &mut w.snapshot.segment);
            }
        }
        for r in self.prompts[prompt].requests.iter_mut() {
            fix(&mut r.snapshot.node, &mut r.snapshot.segment);
        }
    }
}
