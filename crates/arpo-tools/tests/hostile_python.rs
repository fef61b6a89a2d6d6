//! Hostile code through `PythonTool` (issue 3, must-show 1): each attack must be answered within
//! its limit, leave no process behind, and leave the host untouched. The independent checks are
//! the host's own view: `/proc` for survivors, the host filesystem for written files, a host TCP
//! listener for connections, and the wall clock.

mod common;

use std::time::{Duration, Instant};

use arpo_core::{Tool, ToolError};
use arpo_tools::{PythonConfig, PythonLimits, PythonTool};
use common::*;

/// Runs `code`, checks it ended within the call budget and left no sandbox process alive.
async fn run_hostile(code: &str) -> (Result<String, ToolError>, Duration) {
    let tool = sandboxed_tool();
    let start = Instant::now();
    let result = tool.call(code).await;
    let elapsed = start.elapsed();
    assert!(elapsed < CALL_BUDGET, "call took {elapsed:?}");
    assert_eq!(
        survivors_after_grace(&driver_marker()).await,
        0,
        "sandbox processes survived the call"
    );
    // The host can still start processes.
    let status = std::process::Command::new("true")
        .status()
        .expect("host can spawn a process");
    assert!(status.success());
    (result, elapsed)
}

#[tokio::test]
async fn fork_bomb_is_contained() {
    let _serial = SERIAL.lock().await;
    let code =
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
    let (result, elapsed) = run_hostile(code).await;
    // Every process spins, so the CPU limit (3 s) or the wall limit (5 s) ends it.
    match result {
        Err(ToolError::Limit(msg)) => assert!(msg.contains("CPU time limit"), "{msg}"),
        Err(ToolError::Timeout(d)) => assert_eq!(d, test_limits().wall_time),
        other => panic!("fork bomb returned {other:?} after {elapsed:?}"),
    }
}

#[tokio::test]
async fn process_limit_refuses_forks() {
    let _serial = SERIAL.lock().await;
    let code = "import os, time\nn = 0\nwhile True:\n    try:\n        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n        n += 1\n    except OSError as e:\n        print('refused after', n, type(e).__name__)\n        break\n";
    let (result, _) = run_hostile(code).await;
    let out = result.expect("the parent prints and exits");
    let n: u64 = out
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {out:?}"));
    // The sandbox init and the interpreter count too.
    assert!(
        n + 2 <= test_limits().max_processes,
        "{n} children with a limit of {}",
        test_limits().max_processes
    );
    assert!(out.contains("BlockingIOError"), "{out}");
}

#[tokio::test]
async fn memory_hog_of_ten_times_the_limit_fails_cleanly() {
    let _serial = SERIAL.lock().await;
    let ten_x = 10 * test_limits().memory_bytes;
    let (result, _) = run_hostile(&format!("x = bytearray({ten_x})\nprint(len(x))")).await;
    match result {
        Err(ToolError::Limit(msg)) => assert!(
            msg.contains("MemoryError") && msg.contains("Memory limit"),
            "{msg}"
        ),
        other => panic!("memory hog returned {other:?}"),
    }
    // Growing step by step hits the same wall.
    let (result, _) =
        run_hostile("chunks = []\nwhile True:\n    chunks.append(b'x' * (16 << 20))\n").await;
    assert!(
        matches!(result, Err(ToolError::Limit(ref m)) if m.contains("Memory limit")),
        "{result:?}"
    );
}

#[tokio::test]
async fn memory_spread_over_processes_is_stopped_by_the_watchdog() {
    let _serial = SERIAL.lock().await;
    // 6 children x 150 MiB touched = 900 MiB > the 512 MiB summed limit, each under 256 MiB.
    let code = "import os, time\nfor _ in range(6):\n    if os.fork() == 0:\n        block = b'x' * (150 << 20)\n        time.sleep(60)\n        os._exit(0)\ntime.sleep(60)\n";
    let (result, _) = run_hostile(code).await;
    match result {
        Err(ToolError::Limit(msg)) => assert!(msg.contains("processes used"), "{msg}"),
        other => panic!("spread hog returned {other:?}"),
    }
}

#[tokio::test]
async fn infinite_loop_hits_the_cpu_limit() {
    let _serial = SERIAL.lock().await;
    let (result, elapsed) = run_hostile("while True:\n    pass\n").await;
    match result {
        Err(ToolError::Limit(msg)) => {
            assert!(msg.contains("CPU time limit exceeded: 3 s"), "{msg}")
        }
        // On a machine too loaded to give the loop 3 s of CPU within 5 s, the wall limit ends it.
        Err(ToolError::Timeout(_)) => assert!(elapsed >= test_limits().wall_time),
        other => panic!("infinite loop returned {other:?}"),
    }
}

#[tokio::test]
async fn cpu_limit_is_enforced_when_the_wall_limit_is_far() {
    let _serial = SERIAL.lock().await;
    // 1 CPU-second against a 15 s wall limit: even a heavily loaded machine gives the loop one
    // second of CPU in 15 s, so only RLIMIT_CPU can end this call.
    let limits = PythonLimits {
        cpu_seconds: 1,
        wall_time: Duration::from_secs(15),
        ..test_limits()
    };
    let tool = PythonTool::new(PythonConfig {
        limits,
        ..PythonConfig::default()
    })
    .expect("sandbox");
    let start = Instant::now();
    let result = tool.call("while True:\n    pass\n").await;
    assert!(
        matches!(result, Err(ToolError::Limit(ref m)) if m.contains("CPU time limit exceeded: 1 s")),
        "{result:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(survivors_after_grace(&driver_marker()).await, 0);
}

#[tokio::test]
async fn long_sleep_hits_the_wall_limit() {
    let _serial = SERIAL.lock().await;
    let (result, elapsed) = run_hostile("import time\ntime.sleep(1e6)\n").await;
    assert_eq!(result, Err(ToolError::Timeout(test_limits().wall_time)));
    assert!(
        elapsed >= test_limits().wall_time
            && elapsed < test_limits().wall_time + Duration::from_secs(5)
    );
}

#[tokio::test]
async fn network_is_unreachable_from_the_sandbox() {
    let _serial = SERIAL.lock().await;
    // A host listener on 127.0.0.1: the sandbox's loopback is its own, so nothing reaches it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let code = format!(
        "import socket\nfor host, port in [('127.0.0.1', {port}), ('1.1.1.1', 80), ('8.8.8.8', 53)]:\n    try:\n        socket.create_connection((host, port), timeout=2)\n        print('CONNECTED', host)\n    except OSError as e:\n        print('blocked', host, type(e).__name__)\ntry:\n    socket.getaddrinfo('example.com', 80)\n    print('RESOLVED')\nexcept OSError as e:\n    print('dns blocked', type(e).__name__)\n"
    );
    let (result, _) = run_hostile(&code).await;
    let out = result.expect("the code handles its errors");
    assert!(
        !out.contains("CONNECTED") && !out.contains("RESOLVED"),
        "{out}"
    );
    assert_eq!(out.matches("blocked").count(), 4, "{out}");
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "the host listener got a connection from the sandbox"
    );
}

#[tokio::test]
async fn writes_to_project_tree_etc_and_host_tmp_do_not_reach_the_host() {
    let _serial = SERIAL.lock().await;
    let unique = format!("arpo-hostile-{}", std::process::id());
    let project_file = format!("{}/{unique}.txt", env!("CARGO_MANIFEST_DIR"));
    let etc_file = format!("/etc/{unique}");
    let tmp_file = format!("/tmp/{unique}");
    let code = format!(
        "for path in [{project_file:?}, {etc_file:?}, '/usr/{unique}', {tmp_file:?}]:\n    try:\n        with open(path, 'w') as f:\n            f.write('pwned')\n        print('wrote', path)\n    except OSError as e:\n        print('denied', path, type(e).__name__)\n"
    );
    let (result, _) = run_hostile(&code).await;
    let out = result.expect("the code handles its errors");
    assert_eq!(out.matches("denied").count(), 3, "{out}");
    // The private /tmp is writable inside the sandbox, and invisible outside.
    assert!(out.contains(&format!("wrote {tmp_file}")), "{out}");
    for path in [&project_file, &etc_file, &tmp_file] {
        assert!(
            !std::path::Path::new(path).exists(),
            "{path} appeared on the host"
        );
    }
}

#[tokio::test]
async fn host_home_root_and_files_are_invisible() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-TOKEN").expect("write secret");
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let code = format!(
        "import os\nfor path in ['/root', {home:?}, '/home', {dir:?}]:\n    try:\n        print('listed', path, os.listdir(path))\n    except OSError as e:\n        print('hidden', path, type(e).__name__)\nfor path in [{secret:?}, '/etc/shadow', '/etc/passwd']:\n    try:\n        print('read', path, open(path).read())\n    except OSError as e:\n        print('hidden', path, type(e).__name__)\nprint('HOME is', os.environ.get('HOME'))\n",
        dir = dir.path().display().to_string(),
        secret = secret.display().to_string(),
    );
    let (result, _) = run_hostile(&code).await;
    let out = result.expect("the code handles its errors");
    assert!(
        !out.contains("TOP-SECRET-TOKEN") && !out.contains("listed") && !out.contains("read "),
        "{out}"
    );
    assert_eq!(out.matches("hidden").count(), 7, "{out}");
    assert!(out.contains("HOME is /tmp"), "{out}");
}

#[tokio::test]
async fn printing_100_mb_is_truncated_quickly() {
    let _serial = SERIAL.lock().await;
    let (result, elapsed) = run_hostile("import sys\nsys.stdout.write('x' * 100_000_000)\n").await;
    let limit = test_limits().max_output_bytes;
    match result {
        Err(ToolError::Limit(msg)) => {
            assert!(
                msg.contains(&format!("[output truncated: more than {limit} bytes")),
                "{}",
                &msg[msg.len() - 100..]
            );
            assert!(msg.len() <= limit + 100, "kept {} bytes", msg.len());
            assert!(msg.starts_with("xxxx"));
        }
        other => panic!("100 MB print returned {other:?}"),
    }
    assert!(
        elapsed < test_limits().wall_time,
        "truncation should stop the run early, took {elapsed:?}"
    );
    // Many small prints end the same way.
    let (result, _) = run_hostile("for i in range(10**8):\n    print(i)\n").await;
    assert!(
        matches!(result, Err(ToolError::Limit(ref m)) if m.contains("output truncated")),
        "{result:?}"
    );
}

#[tokio::test]
async fn detached_background_processes_die_with_the_call() {
    let _serial = SERIAL.lock().await;
    // Unique sleep durations mark the background processes in the host's process table.
    let marks = ["987651", "987652"];
    let code = format!(
        "import os, subprocess\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execv('/usr/bin/sleep', ['sleep', '{}'])\n    os._exit(0)\nsubprocess.Popen(['sleep', '{}'], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\nprint('spawned')\n",
        marks[0], marks[1]
    );
    let (result, _) = run_hostile(&code).await;
    assert_eq!(result.expect("the parent exits at once"), "spawned");
    for mark in marks {
        assert_eq!(
            survivors_after_grace(&format!("sleep {mark}")).await,
            0,
            "background `sleep {mark}` survived"
        );
    }
}

#[tokio::test]
async fn cancelling_a_call_kills_its_sandbox() {
    let _serial = SERIAL.lock().await;
    // A caller's timeout drops the future mid-run (what ToolRunner does): nothing may survive.
    let tool = sandboxed_tool();
    let call = tool.call("import time\ntime.sleep(1e6)\n");
    assert!(tokio::time::timeout(Duration::from_millis(1500), call)
        .await
        .is_err());
    assert_eq!(survivors_after_grace(&driver_marker()).await, 0);
}
