//! The HTTP retriever backend against a mock Search-R1 server on 127.0.0.1: request format,
//! answer parsing, retries on 5xx, no retry on 4xx, timeouts, unreachable server. The mock is an
//! independent implementation of the server side of the protocol.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arpo_core::{Tool, ToolError};
use arpo_tools::search::{
    HttpRetriever, HttpRetrieverConfig, PageFormat, SearchBackend, SearchConfig, SearchTool,
};
use serde_json::{json, Value};

/// What the mock answers to request number `n` (0-based): status, body, delay before answering.
type Script = dyn Fn(usize, &Value) -> (u16, String, Duration) + Send + Sync;

struct Mock {
    url: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

/// Serves HTTP/1.1 on an ephemeral 127.0.0.1 port, one request per connection.
fn mock(script: Arc<Script>) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/retrieve", listener.local_addr().expect("addr"));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            seen.lock().expect("lock").push(request.clone());
            let (status, answer, delay) = script(n, &request);
            std::thread::sleep(delay);
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                answer.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    Mock { url, requests }
}

fn search_r1_answer(request: &Value) -> String {
    let k = request["topk"].as_u64().unwrap_or(0) as usize;
    let query = request["queries"][0].as_str().unwrap_or_default();
    let docs: Vec<Value> = (0..k)
        .map(|i| json!({"document": {"id": i.to_string(), "contents": format!("\"Doc {i}\"\nText {i} about {query}.")}, "score": 10.0 - i as f64}))
        .collect();
    json!({ "result": [docs] }).to_string()
}

fn config(url: &str) -> HttpRetrieverConfig {
    HttpRetrieverConfig {
        timeout: Duration::from_millis(800),
        retries: 2,
        backoff: Duration::from_millis(20),
        ..HttpRetrieverConfig::new(url)
    }
}

#[tokio::test]
async fn sends_search_r1_requests_and_formats_pages() {
    let server = mock(Arc::new(|_, req| {
        (200, search_r1_answer(req), Duration::ZERO)
    }));
    let retriever = HttpRetriever::new(config(&server.url)).expect("client");
    let search_config = SearchConfig {
        top_k: 3,
        page_format: PageFormat::TitleAndSnippet,
        ..SearchConfig::default()
    };
    let tool = SearchTool::new(search_config, None, SearchBackend::Http(retriever)).expect("tool");
    let out = tool.call("who wrote Hamlet").await.expect("answer");
    assert_eq!(
        out,
        "Page 1: Doc 0: Text 0 about who wrote Hamlet.\nPage 2: Doc 1: Text 1 about who wrote Hamlet.\nPage 3: Doc 2: Text 2 about who wrote Hamlet."
    );
    let requests = server.requests.lock().expect("lock").clone();
    assert_eq!(
        requests,
        vec![json!({"queries": ["who wrote Hamlet"], "topk": 3, "return_scores": true})]
    );
}

#[tokio::test]
async fn retries_server_errors_then_succeeds() {
    let server = mock(Arc::new(|n, req| {
        if n < 2 {
            (503, "busy".to_string(), Duration::ZERO)
        } else {
            (200, search_r1_answer(req), Duration::ZERO)
        }
    }));
    let retriever = HttpRetriever::new(config(&server.url)).expect("client");
    let hits = retriever
        .retrieve("q", 2)
        .await
        .expect("third attempt succeeds");
    assert_eq!(hits.len(), 2);
    assert_eq!(server.requests.lock().expect("lock").len(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = mock(Arc::new(|_, _| {
        (
            422,
            "{\"detail\": \"bad topk\"}".to_string(),
            Duration::ZERO,
        )
    }));
    let retriever = HttpRetriever::new(config(&server.url)).expect("client");
    match retriever.retrieve("q", 2).await {
        Err(ToolError::Failed(msg)) => {
            assert!(msg.contains("422") && msg.contains("bad topk"), "{msg}")
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(server.requests.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn a_hanging_server_times_out_after_the_retries() {
    let server = mock(Arc::new(|_, req| {
        (200, search_r1_answer(req), Duration::from_secs(3))
    }));
    let retriever = HttpRetriever::new(config(&server.url)).expect("client");
    let start = std::time::Instant::now();
    assert_eq!(
        retriever.retrieve("q", 2).await,
        Err(ToolError::Timeout(Duration::from_millis(800)))
    );
    // 3 attempts of 0.8 s plus back-off, well under the mock's 3 s per answer x 3.
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_failure_not_a_hang() {
    // Bind then drop: nothing listens on this port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let retriever =
        HttpRetriever::new(config(&format!("http://127.0.0.1:{port}/retrieve"))).expect("client");
    match retriever.retrieve("q", 2).await {
        Err(ToolError::Failed(msg)) => assert!(msg.contains("after 3 attempts"), "{msg}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_answers_are_failures() {
    let server = mock(Arc::new(|_, _| {
        (200, "{\"result\": \"oops\"}".to_string(), Duration::ZERO)
    }));
    let retriever = HttpRetriever::new(config(&server.url)).expect("client");
    assert!(matches!(
        retriever.retrieve("q", 2).await,
        Err(ToolError::Failed(_))
    ));
}
