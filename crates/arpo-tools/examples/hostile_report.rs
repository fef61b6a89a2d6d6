//! Prints how the sandbox answers each hostile program of tests/hostile_python.rs (same limits:
//! 5 s wall, 3 s CPU, 256 MiB per process, 512 MiB summed, 32 processes, 20,000 output bytes):
//! the kind of answer, its first and last lines, and the wall time.
//!
//! `cargo run -p arpo-tools --example hostile_report`

use std::time::{Duration, Instant};

use arpo_core::{Tool, ToolError};
use arpo_tools::{PythonConfig, PythonLimits, PythonTool};

const ATTACKS: [(&str, &str); 11] = [
    ("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"),
    ("fork until refused", "import os, time\nn = 0\nwhile True:\n    try:\n        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n        n += 1\n    except OSError as e:\n        print('refused after', n, type(e).__name__)\n        break\n"),
    ("memory hog 10x", "x = bytearray(10 * (256 << 20))\n"),
    ("memory over 6 processes", "import os, time\nfor _ in range(6):\n    if os.fork() == 0:\n        block = b'x' * (150 << 20)\n        time.sleep(60)\n        os._exit(0)\ntime.sleep(60)\n"),
    ("infinite loop", "while True:\n    pass\n"),
    ("sleep(1e6)", "import time\ntime.sleep(1e6)\n"),
    ("network", "import socket\nfor h, p in [('127.0.0.1', 22), ('1.1.1.1', 80)]:\n    try:\n        socket.create_connection((h, p), timeout=2); print('CONNECTED', h)\n    except OSError as e:\n        print('blocked', h, e)\n"),
    ("write project tree, /etc", "for p in ['/work/main/pwned.txt', '/etc/pwned']:\n    try:\n        open(p, 'w').write('x'); print('wrote', p)\n    except OSError as e:\n        print('denied', p, e)\n"),
    ("read /root, home", "import os\nfor p in ['/root', '/home']:\n    try:\n        print(os.listdir(p))\n    except OSError as e:\n        print('hidden', p, e)\n"),
    ("print 100 MB", "import sys\nsys.stdout.write('x' * 100_000_000)\n"),
    ("detached background", "import subprocess\nsubprocess.Popen(['sleep', '987653'], start_new_session=True)\nprint('spawned')\n"),
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let limits = PythonLimits {
        wall_time: Duration::from_secs(5),
        cpu_seconds: 3,
        memory_bytes: 256 << 20,
        total_rss_bytes: 512 << 20,
        max_processes: 32,
        ..PythonLimits::default()
    };
    let tool = PythonTool::new(PythonConfig {
        limits,
        ..PythonConfig::default()
    })?;
    println!("| attack | answer | first / last line | wall time |\n|---|---|---|---|");
    for (name, code) in ATTACKS {
        let start = Instant::now();
        let result = tool.call(code).await;
        let elapsed = start.elapsed();
        let (kind, text) = match &result {
            Ok(text) => ("output", text.clone()),
            Err(ToolError::Limit(m)) => ("limit", m.clone()),
            Err(ToolError::Timeout(d)) => (
                "timeout",
                format!("timed out after {:.1} s", d.as_secs_f64()),
            ),
            Err(e) => ("error", e.to_string()),
        };
        let first: String = text
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect();
        let last: String = text
            .lines()
            .last()
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect();
        let lines = if first == last {
            first
        } else {
            format!("{first} … {last}")
        };
        println!(
            "| {name} | {kind} | {} | {:.2} s |",
            lines.replace('|', "/"),
            elapsed.as_secs_f64()
        );
    }
    Ok(())
}
