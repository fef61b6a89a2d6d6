//! Evaluation of parsed answers: exact rational arithmetic (i128) for number-only expressions,
//! and f64 evaluation at chosen variable values for everything else.

use std::collections::BTreeSet;

use super::expr::{Expr, Func};

/// A reduced fraction `n / d` with `d > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rat {
    n: i128,
    d: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

impl Rat {
    fn new(n: i128, d: i128) -> Option<Rat> {
        if d == 0 {
            return None;
        }
        let g = gcd(n, d).max(1);
        let (n, d) = (n / g, d / g);
        Some(if d < 0 {
            Rat {
                n: n.checked_neg()?,
                d: d.checked_neg()?,
            }
        } else {
            Rat { n, d }
        })
    }

    fn int(n: i128) -> Rat {
        Rat { n, d: 1 }
    }

    /// A decimal literal such as `12`, `0.5` or `.35`.
    pub(crate) fn parse_decimal(s: &str) -> Option<Rat> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.len() + frac.len() > 36
            || !(int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()))
        {
            return None;
        }
        let digits = format!("{int}{frac}");
        let n: i128 = if digits.is_empty() {
            return None;
        } else {
            digits.parse().ok()?
        };
        Rat::new(n, 10i128.checked_pow(u32::try_from(frac.len()).ok()?)?)
    }

    fn add(self, o: Rat) -> Option<Rat> {
        Rat::new(
            self.n
                .checked_mul(o.d)?
                .checked_add(o.n.checked_mul(self.d)?)?,
            self.d.checked_mul(o.d)?,
        )
    }

    fn mul(self, o: Rat) -> Option<Rat> {
        Rat::new(self.n.checked_mul(o.n)?, self.d.checked_mul(o.d)?)
    }

    fn div(self, o: Rat) -> Option<Rat> {
        Rat::new(self.n.checked_mul(o.d)?, self.d.checked_mul(o.n)?)
    }

    fn neg(self) -> Option<Rat> {
        Some(Rat {
            n: self.n.checked_neg()?,
            d: self.d,
        })
    }

    fn pow(self, k: i128) -> Option<Rat> {
        if k.abs() > 512 {
            return None;
        }
        let e = u32::try_from(k.abs()).ok()?;
        let r = Rat::new(self.n.checked_pow(e)?, self.d.checked_pow(e)?)?;
        if k < 0 {
            Rat::int(1).div(r)
        } else {
            Some(r)
        }
    }

    fn as_int(self) -> Option<i128> {
        (self.d == 1).then_some(self.n)
    }
}

/// The exact value of a number-only expression; `None` for symbols, irrational operations,
/// overflow or division by zero.
pub(crate) fn exact(e: &Expr) -> Option<Rat> {
    match e {
        Expr::Num(s) | Expr::Based(s, _) => Rat::parse_decimal(s),
        Expr::Neg(a) => exact(a)?.neg(),
        Expr::Add(v) => v.iter().try_fold(Rat::int(0), |acc, x| acc.add(exact(x)?)),
        Expr::Mul(v) => v.iter().try_fold(Rat::int(1), |acc, x| acc.mul(exact(x)?)),
        Expr::Div(a, b) => exact(a)?.div(exact(b)?),
        Expr::Pow(a, b) => exact(a)?.pow(exact(b)?.as_int()?),
        Expr::Abs(a) => {
            let r = exact(a)?;
            Some(Rat {
                n: r.n.checked_abs()?,
                d: r.d,
            })
        }
        Expr::Fact(a) => {
            let n = exact(a)?.as_int()?;
            if !(0..=33).contains(&n) {
                return None;
            }
            (1..=n).try_fold(Rat::int(1), |acc, k| acc.mul(Rat::int(k)))
        }
        Expr::Binom(n, k) => {
            let (n, k) = (exact(n)?, exact(k)?.as_int()?);
            if !(0..=64).contains(&k) {
                return None;
            }
            (0..k).try_fold(Rat::int(1), |acc, i| {
                acc.mul(n.add(Rat::int(-i))?)?.div(Rat::int(i + 1))
            })
        }
        _ => None,
    }
}

/// Whether the expression holds a decimal literal, i.e. a possibly rounded value.
pub(crate) fn has_decimal(e: &Expr) -> bool {
    let mut found = false;
    visit(e, &mut |x| {
        found |= matches!(x, Expr::Num(s) if s.contains('.'))
    });
    found
}

/// The variable names of an expression.
pub(crate) fn symbols(e: &Expr, out: &mut BTreeSet<String>) {
    visit(e, &mut |x| {
        if let Expr::Sym(s) = x {
            out.insert(s.clone());
        }
    });
}

fn visit(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Neg(a) | Expr::Func(_, a) | Expr::Fact(a) | Expr::Abs(a) | Expr::Log(None, a) => {
            visit(a, f)
        }
        Expr::Div(a, b)
        | Expr::Pow(a, b)
        | Expr::Root(a, b)
        | Expr::Binom(a, b)
        | Expr::PlusMinus(a, b)
        | Expr::Eq(a, b)
        | Expr::Log(Some(a), b) => {
            visit(a, f);
            visit(b, f);
        }
        Expr::Add(v)
        | Expr::Mul(v)
        | Expr::Seq(v, _, _)
        | Expr::Union(v)
        | Expr::Rel(v, _)
        | Expr::Ratio(v)
        | Expr::Extremum(_, v) => v.iter().for_each(|x| visit(x, f)),
        Expr::Choice(_, a) => visit(a, f),
        Expr::Matrix(rows) => rows.iter().flatten().for_each(|x| visit(x, f)),
        Expr::Num(_) | Expr::Based(..) | Expr::Sym(_) | Expr::Pi | Expr::Inf | Expr::Text(_) => {}
    }
}

/// The f64 value of a scalar expression with variables valued by `env`; NaN where undefined
/// (lists, text, `±`, a root of a negative number, ...).
pub(crate) fn float(e: &Expr, env: &dyn Fn(&str) -> f64) -> f64 {
    let f = |x: &Expr| float(x, env);
    match e {
        Expr::Num(s) | Expr::Based(s, _) => {
            exact(e).map_or_else(|| s.parse().unwrap_or(f64::NAN), to_f64)
        }
        Expr::Sym(s) => env(s),
        Expr::Pi => std::f64::consts::PI,
        Expr::Inf => f64::INFINITY,
        Expr::Neg(a) => -f(a),
        Expr::Add(v) => v.iter().map(f).sum(),
        Expr::Mul(v) => v.iter().map(f).product(),
        Expr::Div(a, b) => f(a) / f(b),
        Expr::Pow(a, b) => power(f(a), b, env),
        Expr::Root(k, a) => {
            let (k, x) = (f(k), f(a));
            if x < 0.0 && k.fract() == 0.0 && k.rem_euclid(2.0) == 1.0 {
                -(-x).powf(1.0 / k)
            } else {
                x.powf(1.0 / k)
            }
        }
        Expr::Func(func, a) => {
            let x = f(a);
            match func {
                Func::Sin => x.sin(),
                Func::Cos => x.cos(),
                Func::Tan => x.tan(),
                Func::Cot => 1.0 / x.tan(),
                Func::Sec => 1.0 / x.cos(),
                Func::Csc => 1.0 / x.sin(),
                Func::Asin => x.asin(),
                Func::Acos => x.acos(),
                Func::Atan => x.atan(),
                Func::Sinh => x.sinh(),
                Func::Cosh => x.cosh(),
                Func::Tanh => x.tanh(),
                Func::Ln => x.ln(),
                Func::Exp => x.exp(),
                Func::Floor => x.floor(),
                Func::Ceil => x.ceil(),
            }
        }
        Expr::Log(base, a) => match base {
            Some(b) => f(a).ln() / f(b).ln(),
            None => f(a).ln(),
        },
        Expr::Fact(a) => {
            let n = f(a);
            if n >= 0.0 && n.fract() == 0.0 && n <= 170.0 {
                (1..=n as u32).map(f64::from).product()
            } else {
                f64::NAN
            }
        }
        Expr::Binom(n, k) => {
            let (n, k) = (f(n), f(k));
            if k >= 0.0 && k.fract() == 0.0 && k <= 1000.0 {
                (0..k as u32)
                    .map(|i| (n - f64::from(i)) / f64::from(i + 1))
                    .product()
            } else {
                f64::NAN
            }
        }
        Expr::Abs(a) => f(a).abs(),
        Expr::Extremum(max, v) => {
            let xs = v.iter().map(f);
            if *max {
                xs.fold(f64::NEG_INFINITY, f64::max)
            } else {
                xs.fold(f64::INFINITY, f64::min)
            }
        }
        Expr::Rel(..)
        | Expr::Ratio(_)
        | Expr::Choice(..)
        | Expr::PlusMinus(..)
        | Expr::Seq(..)
        | Expr::Matrix(_)
        | Expr::Union(_)
        | Expr::Eq(..)
        | Expr::Text(_) => f64::NAN,
    }
}

/// `x^b`, keeping real odd roots of negative numbers (`(-8)^{1/3} = -2`).
fn power(x: f64, b: &Expr, env: &dyn Fn(&str) -> f64) -> f64 {
    if x < 0.0 {
        if let Some(r) = exact(b) {
            if r.d != 1 && r.d % 2 == 1 {
                let m = (-x).powf(r.n as f64 / r.d as f64);
                return if r.n % 2 == 0 { m } else { -m };
            }
        }
    }
    x.powf(float(b, env))
}

pub(crate) fn to_f64(r: Rat) -> f64 {
    r.n as f64 / r.d as f64
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    fn ex(s: &str) -> Option<Rat> {
        exact(&parse(s)?)
    }

    #[test]
    fn exact_arithmetic() {
        assert_eq!(ex(r"\frac{1}{2}"), ex("0.5"));
        assert_eq!(ex("2^{10}"), Some(Rat::int(1024)));
        assert_eq!(ex(r"\binom{5}{2}"), Some(Rat::int(10)));
        assert_eq!(ex("5!"), Some(Rat::int(120)));
        assert_eq!(ex("1/0"), None);
        assert_eq!(ex(r"\sqrt{2}"), None);
        let v = float(&parse(r"\sqrt[3]{-8}").unwrap_or(Expr::Inf), &|_| 0.0);
        assert!((v + 2.0).abs() < 1e-12);
    }
}
