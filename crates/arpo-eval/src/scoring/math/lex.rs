//! Tokens of the math-answer language: numbers, single-letter variables, LaTeX commands and
//! punctuation. Spacing commands and sizing are skipped; anything else unknown is an error.

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A decimal literal as written, thousands separators removed (`1234`, `0.5`, `.35`).
    Num(String),
    /// A letter: a variable (`x`), or part of a word when the whole answer is text.
    Letter(char),
    /// A LaTeX command without its backslash (`frac`, `pi`, `sin`).
    Cmd(String),
    LBrace,
    RBrace,
    /// `\{`
    LSet,
    /// `\}`
    RSet,
    LParen,
    RParen,
    LBrack,
    RBrack,
    /// `\langle`
    LAngle,
    /// `\rangle`
    RAngle,
    Comma,
    Plus,
    Minus,
    /// `\pm`
    Pm,
    /// `\mp`
    Mp,
    /// `*`, `\cdot`, `\times`
    Times,
    /// `/`, `\div`
    Slash,
    Caret,
    Under,
    Bang,
    Eq,
    /// `\in`
    In,
    /// `\cup`
    Cup,
    /// `|`, `\vert`, `\mid`
    Pipe,
    /// `&` (matrix column separator)
    Amp,
    /// `:`, `\colon` (ratios)
    Colon,
    /// `<`, `\lt`
    Lt,
    /// `>`, `\gt`
    Gt,
    /// `\le`, `\leq`, `\leqslant`
    Le,
    /// `\ge`, `\geq`, `\geqslant`
    Ge,
    /// `\ne`, `\neq`
    Ne,
    LFloor,
    RFloor,
    LCeil,
    RCeil,
    /// `\\` (matrix row separator)
    RowSep,
}

/// Splits `s` into tokens; `None` when a character or command is not part of the language.
pub(crate) fn lex(s: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = s.chars().collect();
    let mut toks = Vec::new();
    let mut depth = 0i32; // bracket depth: thousands separators are read only at top level
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '0'..='9' | '.' if c != '.' || chars.get(i + 1).is_some_and(char::is_ascii_digit) => {
                let (num, next) = number(&chars, i, depth == 0);
                toks.push(Tok::Num(num));
                i = next;
            }
            '\\' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && chars[j].is_ascii_alphabetic() {
                    j += 1;
                }
                if j == start {
                    let next = *chars.get(start)?;
                    match next {
                        '{' => push(&mut toks, &mut depth, Tok::LSet),
                        '}' => push(&mut toks, &mut depth, Tok::RSet),
                        '\\' => push(&mut toks, &mut depth, Tok::RowSep),
                        '|' => push(&mut toks, &mut depth, Tok::Pipe),
                        ',' | ';' | ':' | '!' | ' ' | '%' | '$' => {}
                        _ => return None,
                    }
                    i = start + 1;
                    continue;
                }
                let name: String = chars[start..j].iter().collect();
                i = j;
                let tok = match name.as_str() {
                    "cdot" | "times" | "ast" => Tok::Times,
                    "div" => Tok::Slash,
                    "pm" => Tok::Pm,
                    "mp" => Tok::Mp,
                    "cup" => Tok::Cup,
                    "in" => Tok::In,
                    "lbrace" => Tok::LSet,
                    "rbrace" => Tok::RSet,
                    "langle" => Tok::LAngle,
                    "rangle" => Tok::RAngle,
                    "vert" | "lvert" | "rvert" | "mid" => Tok::Pipe,
                    "colon" => Tok::Colon,
                    "lt" => Tok::Lt,
                    "gt" => Tok::Gt,
                    "le" | "leq" | "leqslant" => Tok::Le,
                    "ge" | "geq" | "geqslant" => Tok::Ge,
                    "ne" | "neq" => Tok::Ne,
                    "lfloor" => Tok::LFloor,
                    "rfloor" => Tok::RFloor,
                    "lceil" => Tok::LCeil,
                    "rceil" => Tok::RCeil,
                    "left" | "right" | "quad" | "qquad" | "displaystyle" | "limits"
                    | "thinspace" => continue,
                    _ => Tok::Cmd(name),
                };
                push(&mut toks, &mut depth, tok);
            }
            _ if c.is_alphabetic() => {
                toks.push(Tok::Letter(c));
                i += 1;
            }
            _ => {
                let tok = match c {
                    '{' => Tok::LBrace,
                    '}' => Tok::RBrace,
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBrack,
                    ']' => Tok::RBrack,
                    ',' => Tok::Comma,
                    '+' => Tok::Plus,
                    '-' => Tok::Minus,
                    '*' => Tok::Times,
                    '/' => Tok::Slash,
                    '^' => Tok::Caret,
                    '_' => Tok::Under,
                    '!' => Tok::Bang,
                    '=' => Tok::Eq,
                    '|' => Tok::Pipe,
                    '&' => Tok::Amp,
                    ':' => Tok::Colon,
                    '<' => Tok::Lt,
                    '>' => Tok::Gt,
                    _ => return None,
                };
                push(&mut toks, &mut depth, tok);
                i += 1;
            }
        }
    }
    Some(toks)
}

fn push(toks: &mut Vec<Tok>, depth: &mut i32, tok: Tok) {
    match tok {
        Tok::LParen | Tok::LBrack | Tok::LSet | Tok::LAngle => *depth += 1,
        Tok::RParen | Tok::RBrack | Tok::RSet | Tok::RAngle => *depth -= 1,
        _ => {}
    }
    toks.push(tok);
}

/// Reads a decimal literal at `chars[i]`. At top level, `1,234,567` (groups of exactly three
/// digits after a first group of one to three) is one number.
fn number(chars: &[char], mut i: usize, thousands: bool) -> (String, usize) {
    let mut out = String::new();
    let start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        out.push(chars[i]);
        i += 1;
    }
    if thousands && (1..=3).contains(&(i - start)) {
        while chars.get(i) == Some(&',')
            && chars
                .get(i + 1..i + 4)
                .is_some_and(|g| g.iter().all(char::is_ascii_digit))
            && !chars.get(i + 4).is_some_and(char::is_ascii_digit)
        {
            out.extend(&chars[i + 1..i + 4]);
            i += 4;
        }
    }
    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
        out.push('.');
        i += 1;
        while i < chars.len() && chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
        }
    }
    (out, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_only_at_top_level() {
        assert_eq!(lex("10,080"), Some(vec![Tok::Num("10080".into())]));
        assert_eq!(lex("(100,200)").map(|t| t.len()), Some(5));
        assert_eq!(
            lex("1,2"),
            Some(vec![Tok::Num("1".into()), Tok::Comma, Tok::Num("2".into())])
        );
        assert_eq!(lex(".5"), Some(vec![Tok::Num(".5".into())]));
        assert_eq!(lex("x ? 1"), None);
    }
}
