//! Locating the SmolLM2-135M-Instruct GGUF for the real-model tests.

use std::path::PathBuf;

/// The GGUF path (`ARPO_SMOLLM2_GGUF` or `.cache/models/`), or `None` with a note when it is
/// absent. Panics when absent and `ARPO_REQUIRE_SMOLLM=1` (CI fetches the file first).
pub fn smollm2_path() -> Option<PathBuf> {
    let path = std::env::var_os("ARPO_SMOLLM2_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("ARPO_REQUIRE_SMOLLM").is_ok_and(|v| v == "1") {
        panic!(
            "ARPO_REQUIRE_SMOLLM=1 but {} is missing (run scripts/fetch-smollm2.sh)",
            path.display()
        );
    }
    eprintln!(
        "note: {} absent, test skipped (run scripts/fetch-smollm2.sh)",
        path.display()
    );
    None
}
