//! `PythonTool`: runs model-written code with the system interpreter inside a bubblewrap sandbox,
//! with limits on wall time, CPU time, memory, processes, files and output size.
//!
//! Layout: [`sandbox`] builds the command line and probes that a sandbox can be created here;
//! [`exec`] runs one call (stdin, capped output, watchdog, kill) and classifies how it ended; the
//! in-sandbox driver `bootstrap.py` applies the rlimits and gives the REPL behaviour; [`watchdog`]
//! sums the memory of a call's processes.

mod exec;
mod sandbox;
mod watchdog;

use std::path::PathBuf;
use std::time::Duration;

use arpo_core::{Tool, ToolError};
use async_trait::async_trait;

use crate::error::{Error, Result};
pub use exec::RunOutcome;
pub use sandbox::{owner_tag, SandboxKind};

/// Resource limits of one Python call.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonLimits {
    /// Wall-clock limit; the sandbox is killed when it is reached.
    pub wall_time: Duration,
    /// CPU-time limit in seconds (RLIMIT_CPU, per process).
    pub cpu_seconds: u64,
    /// Address-space limit of each process in bytes (RLIMIT_AS).
    pub memory_bytes: u64,
    /// Limit on the summed resident memory of all the call's processes in bytes, enforced by a
    /// host-side watchdog that samples `/proc` (a cgroup-free bound on fork + allocate).
    pub total_rss_bytes: u64,
    /// Maximum number of processes and threads inside the sandbox (RLIMIT_NPROC, counted in the
    /// sandbox's own user namespace).
    pub max_processes: u64,
    /// Output (stdout + stderr) kept; when exceeded the run is stopped and the output truncated.
    pub max_output_bytes: usize,
    /// Size of the private writable `/tmp` (and of `/dev/shm`) in bytes.
    pub tmp_bytes: u64,
    /// Largest file the code may write (RLIMIT_FSIZE).
    pub max_file_bytes: u64,
    /// Maximum open file descriptors (RLIMIT_NOFILE).
    pub max_open_files: u64,
    /// Largest accepted code input in bytes; larger inputs are refused without running.
    pub max_code_bytes: usize,
}

impl Default for PythonLimits {
    fn default() -> Self {
        Self {
            wall_time: Duration::from_secs(10),
            cpu_seconds: 10,
            memory_bytes: 1 << 30,
            total_rss_bytes: 1 << 30,
            max_processes: 16,
            // The reference truncates tool output at 20,000 characters.
            max_output_bytes: 20_000,
            tmp_bytes: 64 << 20,
            max_file_bytes: 16 << 20,
            max_open_files: 256,
            max_code_bytes: 1 << 20,
        }
    }
}

/// What to do when no sandbox can be created on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxPolicy {
    /// Refuse: [`PythonTool::new`] fails with [`Error::SandboxUnavailable`]. The default.
    #[default]
    Required,
    /// Use the sandbox when it works, otherwise run the interpreter directly (rlimits and the
    /// wall-time kill still apply; no filesystem, network or process isolation). The explicit
    /// opt-out the issue calls `allow_unsandboxed`.
    AllowUnsandboxed,
    /// Never sandbox (same guarantees as the fallback above). For machines without user
    /// namespaces where the user accepts running model code as-is.
    Unsandboxed,
}

/// Which host user runs the sandbox.
///
/// RLIMIT_NPROC is not enforced for host root (the kernel exempts `INIT_USER`), and bubblewrap
/// maps the sandbox's user to the caller's host user, so a sandbox started by root must first
/// drop to an unprivileged uid for the process limit (fork-bomb containment) to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostUser {
    /// Run as the current user (right when it is not root).
    Current,
    /// Switch to this uid/gid (with no supplementary groups) before starting bubblewrap.
    Switch {
        /// Host uid.
        uid: u32,
        /// Host gid.
        gid: u32,
    },
}

impl HostUser {
    /// `Switch` to `nobody` (65534) when running as root, `Current` otherwise.
    pub fn unprivileged() -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            HostUser::Switch {
                uid: 65534,
                gid: 65534,
            }
        } else {
            HostUser::Current
        }
    }
}

/// Configuration of [`PythonTool`].
#[derive(Debug, Clone, PartialEq)]
pub struct PythonConfig {
    /// Tag name of the tool (`python`).
    pub name: String,
    /// The interpreter; it must live under a directory bound into the sandbox (`/usr`).
    pub interpreter: PathBuf,
    /// The bubblewrap binary.
    pub bwrap: PathBuf,
    /// Resource limits per call.
    pub limits: PythonLimits,
    /// What to do without a sandbox.
    pub policy: SandboxPolicy,
    /// Host user that runs the sandbox.
    pub host_user: HostUser,
    /// Extra host directories bound read-only at the same path (e.g. a virtualenv).
    pub extra_ro_binds: Vec<PathBuf>,
}

impl Default for PythonConfig {
    fn default() -> Self {
        Self {
            name: "python".to_string(),
            interpreter: PathBuf::from("/usr/bin/python3"),
            bwrap: PathBuf::from("/usr/bin/bwrap"),
            limits: PythonLimits::default(),
            policy: SandboxPolicy::Required,
            host_user: HostUser::unprivileged(),
            extra_ro_binds: Vec::new(),
        }
    }
}

/// The Python code tool. Cheap to share (`Arc<PythonTool>`); each call starts a fresh sandbox.
#[derive(Debug)]
pub struct PythonTool {
    config: PythonConfig,
    kind: SandboxKind,
}

impl PythonTool {
    /// Builds the tool and probes, with one real sandboxed run, that the sandbox works here.
    ///
    /// Errors: [`Error::SandboxUnavailable`] (with bubblewrap's message) under
    /// [`SandboxPolicy::Required`] when the probe fails; [`Error::Config`] for invalid limits.
    /// Blocks for the probe (about 50 ms); call it once at start-up.
    pub fn new(config: PythonConfig) -> Result<Self> {
        validate(&config)?;
        let kind = match config.policy {
            SandboxPolicy::Unsandboxed => {
                tracing::warn!(
                    "python tool runs model code WITHOUT a sandbox (SandboxPolicy::Unsandboxed)"
                );
                SandboxKind::Unsandboxed
            }
            SandboxPolicy::Required => {
                sandbox::probe(&config)?;
                SandboxKind::Bubblewrap
            }
            SandboxPolicy::AllowUnsandboxed => match sandbox::probe(&config) {
                Ok(()) => SandboxKind::Bubblewrap,
                Err(err) => {
                    tracing::warn!(%err, "no python sandbox; running model code WITHOUT isolation (AllowUnsandboxed)");
                    SandboxKind::Unsandboxed
                }
            },
        };
        Ok(Self { config, kind })
    }

    /// Whether calls run inside bubblewrap or directly.
    pub fn sandbox_kind(&self) -> SandboxKind {
        self.kind
    }

    /// The configuration in use.
    pub fn config(&self) -> &PythonConfig {
        &self.config
    }

    /// Runs `code` and returns the full outcome (output, exit status, which limit stopped it).
    /// [`Tool::call`] maps this to an output or a [`ToolError`].
    pub async fn run(&self, code: &str) -> RunOutcome {
        exec::run(&self.config, self.kind, code).await
    }
}

fn validate(config: &PythonConfig) -> Result<()> {
    let l = &config.limits;
    let checks = [
        (l.wall_time.is_zero(), "limits.wall_time must be > 0"),
        (l.cpu_seconds == 0, "limits.cpu_seconds must be > 0"),
        (
            l.memory_bytes < (32 << 20),
            "limits.memory_bytes must be >= 32 MiB (the interpreter needs it)",
        ),
        (l.total_rss_bytes == 0, "limits.total_rss_bytes must be > 0"),
        (
            l.max_processes < 2,
            "limits.max_processes must be >= 2 (the sandbox init and python)",
        ),
        (
            l.max_output_bytes == 0,
            "limits.max_output_bytes must be > 0",
        ),
        (l.tmp_bytes == 0, "limits.tmp_bytes must be > 0"),
        (l.max_open_files < 16, "limits.max_open_files must be >= 16"),
        (config.name.is_empty(), "name must not be empty"),
    ];
    match checks.iter().find(|(bad, _)| *bad) {
        Some((_, message)) => Err(Error::Config(format!("python tool: {message}"))),
        None => Ok(()),
    }
}

#[async_trait]
impl Tool for PythonTool {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn call(&self, input: &str) -> Result<String, ToolError> {
        self.run(input).await.into_result()
    }
}
