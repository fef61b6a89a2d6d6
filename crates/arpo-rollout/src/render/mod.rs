//! Rendering of rollout trees for people: a self-contained HTML page, a compact text tree for
//! terminals and logs, and the summary figures both show.
//!
//! Renderers read the tree data only (no model, no tensors) and never panic on a malformed
//! tree (e.g. one read back from hand-edited JSON): they draw what they can and say what is wrong.

mod escape;
pub mod html;
mod html_node;
mod scale;
pub mod summary;
pub mod text;
mod tokens;

pub use escape::{escape_html, terminal_line};
pub use html::{render_tree_html, HtmlOptions};
pub use scale::{EntropyScale, ENTROPY_BINS};
pub use summary::TreeSummary;
pub use text::render_tree_text;
pub use tokens::{TokenText, MAX_RUN};
