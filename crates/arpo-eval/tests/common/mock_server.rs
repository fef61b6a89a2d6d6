//! A mock OpenAI-compatible HTTP server on 127.0.0.1 for the judge and harness tests: a handler
//! picks each reply from the request number and body; every request is logged.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone)]
pub enum Reply {
    Status(u16, String),
    Hang,
}

pub fn chat(content: &str) -> Reply {
    Reply::Status(
        200,
        serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content}}]})
            .to_string(),
    )
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub head: String,
    pub body: String,
}

/// Serves each request with `handler(request number, body)`; returns the base URL and the
/// requests seen.
pub async fn serve<F>(handler: F) -> (String, Arc<Mutex<Vec<Seen>>>)
where
    F: Fn(usize, &str) -> Reply + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut sock, _)) = listener.accept().await {
            let index = n;
            n += 1;
            let log = log.clone();
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let Ok(k) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(split) = text.find("\r\n\r\n") {
                        let head = text[..split].to_string();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= split + 4 + len {
                            break (
                                head,
                                String::from_utf8_lossy(&buf[split + 4..split + 4 + len])
                                    .to_string(),
                            );
                        }
                    }
                };
                let reply = handler(index, &body);
                if let Ok(mut l) = log.lock() {
                    l.push(Seen { head, body });
                }
                match reply {
                    Reply::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
                    Reply::Status(code, body) => {
                        let resp = format!(
                            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = sock.write_all(resp.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/v1"), seen)
}

/// Serves `replies` in order (the last one repeats).
pub async fn mock(replies: Vec<Reply>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    serve(move |n, _| replies[n.min(replies.len() - 1)].clone()).await
}
