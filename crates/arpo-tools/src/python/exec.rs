//! One Python call: start the sandbox, feed the code on stdin, collect capped output while a
//! watchdog enforces wall time and summed memory, kill everything at the end, and say how the run
//! ended.

use std::process::Stdio;
use std::time::{Duration, Instant};

use arpo_core::ToolError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::sandbox::{argv, SandboxKind, SANDBOX_ENV};
use super::watchdog::tree_rss_bytes;
use super::{HostUser, PythonConfig};

/// How often the watchdog sums the resident memory of the call's processes.
const WATCHDOG_PERIOD: Duration = Duration::from_millis(100);
/// How long to keep reading after the interpreter exited (buffered output, stragglers).
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// Bubblewrap's own diagnostics kept (its stderr; the code's stderr goes to stdout).
const MAX_DIAGNOSTIC_BYTES: usize = 8 << 10;
/// Driver exit codes (see bootstrap.py).
const EXIT_EXCEPTION: i32 = 101;
const EXIT_MEMORY_ERROR: i32 = 102;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The interpreter exited on its own with this code (0, or the code given to `sys.exit`).
    Exited(i32),
    /// The code raised; the traceback is in the output.
    Exception,
    /// A `MemoryError` (RLIMIT_AS reached).
    MemoryError,
    /// The watchdog saw the summed resident memory of the call's processes above the limit.
    MemoryWatchdog {
        /// Summed RSS at the sample that tripped, in bytes.
        rss_bytes: u64,
    },
    /// RLIMIT_CPU reached (SIGXCPU, or SIGKILL at the hard limit).
    CpuLimit,
    /// The wall-time limit was reached and the sandbox killed.
    WallTimeout,
    /// The output limit was reached and the sandbox killed.
    OutputLimit,
    /// Killed by a signal nobody here sent (e.g. the kernel's OOM killer).
    Signal(i32),
    /// The sandbox itself failed to start or set up.
    SandboxFailure(String),
    /// The input was refused without running (too large).
    Refused(String),
}

/// Result of [`super::PythonTool::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// Output and traceback as the code printed them, capped at `max_output_bytes`.
    pub output: String,
    /// Whether output was cut at the limit.
    pub truncated: bool,
    /// How the run ended.
    pub ending: Ending,
    /// Wall time of the call.
    pub elapsed: Duration,
    /// The limits the run had, to word messages.
    limits: LimitsForMessages,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct LimitsForMessages {
    wall_time: Duration,
    cpu_seconds: u64,
    memory_bytes: u64,
    total_rss_bytes: u64,
    max_output_bytes: usize,
}

impl RunOutcome {
    /// Maps the outcome to the [`arpo_core::Tool`] contract: the output (or traceback) when the
    /// code ran to its end, a [`ToolError`] with a clear message when a limit stopped it.
    pub fn into_result(self) -> Result<String, ToolError> {
        let l = self.limits;
        let with_output = |message: String| {
            if self.output.trim().is_empty() {
                message
            } else {
                format!("{}\n{message}", self.output.trim_end())
            }
        };
        match self.ending {
            // Trailing newlines of the last print are dropped: the result tag adds its own.
            Ending::Exited(0) | Ending::Exception => Ok(self.output.trim_end().to_string()),
            Ending::Exited(code) => Ok(with_output(format!("Process exited with code {code}."))),
            Ending::MemoryError => Err(ToolError::Limit(with_output(format!(
                "Memory limit exceeded: {} MiB per process.",
                l.memory_bytes >> 20
            )))),
            Ending::MemoryWatchdog { rss_bytes } => Err(ToolError::Limit(with_output(format!(
                "Memory limit exceeded: the code's processes used {} MiB (limit {} MiB); killed.",
                rss_bytes >> 20,
                l.total_rss_bytes >> 20
            )))),
            Ending::CpuLimit => Err(ToolError::Limit(with_output(format!(
                "CPU time limit exceeded: {} s; killed.",
                l.cpu_seconds
            )))),
            Ending::WallTimeout => Err(ToolError::Timeout(l.wall_time)),
            Ending::OutputLimit => Err(ToolError::Limit(format!(
                "{}\n[output truncated: more than {} bytes; execution stopped]",
                self.output.trim_end(),
                l.max_output_bytes
            ))),
            Ending::Signal(libc::SIGKILL) => Err(ToolError::Limit(with_output(
                "Killed (SIGKILL: out of memory or CPU hard limit).".to_string(),
            ))),
            Ending::Signal(sig) => Err(ToolError::Failed(with_output(format!(
                "Killed by signal {sig}."
            )))),
            Ending::SandboxFailure(message) => {
                Err(ToolError::Failed(format!("sandbox failure: {message}")))
            }
            Ending::Refused(reason) => Err(ToolError::Refused(reason)),
        }
    }
}

/// Runs `code` once under `config`.
pub(crate) async fn run(config: &PythonConfig, kind: SandboxKind, code: &str) -> RunOutcome {
    let l = &config.limits;
    let limits = LimitsForMessages {
        wall_time: l.wall_time,
        cpu_seconds: l.cpu_seconds,
        memory_bytes: l.memory_bytes,
        total_rss_bytes: l.total_rss_bytes,
        max_output_bytes: l.max_output_bytes,
    };
    let start = Instant::now();
    let outcome = |output: String, truncated: bool, ending: Ending| RunOutcome {
        output,
        truncated,
        ending,
        elapsed: start.elapsed(),
        limits,
    };
    if code.len() > l.max_code_bytes {
        let reason = format!(
            "code is {} bytes; the limit is {} bytes",
            code.len(),
            l.max_code_bytes
        );
        return outcome(String::new(), false, Ending::Refused(reason));
    }
    let mut cmd = command(config, kind);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return outcome(
                String::new(),
                false,
                Ending::SandboxFailure(format!("spawn: {e}")),
            )
        }
    };
    let Some(pid) = child.id() else {
        return outcome(
            String::new(),
            false,
            Ending::SandboxFailure("child exited before it was observed".into()),
        );
    };
    // Killing the process group and the direct child on every exit path (including this future
    // being dropped by a caller's timeout) tears down the pid namespace and all its processes.
    let mut group = GroupKill {
        pgid: pid as libc::pid_t,
        armed: true,
    };

    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return outcome(
            String::new(),
            false,
            Ending::SandboxFailure("missing stdio pipes".into()),
        );
    };
    let code_bytes = code.as_bytes().to_vec();
    let writer = tokio::spawn(async move {
        // A closed pipe means the code ended early; its output says why.
        let _ = stdin.write_all(&code_bytes).await;
        let _ = stdin.shutdown().await;
    });

    let deadline = tokio::time::Instant::from_std(start + l.wall_time);
    let mut out = Vec::with_capacity(4096);
    let mut diag = Vec::new();
    let (mut out_open, mut diag_open) = (true, true);
    let mut buf = vec![0u8; 64 << 10];
    let mut dbuf = vec![0u8; 4 << 10];
    // First sample after one period: short calls never pay for a /proc scan.
    let mut watchdog = tokio::time::interval_at(
        tokio::time::Instant::now() + WATCHDOG_PERIOD,
        WATCHDOG_PERIOD,
    );
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut exit_status = None;
    let mut drain_until: Option<tokio::time::Instant> = None;
    let mut stopped: Option<Ending> = None;

    while out_open || diag_open || exit_status.is_none() {
        if let Some(until) = drain_until {
            if tokio::time::Instant::now() >= until {
                break;
            }
        }
        tokio::select! {
            read = stdout.read(&mut buf), if out_open => match read {
                Ok(0) | Err(_) => out_open = false,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.len() > l.max_output_bytes {
                        stopped = Some(Ending::OutputLimit);
                        break;
                    }
                }
            },
            read = stderr.read(&mut dbuf), if diag_open => match read {
                Ok(0) | Err(_) => diag_open = false,
                Ok(n) => if diag.len() < MAX_DIAGNOSTIC_BYTES { diag.extend_from_slice(&dbuf[..n]) },
            },
            status = child.wait(), if exit_status.is_none() => {
                exit_status = Some(status);
                // Stragglers of an unsandboxed run die with the group; sandboxed ones already
                // died with the pid namespace.
                kill_group(pid as libc::pid_t);
                drain_until = Some(tokio::time::Instant::now() + DRAIN_GRACE);
            },
            _ = tokio::time::sleep_until(deadline), if exit_status.is_none() => {
                stopped = Some(Ending::WallTimeout);
                break;
            },
            _ = watchdog.tick(), if exit_status.is_none() => {
                // A /proc scan is blocking file I/O: keep it off the async workers.
                let rss = tokio::task::spawn_blocking(move || tree_rss_bytes(pid)).await.unwrap_or(0);
                if rss > l.total_rss_bytes {
                    stopped = Some(Ending::MemoryWatchdog { rss_bytes: rss });
                    break;
                }
            },
            _ = sleep_until_opt(drain_until), if drain_until.is_some() => break,
        }
    }
    writer.abort();
    kill_group(pid as libc::pid_t);
    let _ = child.start_kill();
    let status = match exit_status {
        Some(status) => status.ok(),
        None => child.wait().await.ok(),
    };
    group.armed = false;

    let (output, truncated) = cap_output(&out, l.max_output_bytes);
    let ending = match stopped {
        Some(ending) => ending,
        None => classify(status, &String::from_utf8_lossy(&diag), kind),
    };
    outcome(output, truncated, ending)
}

async fn sleep_until_opt(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn command(config: &PythonConfig, kind: SandboxKind) -> Command {
    let (program, args) = argv(config, kind);
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(SANDBOX_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    match kind {
        SandboxKind::Bubblewrap => cmd.current_dir("/"),
        SandboxKind::Unsandboxed => cmd.current_dir(std::env::temp_dir()),
    };
    if let HostUser::Switch { uid, gid } = config.host_user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

/// Exit status → ending, for runs that ended on their own.
fn classify(
    status: Option<std::process::ExitStatus>,
    diagnostics: &str,
    kind: SandboxKind,
) -> Ending {
    use std::os::unix::process::ExitStatusExt;
    let Some(status) = status else {
        return Ending::SandboxFailure("lost the exit status".into());
    };
    // Bubblewrap reports a child killed by signal N as exit code 128 + N.
    let signal = status.signal().or_else(|| match (kind, status.code()) {
        (SandboxKind::Bubblewrap, Some(code)) if code > 128 && code < 128 + 65 => Some(code - 128),
        _ => None,
    });
    if let Some(sig) = signal {
        return match sig {
            libc::SIGXCPU => Ending::CpuLimit,
            sig => Ending::Signal(sig),
        };
    }
    match status.code() {
        Some(0) => Ending::Exited(0),
        Some(EXIT_EXCEPTION) => Ending::Exception,
        Some(EXIT_MEMORY_ERROR) => Ending::MemoryError,
        Some(code) if diagnostics.trim_start().starts_with("bwrap:") => {
            Ending::SandboxFailure(format!("exit code {code}: {}", diagnostics.trim()))
        }
        Some(code) => Ending::Exited(code),
        None => Ending::SandboxFailure("no exit code".into()),
    }
}

/// Lossy UTF-8 of at most `max` bytes, cut before a character the limit splits.
fn cap_output(bytes: &[u8], max: usize) -> (String, bool) {
    let truncated = bytes.len() > max;
    let mut end = bytes.len().min(max);
    if truncated {
        // Walk back over continuation bytes (10xxxxxx) to the lead byte of the last character.
        let mut back = 0;
        while back < 3 && end > back && bytes[end - back - 1] & 0xC0 == 0x80 {
            back += 1;
        }
        if end > back {
            let lead = bytes[end - back - 1];
            let char_len = match lead {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            if char_len > back + 1 {
                end -= back + 1;
            }
        }
    }
    (
        String::from_utf8_lossy(&bytes[..end]).into_owned(),
        truncated,
    )
}

/// SIGKILLs a process group; errors (already gone) are expected and ignored.
fn kill_group(pgid: libc::pid_t) {
    if pgid > 0 {
        // SAFETY: kill(2) with a negative pid only sends a signal; no memory is touched.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Kills the group when dropped, so a cancelled call leaves nothing behind. Disarmed once the
/// run has been cleaned up and reaped, so a later drop never signals a reused group id.
struct GroupKill {
    pgid: libc::pid_t,
    armed: bool,
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        if self.armed {
            kill_group(self.pgid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_cap_cuts_on_char_boundary() {
        let (text, truncated) = cap_output("aé".as_bytes(), 2);
        assert!(truncated);
        assert_eq!(text, "a");
        let (text, _) = cap_output("a🚀b".as_bytes(), 5);
        assert_eq!(text, "a🚀");
        let (text, _) = cap_output("a🚀b".as_bytes(), 4);
        assert_eq!(text, "a");
        let (text, truncated) = cap_output(b"abc", 3);
        assert_eq!((text.as_str(), truncated), ("abc", false));
    }
}
