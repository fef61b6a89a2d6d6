//! The rollout loop: one batched forward per step over every live path of every prompt; tool
//! calls run as tokio tasks while the other paths keep decoding.
//!
//! Replay: a path's tokens depend only on its own seeded streams and its own logits, and branch
//! grants (which compete for the per-prompt budget) are processed in the order (tool round,
//! creation index) once no path could still claim an earlier slot. So the tree does not depend
//! on tool latency or batch order.

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::backend::Backend;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinSet;

use arpo_core::{
    BranchDecision, FinishReason, Leaf, Origin, Policy, RolloutTree, Segment, TokenId, Tokenizer,
};
use arpo_model::sample;
use arpo_tools::{Observation, ToolRequest, ToolRunner, TrajectoryToolState};

use crate::branch::window_entropy;
use crate::config::{ArpoConfig, RolloutConfig, RolloutMode};
use crate::path::{Path, Pending, PostTool, Snapshot};
use crate::seeds;

/// One prompt to roll out.
#[derive(Debug, Clone)]
pub struct RolloutInput {
    /// Id of the task (copied into the tree).
    pub task_id: String,
    /// Chat-templated prompt tokens.
    pub prompt_tokens: Vec<TokenId>,
}

/// Counters of one rollout call.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RolloutStats {
    /// Tokens fed through the model (prompts once, tool results, sampled tokens).
    pub forwarded_tokens: usize,
    /// Tokens sampled.
    pub generated_tokens: usize,
    /// Forced tool-result tokens.
    pub tool_tokens: usize,
    /// Batched forward calls.
    pub forward_calls: usize,
    /// Tool calls made.
    pub tool_calls: usize,
    /// Branch copies created.
    pub branch_copies: usize,
    /// Wall time in seconds.
    pub wall_secs: f64,
}

/// Trees (one per input, in order) and counters.
#[derive(Debug, Clone)]
pub struct RolloutOutput {
    /// One tree per prompt.
    pub trees: Vec<RolloutTree>,
    /// Counters.
    pub stats: RolloutStats,
}

struct Request<C> {
    local: usize,
    round: usize,
    seed: u64,
    consecutive: usize,
    initial_entropy: Option<f64>,
    history: Vec<TokenId>,
    decision: BranchDecision,
    snapshot: Snapshot<C>,
}

struct PromptState<C> {
    tree: RolloutTree,
    seed: u64,
    created: usize,
    globals: usize,
    live: usize,
    requests: Vec<Request<C>>,
    /// Creation index of the path behind each leaf, in `tree.leaves` order.
    leaf_paths: Vec<usize>,
    start: Option<(C, Vec<f32>)>,
    precheck_pending: bool,
}

type ToolDone = (usize, TrajectoryToolState, ToolRequest, Observation);

struct Engine<'a, B: Backend, P: Policy<B>> {
    policy: &'a P,
    tokenizer: &'a dyn Tokenizer,
    runner: Arc<ToolRunner>,
    config: &'a RolloutConfig,
    arpo: Option<ArpoConfig>,
    prompts: Vec<PromptState<P::Cache>>,
    paths: Vec<Option<Path<P::Cache>>>,
    snapshot_due: Vec<bool>,
    tools: JoinSet<ToolDone>,
    stats: RolloutStats,
    _backend: std::marker::PhantomData<B>,
}

/// Rolls out every input and returns one tree per input.
pub async fn rollout<B: Backend, P: Policy<B>>(
    policy: &P,
    tokenizer: &dyn Tokenizer,
    runner: Arc<ToolRunner>,
    inputs: &[RolloutInput],
    config: &RolloutConfig,
    seed: u64,
) -> arpo_core::Result<RolloutOutput> {
    let arpo = match &config.mode {
        RolloutMode::Trajectory { .. } => None,
        RolloutMode::Arpo(a) => {
            if a.initial == 0 || a.initial > a.total || a.entropy_window == 0 {
                return Err(arpo_core::Error::Config(format!(
                    "ARPO needs 0 < initial ({}) <= total ({}) and a window > 0",
                    a.initial, a.total
                )));
            }
            Some(a.clone())
        }
    };
    let start = Instant::now();
    let mut engine = Engine {
        policy,
        tokenizer,
        runner,
        config,
        arpo,
        prompts: Vec::new(),
        paths: Vec::new(),
        snapshot_due: Vec::new(),
        tools: JoinSet::new(),
        stats: RolloutStats::default(),
        _backend: std::marker::PhantomData,
    };
    engine.prefill_prompts(inputs, seed)?;
    engine.run().await?;
    for prompt in engine.prompts.iter_mut() {
        // Leaves in creation order of their paths (finishing order depends on timing).
        let mut order: Vec<usize> = (0..prompt.leaf_paths.len()).collect();
        order.sort_by_key(|&i| prompt.leaf_paths[i]);
        let leaves = std::mem::take(&mut prompt.tree.leaves);
        prompt.tree.leaves = order.into_iter().map(|i| leaves[i].clone()).collect();
        let tree = &mut prompt.tree;
        for node in tree.nodes.iter_mut() {
            // Granted branch decisions are recorded when granted, possibly after a later
            // non-branching decision of the same path: restore the path order.
            node.decisions.sort_by_key(|d| (d.at_token, d.tool_round));
        }
        for seg in tree
            .nodes
            .iter_mut()
            .flat_map(|n| n.segments.iter_mut())
            .filter(|s| s.origin == Origin::Model)
        {
            seg.text = tokenizer.decode(&seg.tokens)?;
        }
    }
    engine.stats.wall_secs = start.elapsed().as_secs_f64();
    Ok(RolloutOutput {
        trees: engine.prompts.into_iter().map(|p| p.tree).collect(),
        stats: engine.stats,
    })
}

impl<B: Backend, P: Policy<B>> Engine<'_, B, P> {
    fn leaves(&self) -> usize {
        self.config.mode.leaves()
    }

    fn logits_rows(&self, tensor: burn::tensor::Tensor<B, 2>) -> arpo_core::Result<Vec<Vec<f32>>> {
        let [rows, vocab] = tensor.dims();
        let flat = tensor
            .into_data()
            .to_vec::<f32>()
            .map_err(|e| arpo_core::Error::Model(format!("reading logits: {e:?}")))?;
        Ok((0..rows)
            .map(|r| flat[r * vocab..(r + 1) * vocab].to_vec())
            .collect())
    }

    /// Forwards every prompt once (one batch); its cache is then forked for each trajectory.
    fn prefill_prompts(&mut self, inputs: &[RolloutInput], seed: u64) -> arpo_core::Result<()> {
        let mut caches: Vec<_> = inputs.iter().map(|_| self.policy.new_cache()).collect();
        let rows: Vec<Vec<TokenId>> = inputs.iter().map(|i| i.prompt_tokens.clone()).collect();
        if rows.iter().any(Vec::is_empty) {
            return Err(arpo_core::Error::Config("empty prompt".into()));
        }
        let logits = if rows.is_empty() {
            Vec::new()
        } else {
            self.logits_rows(self.policy.extend(&rows, &mut caches)?)?
        };
        self.stats.forwarded_tokens += rows.iter().map(Vec::len).sum::<usize>();
        self.stats.forward_calls += 1;
        for (i, ((input, cache), logits)) in inputs.iter().zip(caches).zip(logits).enumerate() {
            let prompt_seed = seeds::prompt_seed(seed, i);
            let text = self.tokenizer.decode(&input.prompt_tokens)?;
            let root = Segment::forced(Origin::Prompt, input.prompt_tokens.clone(), text);
            let precheck = self
                .arpo
                .as_ref()
                .and_then(|a| a.aepo.precheck_gain)
                .is_some();
            self.prompts.push(PromptState {
                tree: RolloutTree::new(input.task_id.clone(), prompt_seed, root),
                seed: prompt_seed,
                created: 0,
                globals: 0,
                live: 0,
                requests: Vec::new(),
                leaf_paths: Vec::new(),
                start: Some((cache, logits)),
                precheck_pending: precheck,
            });
            let first = match (&self.arpo, precheck) {
                (_, true) => 1,
                (Some(a), false) => a.initial,
                (None, _) => self.leaves(),
            };
            self.launch_globals(i, first, precheck);
        }
        Ok(())
    }

    fn launch_globals(&mut self, prompt: usize, count: usize, probe: bool) {
        for _ in 0..count {
            let p = &mut self.prompts[prompt];
            let (cache, logits) = p.start.as_ref().expect("prompt prefilled").clone();
            let seed = seeds::global_seed(p.seed, p.globals);
            p.globals += 1;
            let node = p.tree.add_child(0);
            let local = p.created;
            p.created += 1;
            p.live += 1;
            let history = p.tree.nodes[0].segments[0].tokens.clone();
            self.push_path(Path {
                prompt,
                local,
                seed,
                node,
                cache,
                pending: Pending::Logits(logits),
                rng: ChaCha8Rng::seed_from_u64(seed),
                decision_rng: ChaCha8Rng::seed_from_u64(seeds::decision_seed(seed)),
                history,
                response_tokens: 0,
                tool_calls: 0,
                tool_state: TrajectoryToolState::default(),
                initial_window: Vec::new(),
                initial_entropy: None,
                post_tool: None,
                decisions: 0,
                consecutive: 0,
                open_segment: false,
                probe,
            });
        }
    }

    fn push_path(&mut self, path: Path<P::Cache>) {
        self.paths.push(Some(path));
        self.snapshot_due.push(false);
    }

    async fn run(&mut self) -> arpo_core::Result<()> {
        loop {
            while let Some(done) = self.tools.try_join_next() {
                self.admit(done)?;
            }
            self.grant_and_refill();
            let mut ready: Vec<usize> = (0..self.paths.len())
                .filter(|&s| {
                    matches!(
                        self.paths[s].as_ref().map(|p| &p.pending),
                        Some(Pending::Input(_) | Pending::Logits(_))
                    )
                })
                .collect();
            if ready.is_empty() {
                match self.tools.join_next().await {
                    Some(done) => self.admit(done)?,
                    None if self.paths.iter().all(Option::is_none) => return Ok(()),
                    None => {
                        return Err(arpo_core::Error::Model(
                            "rollout stalled with live paths".into(),
                        ))
                    }
                }
                continue;
            }
            ready.sort_by_key(|&s| self.paths[s].as_ref().map(|p| (p.prompt, p.local)));
            self.step(&ready)?;
            tokio::task::yield_now().await;
        }
    }

    /// Feeds the paths that have input, then samples one token for every ready path.
    fn step(&mut self, ready: &[usize]) -> arpo_core::Result<()> {
        let feed: Vec<usize> = ready
            .iter()
            .copied()
            .filter(|&s| {
                matches!(
                    self.paths[s].as_ref().map(|p| &p.pending),
                    Some(Pending::Input(_))
                )
            })
            .collect();
        // A batch is padded to its longest row, so one tool result (tens of tokens) fed beside
        // single-token decode steps would multiply their work by its length: decode steps are
        // batched together, and each multi-token row (a tool result) is forwarded on its own.
        let (decode, multi): (Vec<usize>, Vec<usize>) = feed.iter().partition(|&&s| {
            matches!(
                self.paths[s].as_ref().map(|p| &p.pending),
                Some(Pending::Input(tokens)) if tokens.len() == 1
            )
        });
        let chunk = self.config.max_batch_rows.unwrap_or(usize::MAX).max(1);
        for group in decode.chunks(chunk) {
            self.forward_group(group)?;
        }
        for &s in &multi {
            self.forward_group(&[s])?;
        }
        for &s in ready {
            self.sample_next(s)?;
        }
        Ok(())
    }

    /// One batched forward over the pending input of the paths in `group`.
    fn forward_group(&mut self, group: &[usize]) -> arpo_core::Result<()> {
        let mut rows = Vec::with_capacity(group.len());
        let mut caches = Vec::with_capacity(group.len());
        for &s in group {
            let path = self.paths[s].as_mut().expect("ready path is live");
            if let Pending::Input(tokens) = std::mem::replace(&mut path.pending, Pending::Tool) {
                rows.push(tokens);
            }
            caches.push(std::mem::replace(&mut path.cache, self.policy.new_cache()));
        }
        let logits = self.logits_rows(self.policy.extend(&rows, &mut caches)?)?;
        self.stats.forwarded_tokens += rows.iter().map(Vec::len).sum::<usize>();
        self.stats.forward_calls += 1;
        for ((&s, cache), logits) in group.iter().zip(caches).zip(logits) {
            let path = self.paths[s].as_mut().expect("fed path is live");
            path.cache = cache;
            path.pending = Pending::Logits(logits);
        }
        Ok(())
    }

    fn sample_next(&mut self, slot: usize) -> arpo_core::Result<()> {
        let window = self.arpo.as_ref().map(|a| a.entropy_window);
        let (vocab, normalize) = (self.policy.vocab_size(), self.normalize());
        let path = self.paths[slot].as_mut().expect("sampled path is live");
        let Pending::Logits(logits) = std::mem::replace(&mut path.pending, Pending::Tool) else {
            unreachable!("sample_next is called on paths with logits");
        };
        if std::mem::take(&mut self.snapshot_due[slot]) {
            let tree = &self.prompts[path.prompt].tree;
            path.post_tool = Some(PostTool {
                entropies: Vec::new(),
                snapshot: Snapshot {
                    cache: path.cache.clone(),
                    logits: logits.clone(),
                    node: path.node,
                    segment: tree.nodes[path.node].segments.len(),
                    history_len: path.history.len(),
                    response_tokens: path.response_tokens,
                    tool_calls: path.tool_calls,
                    tool_state: path.tool_state.clone(),
                },
            });
        }
        let t = sample(&logits, &path.history, &self.config.sampling, &mut path.rng);
        path.history.push(t.token);
        path.response_tokens += 1;
        self.stats.generated_tokens += 1;
        let tree = &mut self.prompts[path.prompt].tree;
        if !path.open_segment {
            tree.nodes[path.node].segments.push(Segment {
                origin: Origin::Model,
                tokens: vec![],
                logprobs: vec![],
                entropies: vec![],
                loss_mask: vec![],
                text: String::new(),
                tool_call: None,
            });
            path.open_segment = true;
        }
        let seg = tree.nodes[path.node]
            .segments
            .last_mut()
            .expect("open segment");
        seg.tokens.push(t.token);
        seg.logprobs.push(t.logprob as f32);
        seg.entropies.push(t.entropy as f32);
        seg.loss_mask.push(true);
        let entropy = t.entropy as f32;
        let mut decide_now = false;
        if let Some(k) = window {
            if path.initial_entropy.is_none() {
                path.initial_window.push(entropy);
                if path.initial_window.len() >= k {
                    path.initial_entropy = window_entropy(&path.initial_window, vocab, normalize);
                }
            }
            if let Some(pt) = path.post_tool.as_mut() {
                pt.entropies.push(entropy);
                decide_now = pt.entropies.len() >= k;
            }
        }
        if decide_now {
            self.decide(slot);
        }
        let path = self.paths[slot].as_mut().expect("live");
        if self.config.stop_tokens.contains(&t.token) {
            return self.finish(slot, FinishReason::Stop);
        }
        if path.response_tokens >= self.config.max_response_tokens {
            return self.finish(slot, FinishReason::Length);
        }
        let piece = self.tokenizer.decode(&[t.token])?;
        if piece.contains('>') {
            let tree = &self.prompts[path.prompt].tree;
            let seg = tree.nodes[path.node].segments.last().expect("open segment");
            let text = self.tokenizer.decode(&seg.tokens)?;
            if let Some(request) = self.runner.detect(&text) {
                return self.start_tool(slot, request);
            }
        }
        self.paths[slot].as_mut().expect("live").pending = Pending::Input(vec![t.token]);
        Ok(())
    }

    fn normalize(&self) -> bool {
        self.arpo.as_ref().is_some_and(|a| a.normalize_entropy)
    }

    /// Ends the current turn segment: closes the initial-entropy window and any open post-tool
    /// window (deciding with the tokens it has).
    fn close_windows(&mut self, slot: usize) {
        if self.arpo.is_none() {
            return;
        }
        let (vocab, normalize) = (self.policy.vocab_size(), self.normalize());
        let path = self.paths[slot].as_mut().expect("live");
        if path.initial_entropy.is_none() {
            path.initial_entropy = window_entropy(&path.initial_window, vocab, normalize);
        }
        if path.post_tool.is_some() {
            self.decide(slot);
        }
    }

    fn start_tool(&mut self, slot: usize, request: ToolRequest) -> arpo_core::Result<()> {
        self.close_windows(slot);
        let path = self.paths[slot].as_mut().expect("live");
        path.open_segment = false;
        path.pending = Pending::Tool;
        let runner = self.runner.clone();
        let mut state = path.tool_state.clone();
        self.tools.spawn(async move {
            let observation = runner.call(&mut state, request.clone()).await;
            (slot, state, request, observation)
        });
        Ok(())
    }

    fn admit(&mut self, done: Result<ToolDone, tokio::task::JoinError>) -> arpo_core::Result<()> {
        let (slot, state, request, observation) =
            done.map_err(|e| arpo_core::Error::Model(format!("tool task failed: {e}")))?;
        self.stats.tool_calls += 1;
        let path = self.paths[slot]
            .as_mut()
            .expect("a path waiting on a tool is live");
        path.tool_state = state;
        if observation.over_limit() && self.config.end_on_tool_limit {
            return self.finish(slot, FinishReason::ToolLimit);
        }
        let text = observation.formatted();
        let mut tokens = self.tokenizer.encode(&text)?;
        let room = self
            .config
            .max_response_tokens
            .saturating_sub(path.response_tokens);
        let cap = self.config.max_tool_result_tokens.min(room);
        if tokens.len() > cap {
            let head = self.tokenizer.encode(" <result>\n")?;
            let tail = self.tokenizer.encode("\n</result>")?;
            let inner = self.tokenizer.encode(&observation.text)?;
            let keep = cap.saturating_sub(head.len() + tail.len());
            tokens = head
                .into_iter()
                .chain(inner.into_iter().take(keep))
                .chain(tail)
                .take(cap)
                .collect();
        }
        let decoded = self.tokenizer.decode(&tokens)?;
        let mut segment = Segment::forced(Origin::Tool, tokens.clone(), decoded);
        segment.tool_call = Some(observation.to_tool_call(&request));
        // The token that closed the call was sampled but never fed (the path stopped for the
        // tool): it enters the cache now, ahead of the result, as it sits in the sequence.
        let closing = *path
            .history
            .last()
            .expect("a tool call was sampled, so the history is not empty");
        path.tool_calls += 1;
        path.response_tokens += tokens.len();
        path.history.extend(&tokens);
        self.stats.tool_tokens += tokens.len();
        self.prompts[path.prompt].tree.nodes[path.node]
            .segments
            .push(segment);
        if tokens.is_empty() || path.response_tokens >= self.config.max_response_tokens {
            return self.finish(slot, FinishReason::Length);
        }
        let mut input = Vec::with_capacity(tokens.len() + 1);
        input.push(closing);
        input.extend(tokens);
        path.pending = Pending::Input(input);
        self.snapshot_due[slot] = self.arpo.is_some();
        Ok(())
    }

    fn finish(&mut self, slot: usize, finish: FinishReason) -> arpo_core::Result<()> {
        self.close_windows(slot);
        let path = self.paths[slot].take().expect("finished path was live");
        let prompt = &mut self.prompts[path.prompt];
        prompt.tree.leaves.push(Leaf {
            node: path.node,
            finish,
            tool_calls: path.tool_calls,
            reward: None,
        });
        prompt.leaf_paths.push(path.local);
        prompt.live -= 1;
        if path.probe && prompt.precheck_pending {
            // The probe ended without a tool step: fall back to the configured N.
            prompt.precheck_pending = false;
            let n = self.arpo.as_ref().map_or(1, |a| a.initial);
            self.launch_globals(path.prompt, n.saturating_sub(1), false);
        }
        Ok(())
    }
}

mod decide;
