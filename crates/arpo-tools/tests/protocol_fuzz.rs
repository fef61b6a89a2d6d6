//! Property tests of the tag protocol: no input makes it panic, every detected call satisfies
//! the invariants of its definition, and a call built around known content gives that content
//! back (the independent reference is the construction itself).

use arpo_tools::protocol::{
    detect_call_at_end, detect_call_at_end_in, first_call, format_result, TagSet,
};
use proptest::prelude::*;

/// Strings built from tag fragments, broken tags, multi-byte characters and whitespace, so the
/// fuzzer reaches nested, repeated, unbalanced and split tags often.
fn taggy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "<python>",
        "</python>",
        "<search>",
        "</search>",
        "<result>",
        "</result>",
        "</think>",
        "<answer>",
        "</answer>",
        "<pyth",
        "on>",
        "</",
        ">",
        "<",
        "/",
        "x",
        "print(1)",
        " ",
        "\n",
        "é",
        "東京",
        "🚀",
        "\u{0}",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

fn arbitrary_text() -> impl Strategy<Value = String> {
    prop_oneof![taggy(), any::<String>()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn never_panics_and_invariants_hold(text in arbitrary_text(), offset in 0usize..200) {
        let tags = TagSet::arpo_default();
        if let Some(call) = detect_call_at_end(&text, &tags) {
            let close = format!("</{}>", call.tool);
            prop_assert!(tags.contains(&call.tool));
            prop_assert!(text.trim_end().ends_with(&close));
            prop_assert!(call.span.end == text.trim_end().len());
            let whole = &text[call.span.clone()];
            prop_assert!(whole.ends_with(&close));
            prop_assert!(whole.contains(&call.content));
            prop_assert_eq!(call.content.trim(), call.content.as_str());
            let open = format!("<{}>", call.tool);
            if call.open_tag_found {
                prop_assert!(whole.starts_with(&open));
            }
        }
        if let Some(call) = first_call(&text, &tags) {
            let close = format!("</{}>", call.tool);
            prop_assert!(text[..call.span.end].ends_with(&close));
            // No other closing tag ends earlier.
            let earliest = tags.stop_sequences().iter().filter_map(|s| text.find(s.as_str()).map(|p| p + s.len())).min();
            prop_assert!(earliest.is_some());
        }
        if let Some(call) = detect_call_at_end_in(&text, offset, &tags) {
            prop_assert!(call.span.start >= offset.min(text.len()).saturating_sub(3));
            prop_assert!(call.span.end <= text.len());
        }
        let _ = format_result(&text);
    }

    #[test]
    fn built_calls_give_their_content_back(
        prefix in taggy(),
        code in "[^<]{0,60}",
        trailing in "[ \n\t]{0,3}",
        tool in prop::sample::select(vec!["python", "search"]),
    ) {
        let text = format!("{prefix}<{tool}>{code}</{tool}>{trailing}");
        let tags = TagSet::arpo_default();
        let call = detect_call_at_end(&text, &tags).expect("a call ends the text");
        prop_assert_eq!(call.tool.as_str(), tool);
        prop_assert_eq!(call.content.as_str(), code.trim());
        prop_assert!(call.open_tag_found);
        // The same call found through a full context that starts with the prefix as a "prompt".
        let in_context = detect_call_at_end_in(&text, prefix.len(), &tags).expect("call");
        prop_assert_eq!(in_context.content.as_str(), code.trim());
        prop_assert!(in_context.span.start >= prefix.len());
    }
}
