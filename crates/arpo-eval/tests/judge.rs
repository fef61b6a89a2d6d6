//! The LLM judge client against a mock OpenAI-compatible server on 127.0.0.1: the request it
//! sends (path, bearer key from the environment, model, the reference prompt), the verdict it
//! reads, retries on 5xx / 429 / malformed replies, no retry on other 4xx, and timeouts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arpo_eval::judge::{judge_prompt, JudgeClient, JudgeConfig, Verdict};
mod common;

use common::mock_server::{chat, mock, Reply, Seen};
use tokio::net::TcpListener;

fn config(url: &str, key_env: &str) -> JudgeConfig {
    JudgeConfig {
        api_key_env: key_env.into(),
        timeout: Duration::from_secs(5),
        backoff: Duration::from_millis(10),
        ..JudgeConfig::new(url, "judge-model")
    }
}

fn count(seen: &Arc<Mutex<Vec<Seen>>>) -> usize {
    seen.lock().map(|l| l.len()).unwrap_or(0)
}

#[tokio::test]
async fn sends_the_reference_prompt_and_reads_correct() {
    let (url, seen) = mock(vec![chat("Correct")]).await;
    std::env::set_var("ARPO_TEST_JUDGE_KEY_A", "sk-test-123");
    let judge =
        JudgeClient::new(config(&url, "ARPO_TEST_JUDGE_KEY_A")).unwrap_or_else(|e| panic!("{e}"));
    let v = judge
        .judge("Who wrote Hamlet?", &["William Shakespeare"], "Shakespeare")
        .await;
    assert_eq!(v.ok(), Some(Verdict::Correct));
    let seen = seen.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0]
            .head
            .starts_with("POST /v1/chat/completions HTTP/1.1"),
        "{}",
        seen[0].head
    );
    assert!(
        seen[0]
            .head
            .to_ascii_lowercase()
            .contains("authorization: bearer sk-test-123"),
        "{}",
        seen[0].head
    );
    let body: serde_json::Value =
        serde_json::from_str(&seen[0].body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body["model"], "judge-model");
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(
        body["messages"][0]["content"],
        judge_prompt("Who wrote Hamlet?", &["William Shakespeare"], "Shakespeare")
    );
}

#[tokio::test]
async fn no_key_no_authorization_header() {
    let (url, seen) = mock(vec![chat("Incorrect")]).await;
    let judge = JudgeClient::new(config(&url, "ARPO_TEST_JUDGE_KEY_UNSET"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        judge.judge("q", &["a"], "b").await.ok(),
        Some(Verdict::Incorrect)
    );
    let head = seen
        .lock()
        .map(|l| l[0].head.to_ascii_lowercase())
        .unwrap_or_default();
    assert!(!head.contains("authorization"), "{head}");
}

#[tokio::test]
async fn retries_server_errors_and_malformed_replies() {
    let (url, seen) = mock(vec![
        Reply::Status(500, "oops".into()),
        Reply::Status(429, "{}".into()),
        Reply::Status(200, "not json".into()),
        chat("Incorrect"),
    ])
    .await;
    let judge = JudgeClient::new(JudgeConfig {
        max_attempts: 4,
        ..config(&url, "ARPO_TEST_JUDGE_KEY_UNSET")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        judge.judge("q", &["a"], "b").await.ok(),
        Some(Verdict::Incorrect)
    );
    assert_eq!(count(&seen), 4);
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let (url, seen) = mock(vec![Reply::Status(503, "busy".into())]).await;
    let judge = JudgeClient::new(JudgeConfig {
        max_attempts: 2,
        ..config(&url, "ARPO_TEST_JUDGE_KEY_UNSET")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let err = judge
        .judge("q", &["a"], "b")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("gave up after 2 attempts") && err.contains("503"),
        "{err}"
    );
    assert_eq!(count(&seen), 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (url, seen) = mock(vec![Reply::Status(401, "{\"error\": \"bad key\"}".into())]).await;
    let judge = JudgeClient::new(config(&url, "ARPO_TEST_JUDGE_KEY_UNSET"))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = judge
        .judge("q", &["a"], "b")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("401"), "{err}");
    assert_eq!(count(&seen), 1);
}

#[tokio::test]
async fn hanging_server_times_out() {
    let (url, seen) = mock(vec![Reply::Hang]).await;
    let judge = JudgeClient::new(JudgeConfig {
        timeout: Duration::from_millis(300),
        max_attempts: 2,
        ..config(&url, "ARPO_TEST_JUDGE_KEY_UNSET")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    let err = judge
        .judge("q", &["a"], "b")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("gave up after 2 attempts"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(count(&seen), 2);
}

#[tokio::test]
async fn unreachable_server_is_an_error() {
    // Bind then drop a listener: nothing listens on that port any more.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"));
    let judge = JudgeClient::new(JudgeConfig {
        max_attempts: 1,
        ..config(&format!("http://{addr}/v1"), "ARPO_TEST_JUDGE_KEY_UNSET")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(judge.judge("q", &["a"], "b").await.is_err());
}
