//! A recursive-descent parser from math-answer tokens to an expression tree: sums, products
//! (explicit and implicit), fractions, roots, powers, functions, `±`, tuples, intervals, sets,
//! unions, matrices and equations. Depth-limited, so hostile input cannot overflow the stack.

use super::expr::{add, is_int, mul, Expr, Func, RelOp};
use super::lex::{lex, Tok};

const MAX_DEPTH: usize = 64;

/// Parses a cleaned answer; `None` when it is not in the language.
pub(crate) fn parse(s: &str) -> Option<Expr> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return None;
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.list()?;
    (p.pos == p.toks.len()).then_some(e)
}

pub(super) struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    pub(super) fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    pub(super) fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn expect(&mut self, t: &Tok) -> Option<()> {
        self.eat(t).then_some(())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    pub(super) fn starts_factor(&self) -> bool {
        matches!(
            self.peek(),
            Some(Tok::Num(_) | Tok::Letter(_) | Tok::LParen | Tok::LBrace | Tok::Cmd(_))
        ) && !matches!(self.peek(), Some(Tok::Cmd(c)) if c == "end")
    }

    /// Comma-separated items up to (not including) a closing token or the end.
    fn items(&mut self) -> Option<Vec<Expr>> {
        let mut items = vec![self.relation()?];
        while self.eat(&Tok::Comma) {
            items.push(self.relation()?);
        }
        Some(items)
    }

    fn list(&mut self) -> Option<Expr> {
        let mut items = self.items()?;
        Some(if items.len() == 1 {
            items.pop()?
        } else {
            Expr::Seq(items, ' ', ' ')
        })
    }

    /// `a = b`, `x \\in S`, or a chain of inequalities; `a > b > c` is stored as `c < b < a`.
    fn relation(&mut self) -> Option<Expr> {
        self.enter()?;
        let first = self.ratio()?;
        let out = if matches!(self.peek(), Some(Tok::Eq | Tok::In)) {
            self.pos += 1;
            let mut rhs = self.ratio()?;
            while self.eat(&Tok::Eq) {
                rhs = self.ratio()?;
            }
            Expr::Eq(Box::new(first), Box::new(rhs))
        } else {
            let mut sides = vec![first];
            let mut ops = Vec::new();
            loop {
                let op = match self.peek() {
                    Some(Tok::Lt) => RelOp::Lt,
                    Some(Tok::Le) => RelOp::Le,
                    Some(Tok::Gt) => RelOp::Gt,
                    Some(Tok::Ge) => RelOp::Ge,
                    Some(Tok::Ne) => RelOp::Ne,
                    _ => break,
                };
                self.pos += 1;
                ops.push(op);
                sides.push(self.ratio()?);
            }
            if ops.is_empty() {
                sides.pop()?
            } else {
                if ops.iter().all(|o| matches!(o, RelOp::Gt | RelOp::Ge)) {
                    sides.reverse();
                    ops.reverse();
                    for o in &mut ops {
                        *o = if *o == RelOp::Gt {
                            RelOp::Lt
                        } else {
                            RelOp::Le
                        };
                    }
                }
                Expr::Rel(sides, ops)
            }
        };
        self.depth -= 1;
        Some(out)
    }

    /// `a : b : c`.
    fn ratio(&mut self) -> Option<Expr> {
        let mut parts = vec![self.union()?];
        while self.eat(&Tok::Colon) {
            parts.push(self.union()?);
        }
        Some(if parts.len() == 1 {
            parts.pop()?
        } else {
            Expr::Ratio(parts)
        })
    }

    fn union(&mut self) -> Option<Expr> {
        let mut parts = vec![self.sum()?];
        while self.eat(&Tok::Cup) {
            parts.push(self.sum()?);
        }
        Some(if parts.len() == 1 {
            parts.pop()?
        } else {
            Expr::Union(parts)
        })
    }

    pub(super) fn sum(&mut self) -> Option<Expr> {
        let mut acc = self.term()?;
        loop {
            acc = match self.peek() {
                Some(Tok::Plus) => {
                    self.pos += 1;
                    add(acc, self.term()?)
                }
                Some(Tok::Minus) => {
                    self.pos += 1;
                    add(acc, Expr::Neg(Box::new(self.term()?)))
                }
                Some(Tok::Pm | Tok::Mp) => {
                    self.pos += 1;
                    Expr::PlusMinus(Box::new(acc), Box::new(self.term()?))
                }
                _ => return Some(acc),
            };
        }
    }

    fn term(&mut self) -> Option<Expr> {
        let mut acc = self.unary()?;
        loop {
            acc = match self.peek() {
                Some(Tok::Times) => {
                    self.pos += 1;
                    mul(acc, self.unary()?)
                }
                Some(Tok::Slash) => {
                    self.pos += 1;
                    Expr::Div(Box::new(acc), Box::new(self.unary()?))
                }
                _ if self.starts_factor() => {
                    let frac = matches!(self.peek(), Some(Tok::Cmd(c)) if c == "frac");
                    let rhs = self.power()?;
                    // `1\frac{4}{5}` is the mixed number 1 + 4/5, not a product.
                    match &rhs {
                        Expr::Div(n, d) if frac && is_int(&acc) && is_int(n) && is_int(d) => {
                            add(acc, rhs)
                        }
                        _ => mul(acc, rhs),
                    }
                }
                _ => return Some(acc),
            };
        }
    }

    fn unary(&mut self) -> Option<Expr> {
        self.enter()?;
        let out = match self.peek() {
            Some(Tok::Minus) => {
                self.pos += 1;
                Expr::Neg(Box::new(self.unary()?))
            }
            Some(Tok::Plus) => {
                self.pos += 1;
                self.unary()?
            }
            Some(Tok::Pm | Tok::Mp) => {
                self.pos += 1;
                Expr::PlusMinus(Box::new(Expr::Num("0".into())), Box::new(self.unary()?))
            }
            _ => self.power()?,
        };
        self.depth -= 1;
        Some(out)
    }

    pub(super) fn power(&mut self) -> Option<Expr> {
        let mut base = self.atom()?;
        while self.eat(&Tok::Bang) {
            base = Expr::Fact(Box::new(base));
        }
        if self.eat(&Tok::Caret) {
            let exp = self.script()?;
            base = Expr::Pow(Box::new(base), Box::new(exp));
        }
        Some(base)
    }

    /// A LaTeX argument: a `{…}` group or a single token (`\frac12`: the digit `1`, then `2`).
    pub(super) fn script(&mut self) -> Option<Expr> {
        self.enter()?;
        let out = match self.peek()?.clone() {
            Tok::LBrace => {
                self.pos += 1;
                let e = self.list()?;
                self.expect(&Tok::RBrace)?;
                e
            }
            Tok::Minus => {
                self.pos += 1;
                Expr::Neg(Box::new(self.script()?))
            }
            Tok::Num(s) => {
                let first = s.chars().next()?;
                if s.len() > 1 && first != '.' {
                    self.toks[self.pos] = Tok::Num(s[1..].to_string());
                } else {
                    self.pos += 1;
                }
                Expr::Num(if first == '.' { s } else { first.to_string() })
            }
            Tok::Letter(c) => {
                self.pos += 1;
                Expr::Sym(c.to_string())
            }
            Tok::Cmd(_) => self.atom()?,
            _ => return None,
        };
        self.depth -= 1;
        Some(out)
    }

    /// The text of a subscript (`_1`, `_{10}`, `_n`), for variable names.
    fn subscript(&mut self) -> Option<String> {
        match self.next()? {
            Tok::Num(s) => {
                let first = s.chars().next()?;
                if s.len() > 1 {
                    self.pos -= 1;
                    self.toks[self.pos] = Tok::Num(s[1..].to_string());
                }
                Some(first.to_string())
            }
            Tok::Letter(c) => Some(c.to_string()),
            Tok::LBrace => {
                let mut name = String::new();
                loop {
                    match self.next()? {
                        Tok::RBrace => return Some(name),
                        Tok::Num(s) => name.push_str(&s),
                        Tok::Letter(c) => name.push(c),
                        Tok::Cmd(c) => name.push_str(&c),
                        _ => name.push('?'),
                    }
                }
            }
            _ => None,
        }
    }

    pub(super) fn atom(&mut self) -> Option<Expr> {
        self.enter()?;
        let out = match self.next()? {
            Tok::Num(s) => {
                // `52_8`: a numeral with its base.
                if self.eat(&Tok::Under) {
                    Expr::Based(s, self.subscript()?)
                } else {
                    Expr::Num(s)
                }
            }
            Tok::Letter(c) => {
                let mut name = c.to_string();
                if self.eat(&Tok::Under) {
                    name = format!("{c}_{}", self.subscript()?);
                }
                Expr::Sym(name)
            }
            open @ (Tok::LParen | Tok::LBrack) => {
                let mut items = self.items()?;
                let o = if open == Tok::LParen { '(' } else { '[' };
                let c = match self.next()? {
                    Tok::RParen => ')',
                    Tok::RBrack => ']',
                    _ => return None,
                };
                if items.len() == 1 && (o, c) != ('[', ')') && (o, c) != ('(', ']') {
                    items.pop()?
                } else {
                    Expr::Seq(items, o, c)
                }
            }
            Tok::LBrace => {
                let e = self.list()?;
                self.expect(&Tok::RBrace)?;
                e
            }
            Tok::LSet => {
                let items = if self.peek() == Some(&Tok::RSet) {
                    Vec::new()
                } else {
                    self.items()?
                };
                self.expect(&Tok::RSet)?;
                Expr::Seq(items, '{', '}')
            }
            Tok::LAngle => {
                let items = self.items()?;
                self.expect(&Tok::RAngle)?;
                Expr::Seq(items, '<', '>')
            }
            Tok::Pipe => {
                let e = self.sum()?;
                self.expect(&Tok::Pipe)?;
                Expr::Abs(Box::new(e))
            }
            open @ (Tok::LFloor | Tok::LCeil) => {
                let e = self.sum()?;
                let (close, f) = if open == Tok::LFloor {
                    (Tok::RFloor, Func::Floor)
                } else {
                    (Tok::RCeil, Func::Ceil)
                };
                self.expect(&close)?;
                Expr::Func(f, Box::new(e))
            }
            Tok::Cmd(name) => self.command(&name)?,
            _ => return None,
        };
        self.depth -= 1;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Expr {
        Expr::Num(s.into())
    }

    #[test]
    fn fractions_and_mixed_numbers() {
        assert_eq!(
            parse(r"\frac43"),
            Some(Expr::Div(Box::new(num("4")), Box::new(num("3"))))
        );
        assert_eq!(
            parse(r"1\frac{4}{5}"),
            Some(Expr::Add(vec![
                num("1"),
                Expr::Div(Box::new(num("4")), Box::new(num("5")))
            ]))
        );
        assert!(matches!(parse(r"(3,4]"), Some(Expr::Seq(v, '(', ']')) if v.len() == 2));
        assert!(matches!(parse(r"x \in [-2,7]"), Some(Expr::Eq(..))));
        assert!(
            matches!(parse(r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}"), Some(Expr::Matrix(r)) if r.len() == 2)
        );
        assert!(parse(&"(".repeat(500)).is_none());
        assert!(parse("1 +").is_none());
    }
}
