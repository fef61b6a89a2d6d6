//! `PythonTool` behaviour on ordinary code: the REPL-style last expression (as the reference
//! ARPO python tool), tracebacks, numpy/sympy inside the sandbox, exit codes, and the sandbox
//! policy. Expected values are computed independently (in Rust, or known closed forms).

mod common;

use std::path::PathBuf;

use arpo_core::{Tool, ToolError};
use arpo_tools::{PythonConfig, PythonTool, SandboxKind, SandboxPolicy};
use common::*;

#[tokio::test]
async fn last_expression_is_printed_like_the_reference() {
    let _serial = SERIAL.lock().await;
    let tool = sandboxed_tool();
    let expected: u64 = (1..=100u64).map(|i| i * i).sum();
    assert_eq!(
        tool.call("sum(i * i for i in range(1, 101))").await,
        Ok(expected.to_string())
    );
    // Statements first, expression last; print output keeps its order before the value.
    assert_eq!(
        tool.call("x = 6\nprint('x is', x)\nx * 7").await,
        Ok("x is 6\n42".to_string())
    );
    // A last expression that evaluates to None prints nothing (REPL behaviour).
    assert_eq!(
        tool.call("print('only this')\nNone").await,
        Ok("only this".to_string())
    );
    // A last statement that is not an expression prints nothing more.
    assert_eq!(tool.call("y = 1").await, Ok(String::new()));
    assert_eq!(tool.call("").await, Ok(String::new()));
    assert_eq!(
        tool.call("print('é 東京 🚀')").await,
        Ok("é 東京 🚀".to_string())
    );
}

#[tokio::test]
async fn errors_show_the_traceback_of_the_model_code_only() {
    let _serial = SERIAL.lock().await;
    let tool = sandboxed_tool();
    let out = tool
        .call("def f(x):\n    return 1 / x\nprint('before')\nf(0)")
        .await
        .expect("a traceback is output");
    assert!(
        out.starts_with("before\nTraceback (most recent call last):"),
        "{out}"
    );
    assert!(
        out.contains("File \"<code>\", line 2, in f") && out.contains("return 1 / x"),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("ZeroDivisionError: division by zero"),
        "{out}"
    );
    assert!(
        !out.contains("bootstrap") && !out.contains("exec(compile"),
        "driver frames leaked: {out}"
    );
    let out = tool.call("print('a'\n").await.expect("syntax error output");
    assert!(out.contains("SyntaxError"), "{out}");
    assert_eq!(
        tool.call("import sys\nprint('bye')\nsys.exit(3)").await,
        Ok("bye\nProcess exited with code 3.".to_string())
    );
}

#[tokio::test]
async fn numpy_and_sympy_work_inside_the_sandbox() {
    let _serial = SERIAL.lock().await;
    let tool = sandboxed_tool();
    let out = tool
        .call("import numpy as np\nnp.arange(10).reshape(2, 5).sum(axis=1).tolist()")
        .await;
    assert_eq!(out, Ok("[10, 35]".to_string()));
    let out = tool
        .call("import sympy as sp\nx = sp.symbols('x')\nsp.integrate(x**2, (x, 0, 3))")
        .await;
    assert_eq!(out, Ok("9".to_string()));
    // Writing under the private /tmp works (scripts often do).
    let out = tool
        .call("open('/tmp/a.txt', 'w').write('hi')\nopen('/tmp/a.txt').read()")
        .await;
    assert_eq!(out, Ok("hi".to_string()));
}

#[tokio::test]
async fn each_call_starts_from_a_clean_sandbox() {
    let _serial = SERIAL.lock().await;
    let tool = sandboxed_tool();
    tool.call("open('/tmp/state.txt', 'w').write('1')\nGLOBAL = 5")
        .await
        .expect("first call");
    let out = tool
        .call("import os\nprint(os.path.exists('/tmp/state.txt'), 'GLOBAL' in globals())")
        .await;
    assert_eq!(out, Ok("False False".to_string()));
}

#[test]
fn missing_sandbox_is_refused_unless_the_user_opts_out() {
    let broken = PythonConfig {
        bwrap: PathBuf::from("/nonexistent/bwrap"),
        ..PythonConfig::default()
    };
    let err = PythonTool::new(broken.clone())
        .expect_err("must refuse")
        .to_string();
    assert!(
        err.contains("python sandbox unavailable") && err.contains("bubblewrap"),
        "{err}"
    );
    let fallback = PythonTool::new(PythonConfig {
        policy: SandboxPolicy::AllowUnsandboxed,
        ..broken
    })
    .expect("explicit opt-out");
    assert_eq!(fallback.sandbox_kind(), SandboxKind::Unsandboxed);
}

#[tokio::test]
async fn unsandboxed_opt_out_still_runs_with_limits() {
    let _serial = SERIAL.lock().await;
    let config = PythonConfig {
        policy: SandboxPolicy::Unsandboxed,
        limits: test_limits(),
        ..PythonConfig::default()
    };
    let tool = PythonTool::new(config).expect("no probe needed");
    assert_eq!(tool.call("print(2 ** 10)").await, Ok("1024".to_string()));
    let err = tool
        .call(&format!(
            "x = bytearray({})",
            10 * test_limits().memory_bytes
        ))
        .await;
    assert!(
        matches!(err, Err(ToolError::Limit(ref m)) if m.contains("MemoryError")),
        "{err:?}"
    );
}

#[tokio::test]
async fn oversized_code_is_refused_without_running() {
    let tool = PythonTool::new(PythonConfig {
        policy: SandboxPolicy::Unsandboxed,
        ..PythonConfig::default()
    })
    .expect("tool");
    let code = "#".repeat(tool.config().limits.max_code_bytes + 1);
    assert!(matches!(tool.call(&code).await, Err(ToolError::Refused(_))));
}
