//! The expression tree of a parsed math answer.

/// Elementary functions of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Sin,
    Cos,
    Tan,
    Cot,
    Sec,
    Csc,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Ln,
    Exp,
    Floor,
    Ceil,
}

/// A comparison in a chain of inequalities; `>` and `≥` chains are stored reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelOp {
    Lt,
    Le,
    Gt,
    Ge,
    Ne,
}

/// A parsed answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A decimal literal as written (`12`, `0.5`).
    Num(String),
    /// A numeral with its base (`52_8`): digits and base as written.
    Based(String, String),
    /// A variable (`x`, `a_1`, `\alpha`).
    Sym(String),
    Pi,
    Inf,
    Neg(Box<Expr>),
    Add(Vec<Expr>),
    Mul(Vec<Expr>),
    Div(Box<Expr>, Box<Expr>),
    Pow(Box<Expr>, Box<Expr>),
    /// `Root(index, radicand)`.
    Root(Box<Expr>, Box<Expr>),
    Func(Func, Box<Expr>),
    /// `Log(base, argument)`; no base is the natural logarithm.
    Log(Option<Box<Expr>>, Box<Expr>),
    Fact(Box<Expr>),
    Binom(Box<Expr>, Box<Expr>),
    Abs(Box<Expr>),
    /// `a ± b`: the two values `a + b` and `a - b`.
    PlusMinus(Box<Expr>, Box<Expr>),
    /// A bracketed or bare comma list with its opening and closing delimiters (`' '` for a bare
    /// top-level list, `{` `}` for a set, `(` `]` for a half-open interval).
    Seq(Vec<Expr>, char, char),
    Matrix(Vec<Vec<Expr>>),
    Union(Vec<Expr>),
    Eq(Box<Expr>, Box<Expr>),
    /// A chain of inequalities `e0 op0 e1 op1 e2 …`.
    Rel(Vec<Expr>, Vec<RelOp>),
    /// A ratio `a : b : c`.
    Ratio(Vec<Expr>),
    /// `max` (true) or `min` (false) of its arguments.
    Extremum(bool, Vec<Expr>),
    /// A multiple-choice answer with its value (`C: 7`).
    Choice(char, Box<Expr>),
    /// A plain-text answer (`Evelyn`, `east`).
    Text(String),
}

pub(crate) fn add(a: Expr, b: Expr) -> Expr {
    match a {
        Expr::Add(mut v) => {
            v.push(b);
            Expr::Add(v)
        }
        a => Expr::Add(vec![a, b]),
    }
}

pub(crate) fn mul(a: Expr, b: Expr) -> Expr {
    match a {
        Expr::Mul(mut v) => {
            v.push(b);
            Expr::Mul(v)
        }
        a => Expr::Mul(vec![a, b]),
    }
}

pub(crate) fn is_int(e: &Expr) -> bool {
    matches!(e, Expr::Num(s) if !s.contains('.'))
}

/// The function named by a LaTeX command (`sin` → [`Func::Sin`]).
pub(crate) fn func(name: &str) -> Option<Func> {
    Some(match name {
        "sin" => Func::Sin,
        "cos" => Func::Cos,
        "tan" => Func::Tan,
        "cot" => Func::Cot,
        "sec" => Func::Sec,
        "csc" => Func::Csc,
        "arcsin" => Func::Asin,
        "arccos" => Func::Acos,
        "arctan" => Func::Atan,
        "sinh" => Func::Sinh,
        "cosh" => Func::Cosh,
        "tanh" => Func::Tanh,
        "ln" => Func::Ln,
        "exp" => Func::Exp,
        _ => return None,
    })
}

pub(crate) const GREEK: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
];

/// Commands whose single argument is kept as it is (`\mathbf{v}`, `\overline{AB}`).
pub(crate) const TRANSPARENT: &[&str] = &[
    "mathbf",
    "boldsymbol",
    "vec",
    "overline",
    "mathit",
    "bar",
    "hat",
    "mathbb",
    "operatorname",
];
