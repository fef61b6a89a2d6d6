//! HF chat templates (Jinja) rendered with minijinja, set up the way transformers renders them:
//! `trim_blocks` + `lstrip_blocks`, loop controls, `raise_exception`, Python string methods
//! (`.strip()`, `.startswith()`, ...) and a `tojson` that writes what Python's `json.dumps` writes.

use std::collections::BTreeMap;

use arpo_core::ChatMessage;
use minijinja::{Environment, ErrorKind, Value};

use crate::{Error, Result};

const NAME: &str = "chat_template";

/// A compiled chat template plus the special-token strings it may refer to.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    /// Variables besides `messages` / `add_generation_prompt` (`bos_token`, `eos_token`, ...).
    specials: BTreeMap<String, String>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("source", &self.source)
            .field("specials", &self.specials)
            .finish()
    }
}

impl ChatTemplate {
    /// Compiles `source`; `specials` maps variable names (`bos_token`, `eos_token`, `unk_token`,
    /// `pad_token`) to token strings; `origin` names the file in errors.
    pub fn new(source: &str, specials: BTreeMap<String, String>, origin: &str) -> Result<Self> {
        let mut env = Environment::new();
        // transformers compiles templates with these two options; without them the output
        // differs in whitespace around `{% %}` blocks.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_filter("tojson", tojson);
        env.add_template_owned(NAME, source.to_string())
            .map_err(|e| Error::Tokenizer(format!("{origin}: chat_template: {e:#}")))?;
        Ok(Self {
            env,
            source: source.to_string(),
            specials,
        })
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders `messages`; with `add_generation_prompt` the text ends where the answer begins.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        let messages: Vec<BTreeMap<&str, &str>> = messages
            .iter()
            .map(|m| BTreeMap::from([("role", m.role.as_str()), ("content", m.content.as_str())]))
            .collect();
        let mut ctx: BTreeMap<String, Value> = self
            .specials
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        ctx.insert("messages".into(), Value::from_serialize(&messages));
        ctx.insert(
            "add_generation_prompt".into(),
            Value::from(add_generation_prompt),
        );
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| Error::Tokenizer(format!("chat_template: {e:#}")))?;
        template
            .render(ctx)
            .map_err(|e| Error::Tokenizer(format!("chat_template: {e:#}")))
    }
}

fn raise_exception(message: String) -> std::result::Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
}

/// Python's `json.dumps(value, ensure_ascii=False, indent=indent)`, which transformers' `tojson`
/// calls: `", "` and `": "` separators when compact, `","` and `": "` when indented.
fn tojson(value: Value, indent: Option<usize>) -> std::result::Result<Value, minijinja::Error> {
    // Serialising the minijinja value directly keeps its map order (serde_json::Value would sort).
    let mut out = Vec::new();
    let result = match indent {
        Some(n) => {
            let pad = " ".repeat(n);
            let fmt = serde_json::ser::PrettyFormatter::with_indent(pad.as_bytes());
            serde::Serialize::serialize(
                &value,
                &mut serde_json::Serializer::with_formatter(&mut out, fmt),
            )
        }
        None => serde::Serialize::serialize(
            &value,
            &mut serde_json::Serializer::with_formatter(&mut out, PythonCompact),
        ),
    };
    result
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    // serde_json writes UTF-8 only.
    Ok(Value::from_safe_string(
        String::from_utf8_lossy(&out).into_owned(),
    ))
}

/// serde_json formatter with Python's default separators.
struct PythonCompact;

impl serde_json::ser::Formatter for PythonCompact {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, msgs: &[ChatMessage]) -> Result<String> {
        ChatTemplate::new(
            src,
            BTreeMap::from([("bos_token".into(), "<s>".into())]),
            "test",
        )?
        .render(msgs, true)
    }

    #[test]
    fn python_methods_and_specials_work() {
        let out = render(
            "{{ bos_token }}{% for m in messages %}{{ m['content'].strip().upper() }}|{% endfor %}{% if add_generation_prompt %}>{% endif %}",
            &[ChatMessage::user("  hi  "), ChatMessage::assistant("yo")],
        )
        .unwrap();
        assert_eq!(out, "<s>HI|YO|>");
    }

    #[test]
    fn raise_exception_becomes_an_error() {
        let err = render("{{ raise_exception('no system role') }}", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no system role"), "{err}");
    }

    #[test]
    fn tojson_matches_python_json_dumps() {
        // json.dumps({"a": [1, "é<"], "b": None}, ensure_ascii=False) == '{"a": [1, "é<"], "b": null}'
        let out = render("{{ {'a': [1, 'é<'], 'b': none} | tojson }}", &[]).unwrap();
        assert_eq!(out, r#"{"a": [1, "é<"], "b": null}"#);
    }
}
