//! arpo-train (work in progress).
