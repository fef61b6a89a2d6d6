//! LaTeX commands of the math-answer language: `\frac`, `\sqrt`, `\binom`, `\log`, functions,
//! `\max` / `\min`, constants, Greek letters and matrix environments.

use super::expr::{func, mul, Expr, GREEK, TRANSPARENT};
use super::lex::Tok;
use super::parse::Parser;

impl Parser {
    pub(super) fn command(&mut self, name: &str) -> Option<Expr> {
        Some(match name {
            "frac" => {
                let n = self.script()?;
                let d = self.script()?;
                Expr::Div(Box::new(n), Box::new(d))
            }
            "sqrt" => {
                let index = if self.eat(&Tok::LBrack) {
                    let e = self.sum()?;
                    self.expect(&Tok::RBrack)?;
                    e
                } else {
                    Expr::Num("2".into())
                };
                Expr::Root(Box::new(index), Box::new(self.script()?))
            }
            "binom" => {
                let n = self.script()?;
                let k = self.script()?;
                Expr::Binom(Box::new(n), Box::new(k))
            }
            "max" | "min" => {
                let args = match self.atom()? {
                    Expr::Seq(items, _, _) => items,
                    one => vec![one],
                };
                Expr::Extremum(name == "max", args)
            }
            "pi" => Expr::Pi,
            "infty" | "infin" => Expr::Inf,
            "log" | "lg" => {
                let pow = if self.eat(&Tok::Caret) {
                    Some(self.script()?)
                } else {
                    None
                };
                let base = if self.eat(&Tok::Under) {
                    Some(Box::new(self.script()?))
                } else {
                    None
                };
                let base = if name == "lg" {
                    Some(Box::new(Expr::Num("10".into())))
                } else {
                    base
                };
                self.apply(Box::new(move |arg| Expr::Log(base, Box::new(arg))), pow)?
            }
            "begin" => self.matrix()?,
            _ if TRANSPARENT.contains(&name) => self.script()?,
            _ if GREEK.contains(&name) => Expr::Sym(format!("\\{name}")),
            _ => {
                let f = func(name)?;
                let pow = if self.eat(&Tok::Caret) {
                    Some(self.script()?)
                } else {
                    None
                };
                self.apply(Box::new(move |arg| Expr::Func(f, Box::new(arg))), pow)?
            }
        })
    }

    /// Applies a function to its argument: a bracketed group, or the implicit product that follows
    /// (`\sin 2x`), stopping at the next function; `\sin^2 x` squares the result.
    fn apply(&mut self, build: Box<dyn FnOnce(Expr) -> Expr>, pow: Option<Expr>) -> Option<Expr> {
        let arg = match self.peek() {
            Some(Tok::LParen | Tok::LBrace) => self.power()?,
            _ => {
                let mut arg = self.power()?;
                while self.starts_factor()
                    && !matches!(self.peek(), Some(Tok::Cmd(c)) if func(c).is_some() || c == "log")
                {
                    arg = mul(arg, self.power()?);
                }
                arg
            }
        };
        let applied = build(arg);
        Some(match pow {
            Some(p) => Expr::Pow(Box::new(applied), Box::new(p)),
            None => applied,
        })
    }

    /// `\begin{pmatrix} a & b \\ c & d \end{pmatrix}` (any matrix environment).
    fn matrix(&mut self) -> Option<Expr> {
        self.environment_name()?;
        let mut rows = Vec::new();
        loop {
            let mut cells = vec![self.sum()?];
            while self.eat(&Tok::Amp) {
                cells.push(self.sum()?);
            }
            rows.push(cells);
            if !self.eat(&Tok::RowSep) || matches!(self.peek(), Some(Tok::Cmd(c)) if c == "end") {
                break;
            }
        }
        match self.next()? {
            Tok::Cmd(c) if c == "end" => {}
            _ => return None,
        }
        self.environment_name()?;
        Some(Expr::Matrix(rows))
    }

    fn environment_name(&mut self) -> Option<String> {
        self.expect(&Tok::LBrace)?;
        let mut name = String::new();
        loop {
            match self.next()? {
                Tok::Letter(c) => name.push(c),
                Tok::Times => name.push('*'),
                Tok::RBrace => return name.ends_with("matrix").then_some(name),
                _ => return None,
            }
        }
    }
}
