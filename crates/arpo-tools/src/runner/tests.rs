//! Runner tests against small mock tools (echo, hang, panic, fail, counting, concurrency probe).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arpo_core::{Tool, ToolError};
use async_trait::async_trait;

use super::*;

/// Answers `"{name}:{input}"` after an optional delay, counting calls and peak concurrency.
struct Mock {
    name: &'static str,
    delay: Duration,
    calls: AtomicUsize,
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Mock {
    fn new(name: &'static str, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            name,
            delay,
            calls: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Tool for Mock {
    fn name(&self) -> &str {
        self.name
    }

    async fn call(&self, input: &str) -> Result<String, ToolError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        match input {
            "fail" => Err(ToolError::Failed("backend down".into())),
            "panic" => panic!("mock tool panicked on purpose"),
            "hang" => {
                let _guard = DropFlag;
                std::future::pending::<()>().await;
                unreachable!()
            }
            _ => Ok(format!("{}:{input}", self.name)),
        }
    }
}

static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Records that a hanging call's future was dropped (cancelled) by the runner.
struct DropFlag;

impl Drop for DropFlag {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

fn runner(python: Arc<Mock>, search: Arc<Mock>, config: RunnerConfig) -> ToolRunner {
    ToolRunner::new(
        config,
        vec![
            ToolSpec::python(python).max_calls(2),
            ToolSpec::search(search).max_calls(3),
        ],
    )
    .expect("runner")
}

fn quick() -> (Arc<Mock>, Arc<Mock>) {
    (
        Mock::new("python", Duration::ZERO),
        Mock::new("search", Duration::ZERO),
    )
}

#[tokio::test]
async fn per_tool_limit_uses_the_reference_message_and_branches_are_independent() {
    let (py, se) = quick();
    let r = runner(py, se, RunnerConfig::default());
    let mut state = TrajectoryToolState::default();
    for code in ["a", "b"] {
        assert_eq!(
            r.call(&mut state, ToolRequest::new("python", code))
                .await
                .status,
            CallStatus::Ok
        );
    }
    // Branch here: the copy has the same history and the same remaining budget.
    let mut branch = state.clone();
    let over = r.call(&mut state, ToolRequest::new("python", "c")).await;
    assert!(over.over_limit());
    assert_eq!(
        over.text,
        "The maximum python call limit is exceeded. You are not allowed to use python."
    );
    assert_eq!(r.calls_made(&state, "python"), 2);
    // Search budget is separate, and the branch can still search.
    assert!(r
        .call(&mut branch, ToolRequest::new("search", "q"))
        .await
        .ok());
    assert_eq!(r.calls_made(&branch, "search"), 1);
    assert_eq!(r.calls_made(&state, "search"), 0);
    let stats = r.stats();
    assert_eq!(
        (stats[0].requests, stats[0].executed, stats[0].over_limit),
        (3, 2, 1)
    );
}

#[tokio::test]
async fn repeated_query_gets_the_reference_message_and_does_not_count() {
    let (py, se) = quick();
    let r = runner(py, Arc::clone(&se), RunnerConfig::default());
    let mut state = TrajectoryToolState::default();
    assert!(r
        .call(&mut state, ToolRequest::new("search", "capital of France"))
        .await
        .ok());
    let again = r
        .call(
            &mut state,
            ToolRequest::new("search", "capital  of France "),
        )
        .await;
    assert_eq!(again.status, CallStatus::Repeated);
    assert_eq!(again.text, REPEATED_QUERY_MESSAGE);
    assert_eq!(state.total_calls(), 1);
    // Another trajectory may run the same query: served from the result cache, not re-run.
    let mut other = TrajectoryToolState::default();
    let cached = r
        .call(&mut other, ToolRequest::new("search", "capital of France"))
        .await;
    assert_eq!(
        (cached.status.clone(), cached.text.as_str()),
        (CallStatus::Cached, "search:capital of France")
    );
    assert_eq!(se.calls.load(Ordering::SeqCst), 1);
    // The search limit (3) is reached by distinct queries, then the reference message.
    for q in ["q2", "q3"] {
        assert!(r.call(&mut state, ToolRequest::new("search", q)).await.ok());
    }
    let over = r.call(&mut state, ToolRequest::new("search", "q4")).await;
    assert_eq!(
        over.text,
        "The maximum search limit is exceeded. You are not allowed to search."
    );
}

#[tokio::test]
async fn total_limit_applies_across_tools() {
    let (py, se) = quick();
    let config = RunnerConfig {
        max_total_calls: Some(2),
        ..RunnerConfig::default()
    };
    let r = runner(py, se, config.clone());
    let mut state = TrajectoryToolState::default();
    assert!(r
        .call(&mut state, ToolRequest::new("python", "a"))
        .await
        .ok());
    assert!(r
        .call(&mut state, ToolRequest::new("search", "b"))
        .await
        .ok());
    let over = r.call(&mut state, ToolRequest::new("search", "c")).await;
    assert!(over.over_limit());
    assert_eq!(over.text, config.total_limit_message);
}

#[tokio::test]
async fn hanging_failing_and_panicking_tools_become_observations() {
    let slow = Mock::new("python", Duration::ZERO);
    let r = ToolRunner::new(
        RunnerConfig::default(),
        vec![
            ToolSpec::python(slow).timeout(Duration::from_millis(200)),
            ToolSpec::search(Mock::new("search", Duration::ZERO)),
        ],
    )
    .expect("runner");
    let mut state = TrajectoryToolState::default();
    let before = DROPPED.load(Ordering::SeqCst);
    let hung = r.call(&mut state, ToolRequest::new("python", "hang")).await;
    assert_eq!(
        hung.status,
        CallStatus::TimedOut(Duration::from_millis(200))
    );
    assert!(hung.text.contains("timed out after 0.2 s"), "{}", hung.text);
    assert!(hung.latency < Duration::from_secs(10));
    // The aborted task drops the tool's future soon after (this is what kills a sandbox).
    for _ in 0..100 {
        if DROPPED.load(Ordering::SeqCst) > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        DROPPED.load(Ordering::SeqCst) > before,
        "hung call was not cancelled"
    );

    let failed = r.call(&mut state, ToolRequest::new("python", "fail")).await;
    assert_eq!(
        failed.status,
        CallStatus::Failed(ToolError::Failed("backend down".into()))
    );
    assert_eq!(failed.text, "Error: backend down");
    let panicked = r
        .call(&mut state, ToolRequest::new("search", "panic"))
        .await;
    assert_eq!(panicked.status, CallStatus::Panicked);
    assert!(!panicked.ok());
    // A failed search is not cached: the next identical request in another trajectory runs again.
    let mut other = TrajectoryToolState::default();
    assert_eq!(
        r.call(&mut other, ToolRequest::new("search", "panic"))
            .await
            .status,
        CallStatus::Panicked
    );
    let stats = r.stats();
    assert_eq!((stats[0].timeouts, stats[0].failures), (1, 1));
    assert_eq!(stats[1].failures, 2);
}

/// Runs 6 concurrent 150 ms calls of a mock `python` tool and returns the peak concurrency.
async fn peak_concurrency(global: usize, per_tool: Option<usize>) -> usize {
    let py = Mock::new("python", Duration::from_millis(150));
    let spec = ToolSpec {
        max_concurrency: per_tool,
        ..ToolSpec::new(Arc::clone(&py) as Arc<dyn Tool>)
    };
    let config = RunnerConfig {
        max_concurrency: global,
        ..RunnerConfig::default()
    };
    let r = Arc::new(ToolRunner::new(config, vec![spec]).expect("runner"));
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let r = Arc::clone(&r);
            tokio::spawn(async move {
                let mut state = TrajectoryToolState::default();
                r.call(&mut state, ToolRequest::new("python", format!("x{i}")))
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.expect("join").ok());
    }
    assert_eq!(py.calls.load(Ordering::SeqCst), 6);
    py.peak.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_and_per_tool_concurrency_limits_hold() {
    let peak = peak_concurrency(2, None).await;
    assert!((1..=2).contains(&peak), "global limit 2: peak {peak}");
    assert_eq!(peak_concurrency(8, Some(1)).await, 1, "per-tool limit 1");
    // Without a binding limit the 6 calls overlap (each sleeps 150 ms).
    assert!(peak_concurrency(8, None).await > 2);
}

#[tokio::test]
async fn unknown_and_malformed_calls() {
    let (py, se) = quick();
    let r = runner(
        py,
        se,
        RunnerConfig {
            missing_open_tag: MissingOpenTag::Reject,
            ..RunnerConfig::default()
        },
    );
    let mut state = TrajectoryToolState::default();
    assert_eq!(
        r.call(&mut state, ToolRequest::new("browse", "x"))
            .await
            .status,
        CallStatus::UnknownTool
    );
    let request = r
        .detect("<think>t</think> print(1)</python>")
        .expect("call");
    assert!(!request.open_tag_found);
    let obs = r.call(&mut state, request).await;
    assert_eq!(obs.status, CallStatus::Malformed);
    assert_eq!(state.total_calls(), 0);
    assert_eq!(r.stop_sequences(), ["</python>", "</search>"]);
}

#[test]
fn duplicate_names_and_zero_concurrency_are_rejected() {
    let (py, se) = quick();
    assert!(ToolRunner::new(
        RunnerConfig::default(),
        vec![ToolSpec::new(py.clone()), ToolSpec::new(py.clone())]
    )
    .is_err());
    assert!(ToolRunner::new(
        RunnerConfig {
            max_concurrency: 0,
            ..RunnerConfig::default()
        },
        vec![ToolSpec::new(se)]
    )
    .is_err());
}

#[test]
fn result_cache_evicts_oldest() {
    let mut cache = ResultCache::new(2);
    cache.insert(0, "a".into(), "A".into());
    cache.insert(0, "b".into(), "B".into());
    cache.insert(0, "c".into(), "C".into());
    assert_eq!(cache.get(0, "a"), None);
    assert_eq!(cache.get(0, "c").as_deref(), Some("C"));
    assert_eq!(cache.get(1, "c"), None);
}

#[test]
fn observation_to_tool_call() {
    let obs = Observation {
        text: "42".into(),
        status: CallStatus::Ok,
        latency: Duration::from_millis(1500),
    };
    let call = obs.to_tool_call(&ToolRequest::new("python", "6*7"));
    assert_eq!(
        (call.output.as_str(), call.ok, call.latency_ms),
        ("42", true, 1500.0)
    );
    assert_eq!(obs.formatted(), " <result>\n42\n</result>");
}
