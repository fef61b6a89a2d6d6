//! The cgroup-free memory watchdog: the summed resident memory of a process and all its
//! descendants, read from `/proc` (every process of a sandbox descends from its bubblewrap).

use std::collections::HashMap;

/// Summed resident memory (bytes) of `root` and all its descendants, read from `/proc`.
/// Descendants include everything in the sandbox: orphans are reparented to the namespace's init,
/// which is bubblewrap's child.
pub(super) fn tree_rss_bytes(root: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut rss_pages: HashMap<u32, u64> = HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((ppid, rss)) = parse_stat(&stat) {
            children.entry(ppid).or_default().push(pid);
            rss_pages.insert(pid, rss);
        }
    }
    let page = page_size();
    let mut total = 0u64;
    let mut stack = vec![root];
    let mut seen = 0usize;
    while let Some(pid) = stack.pop() {
        seen += 1;
        if seen > 1 << 16 {
            break;
        }
        total = total.saturating_add(
            rss_pages
                .get(&pid)
                .copied()
                .unwrap_or(0)
                .saturating_mul(page),
        );
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids);
        }
    }
    total
}

/// `(ppid, rss_pages)` from a `/proc/PID/stat` line. The command name (field 2) may contain
/// spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) ... rss(24) → indices 0, 1, ..., 21.
    let ppid = fields.get(1)?.parse().ok()?;
    let rss = fields.get(21)?.parse().ok()?;
    Some((ppid, rss))
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_handles_odd_command_names() {
        let line = "1234 (a) b (c)) S 77 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 500 10000000 321 18446744073709551615";
        assert_eq!(parse_stat(line), Some((77, 321)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S"), None);
    }

    #[test]
    fn own_process_tree_has_nonzero_rss() {
        // Independent check: this test process's own RSS from /proc/self/statm is counted.
        let rss = tree_rss_bytes(std::process::id());
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let own: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("rss field");
        assert!(
            rss >= own * page_size() / 2,
            "tree rss {rss} < own rss {own} pages"
        );
    }
}
