//! Loads every real benchmark and RL file completely and prints the counts. Skipped (with a
//! message) when the data folder is absent; the folder is `ARPO_BENCHMARKS` or
//! `/work/shared/benchmarks`. The JSON-lines counts are checked against the number of non-blank
//! lines, the parquet counts against the row count in the file footer.

use std::path::PathBuf;

use arpo_eval::data::{Benchmark, RlData};
use parquet::file::reader::{FileReader, SerializedFileReader};

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("ARPO_BENCHMARKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/work/shared/benchmarks".into());
    dir.is_dir().then_some(dir)
}

#[test]
fn every_real_file_loads_completely() {
    let Some(dir) = data_dir() else {
        eprintln!("skipped: no benchmarks folder (set ARPO_BENCHMARKS)");
        return;
    };
    let mut total = 0;
    for b in Benchmark::ALL {
        let path = b.default_path(&dir);
        if !path.exists() {
            eprintln!("{:<10} absent ({})", b.name(), path.display());
            continue;
        }
        let tasks = b.load(&path).unwrap_or_else(|e| panic!("{e}"));
        let lines = std::fs::read_to_string(&path)
            .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
            .unwrap_or(0);
        assert_eq!(tasks.len(), lines, "{}", path.display());
        let aliases: usize = tasks.iter().map(|t| t.answers.len()).sum();
        eprintln!(
            "{:<10} {:>5} tasks {:>5} gold aliases",
            b.name(),
            tasks.len(),
            aliases
        );
        total += tasks.len();
    }
    for r in RlData::ALL {
        let path = r.default_path(&dir);
        if !path.exists() {
            eprintln!("{:<24} absent", r.file_name());
            continue;
        }
        let tasks = r.load(&path).unwrap_or_else(|e| panic!("{e}"));
        let footer = std::fs::File::open(&path)
            .ok()
            .and_then(|f| SerializedFileReader::new(f).ok())
            .map(|rd| rd.metadata().file_metadata().num_rows())
            .unwrap_or(-1);
        assert_eq!(tasks.len() as i64, footer, "{}", path.display());
        let leftover = tasks
            .iter()
            .flat_map(|t| t.prompt.iter().flatten().map(|m| &m.content))
            .filter(|c| c.contains('\u{8}'))
            .count();
        assert_eq!(leftover, 0, "backspace left in {}", path.display());
        let mut by_domain = std::collections::BTreeMap::new();
        for t in &tasks {
            *by_domain.entry(format!("{:?}", t.domain)).or_insert(0usize) += 1;
        }
        eprintln!(
            "{:<24} {:>5} tasks {by_domain:?}",
            r.file_name(),
            tasks.len()
        );
        total += tasks.len();
    }
    eprintln!("total {total} tasks");
}
