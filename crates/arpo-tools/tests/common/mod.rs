//! Helpers shared by the Python sandbox tests: a tool with small test limits, a lock that runs
//! the sandbox tests one at a time (so "no survivors" checks see only their own processes), and a
//! `/proc` scan for leftover processes.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use arpo_tools::{PythonConfig, PythonLimits, PythonTool};

/// Generous-but-bounded limits for a loaded 2-core machine: each hostile call must end within
/// its 5 s wall limit, and tests allow 20 s for the whole call.
pub fn test_limits() -> PythonLimits {
    PythonLimits {
        wall_time: Duration::from_secs(5),
        cpu_seconds: 3,
        memory_bytes: 256 << 20,
        total_rss_bytes: 512 << 20,
        max_processes: 32,
        max_output_bytes: 20_000,
        ..PythonLimits::default()
    }
}

/// The longest any hostile call may take end to end.
pub const CALL_BUDGET: Duration = Duration::from_secs(20);

/// A sandboxed tool with [`test_limits`]; panics with bubblewrap's message when no sandbox can
/// be created (install `bubblewrap`; see the crate README).
pub fn sandboxed_tool() -> PythonTool {
    let config = PythonConfig {
        limits: test_limits(),
        ..PythonConfig::default()
    };
    match PythonTool::new(config) {
        Ok(tool) => tool,
        Err(err) => panic!("the sandbox tests need a working bubblewrap sandbox: {err}"),
    }
}

/// Serialises the sandbox tests of one test binary.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Number of live (non-zombie) processes whose command line contains `needle`.
pub fn processes_matching(needle: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let me = std::process::id().to_string();
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()) && n != me)
        })
        .filter(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(needle)
        })
        .count()
}

/// Marker in the command line of every sandbox this test process started (bubblewrap and the
/// interpreter both carry it), so concurrent runs of other processes do not interfere.
pub fn driver_marker() -> String {
    arpo_tools::python::owner_tag()
}

/// Waits up to 5 s for no process to match `needle`; returns how many are left.
pub async fn survivors_after_grace(needle: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = processes_matching(needle);
        if n == 0 || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
