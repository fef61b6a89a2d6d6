//! arpo-tools (work in progress).
