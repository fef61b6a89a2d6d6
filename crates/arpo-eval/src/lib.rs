//! arpo-eval (work in progress).
