//! The bubblewrap command line of a Python call, and the start-up probe that checks a sandbox
//! can really be created on this machine.
//!
//! The sandbox: new user, pid, network, ipc, uts and cgroup namespaces (`--unshare-all`), so the
//! only network device is an unconfigured loopback and the code sees only its own processes; a
//! read-only root made of `/usr` (+ the merged-usr symlinks) and a few `/etc` files the dynamic
//! loader and numpy need; a private size-limited tmpfs on `/tmp` and `/dev/shm`; no home, no
//! project tree, no `/root`. `--die-with-parent` plus the pid namespace mean every process of the
//! call (daemonised or not) is killed when the call ends.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{HostUser, PythonConfig};
use crate::error::{Error, Result};

/// The in-sandbox driver: applies the rlimits, runs the code REPL-style.
pub(crate) const BOOTSTRAP: &str = include_str!("bootstrap.py");

/// How calls are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxKind {
    /// Inside bubblewrap namespaces (the normal case).
    Bubblewrap,
    /// Directly on the host, with rlimits and the wall-time kill only.
    Unsandboxed,
}

/// Inside-sandbox uid/gid (`nobody`).
const SANDBOX_ID: &str = "65534";

/// `/etc` entries bound read-only when present: the loader cache and the Debian alternatives
/// symlinks (numpy's `libblas.so.3` resolves through `/etc/alternatives`).
const ETC_ENTRIES: [&str; 5] = [
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
];

/// Top-level directories that are symlinks into `/usr` on merged-usr systems, or real
/// directories elsewhere; mirrored either way.
const ROOT_LIB_DIRS: [&str; 6] = ["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"];

/// Environment of the code: nothing is inherited from the host.
pub(crate) const SANDBOX_ENV: [(&str, &str); 9] = [
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ("HOME", "/tmp"),
    ("TMPDIR", "/tmp"),
    ("LANG", "C.UTF-8"),
    // One BLAS/OpenMP thread: threads count against RLIMIT_NPROC and reserve address space.
    ("OPENBLAS_NUM_THREADS", "1"),
    ("OMP_NUM_THREADS", "1"),
    ("MKL_NUM_THREADS", "1"),
    ("MPLBACKEND", "Agg"),
    ("PYTHONHASHSEED", "0"),
];

/// The last argument of every sandboxed interpreter, `arpo-host-<pid of this process>`, so an
/// operator (or a test) can find the sandboxes a given process started.
pub fn owner_tag() -> String {
    format!("arpo-host-{}", std::process::id())
}

/// Program and arguments that run the driver for `kind`.
pub(crate) fn argv(config: &PythonConfig, kind: SandboxKind) -> (PathBuf, Vec<OsString>) {
    let l = &config.limits;
    let mut python: Vec<OsString> = vec![
        config.interpreter.clone().into(),
        "-I".into(),
        "-X".into(),
        "utf8".into(),
        "-u".into(),
        "-c".into(),
        BOOTSTRAP.into(),
    ];
    for limit in [
        l.memory_bytes,
        l.cpu_seconds,
        l.max_processes,
        l.max_file_bytes,
        l.max_open_files,
    ] {
        python.push(limit.to_string().into());
    }
    // Ignored by the driver: names the host process that owns the sandbox in `ps` output.
    python.push(owner_tag().into());
    match kind {
        SandboxKind::Unsandboxed => (config.interpreter.clone(), python.split_off(1)),
        SandboxKind::Bubblewrap => {
            let mut args = bwrap_args(config);
            args.push("--".into());
            args.extend(python);
            (config.bwrap.clone(), args)
        }
    }
}

fn bwrap_args(config: &PythonConfig) -> Vec<OsString> {
    let tmp = config.limits.tmp_bytes.to_string();
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    push(&[
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
    ]);
    push(&[
        "--uid",
        SANDBOX_ID,
        "--gid",
        SANDBOX_ID,
        "--hostname",
        "sandbox",
        "--cap-drop",
        "ALL",
    ]);
    push(&["--ro-bind", "/usr", "/usr"]);
    for dir in ROOT_LIB_DIRS {
        let path = Path::new(dir);
        match std::fs::read_link(path) {
            Ok(target) => {
                a.extend(["--symlink".into(), target.into_os_string(), dir.into()]);
            }
            Err(_) if path.is_dir() => a.extend(["--ro-bind".into(), dir.into(), dir.into()]),
            Err(_) => {}
        }
    }
    for entry in ETC_ENTRIES {
        a.extend(["--ro-bind-try".into(), entry.into(), entry.into()]);
    }
    for extra in &config.extra_ro_binds {
        a.extend([
            "--ro-bind".into(),
            extra.clone().into_os_string(),
            extra.clone().into_os_string(),
        ]);
    }
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    push(&["--proc", "/proc", "--dev", "/dev"]);
    push(&[
        "--size", &tmp, "--tmpfs", "/dev/shm", "--size", &tmp, "--tmpfs", "/tmp",
    ]);
    push(&[
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
    ]);
    a
}

/// A `std::process::Command` for the probe, set up like the real calls.
fn probe_command(config: &PythonConfig) -> Command {
    let (program, args) = argv(config, SandboxKind::Bubblewrap);
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(SANDBOX_ENV)
        .current_dir("/");
    if let HostUser::Switch { uid, gid } = config.host_user {
        std::os::unix::process::CommandExt::uid(&mut cmd, uid);
        std::os::unix::process::CommandExt::gid(&mut cmd, gid);
    }
    cmd
}

/// Probe code: prints the network interfaces and whether `/root` is visible, then a marker.
const PROBE_CODE: &str = "import os, socket\n\
print('net=' + ','.join(n for _, n in socket.if_nameindex()))\n\
print('root_visible=' + str(os.path.exists('/root')))\n\
print('arpo-probe-ok')\n";

/// Runs one sandboxed call and checks it ran with the expected isolation. Errors name the cause
/// and the fix.
pub(crate) fn probe(config: &PythonConfig) -> Result<()> {
    if !config.bwrap.exists() {
        return Err(Error::SandboxUnavailable(format!(
            "{} not found; install bubblewrap (Debian: apt-get install bubblewrap) or set \
             SandboxPolicy::AllowUnsandboxed to run model code without isolation",
            config.bwrap.display()
        )));
    }
    if !config.interpreter.exists() {
        return Err(Error::SandboxUnavailable(format!(
            "interpreter {} not found",
            config.interpreter.display()
        )));
    }
    let mut child = probe_command(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::SandboxUnavailable(format!("cannot start {}: {e}", config.bwrap.display()))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        // A write error shows up as a failed probe below.
        let _ = stdin.write_all(PROBE_CODE.as_bytes());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::SandboxUnavailable(
                    "the probe run did not finish within 20 s".into(),
                ));
            }
        }
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    check_probe_output(status.success(), &stdout, &stderr)
}

fn check_probe_output(success: bool, stdout: &str, stderr: &str) -> Result<()> {
    if !success || !stdout.contains("arpo-probe-ok") {
        let hint = if stderr.contains("namespace") || stderr.contains("Operation not permitted") {
            " (user namespaces are not permitted here: check sysctl user.max_user_namespaces / \
             kernel.unprivileged_userns_clone, or run outside a restricted container)"
        } else {
            ""
        };
        return Err(Error::SandboxUnavailable(format!(
            "probe run failed{hint}: stderr: {} stdout: {}",
            stderr.trim(),
            stdout.trim()
        )));
    }
    if !stdout.lines().any(|l| l == "net=lo") {
        return Err(Error::SandboxUnavailable(format!(
            "probe saw network devices other than lo: {}",
            stdout.trim()
        )));
    }
    if !stdout.lines().any(|l| l == "root_visible=False") {
        return Err(Error::SandboxUnavailable(
            "probe could see /root: filesystem isolation failed".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bwrap_command_line_isolates_what_the_readme_promises() {
        let config = PythonConfig::default();
        let (program, args) = argv(&config, SandboxKind::Bubblewrap);
        assert_eq!(program, config.bwrap);
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for flag in [
            "--unshare-all",
            "--unshare-user",
            "--die-with-parent",
            "--new-session",
            "--disable-userns",
        ] {
            assert!(args.iter().any(|a| a == flag), "missing {flag}");
        }
        let joined = args.join(" ");
        assert!(joined.contains("--remount-ro / "));
        assert!(joined.contains(&format!("--size {} --tmpfs /tmp", config.limits.tmp_bytes)));
        assert!(!joined.contains("--bind "), "no writable host bind");
        // Limits are passed to the driver in its documented order.
        let tail: Vec<&str> = args[args.len() - 6..].iter().map(String::as_str).collect();
        let owner = owner_tag();
        assert_eq!(
            tail,
            ["1073741824", "10", "16", "16777216", "256", owner.as_str()]
        );
    }

    #[test]
    fn probe_output_checks() {
        assert!(
            check_probe_output(true, "net=lo\nroot_visible=False\narpo-probe-ok\n", "").is_ok()
        );
        assert!(
            check_probe_output(true, "net=lo,eth0\nroot_visible=False\narpo-probe-ok\n", "")
                .is_err()
        );
        assert!(
            check_probe_output(true, "net=lo\nroot_visible=True\narpo-probe-ok\n", "").is_err()
        );
        let err = check_probe_output(false, "", "bwrap: No permissions to creating new namespace")
            .unwrap_err();
        assert!(err.to_string().contains("user namespaces"));
    }
}
