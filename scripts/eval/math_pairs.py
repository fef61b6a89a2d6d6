"""Builds the (prediction, gold) pairs on which arpo-eval's math equivalence is checked against an
independent grader, the PyPI package `math-verify`, and writes them with its verdicts.

Golds are the real answers of MATH500, AIME24, AIME25 and GSM8K (first 200). Each gold gets a few
rewrites meant to be equivalent (`$…$`, spaces, `\\dfrac`, `a/b`, decimals, `x = …`, units in
`\\text{}`, thousands separators, `\\left( \\right)`, reordered lists) and one meant to differ
(off by one, wrong sign, reciprocal or changed fraction, changed digit, swapped tuple). The intended
label is kept beside math-verify's verdict; the Rust test compares with math-verify's.

    /work/pyref/bin/python scripts/eval/math_pairs.py [BENCHMARKS_DIR]

Output: crates/arpo-eval/tests/fixtures/math_pairs.jsonl
"""

import json
import random
import re
import sys
from fractions import Fraction
from pathlib import Path

from math_verify import parse, verify

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/benchmarks")
OUT = Path(__file__).resolve().parents[2] / "crates/arpo-eval/tests/fixtures/math_pairs.jsonl"
RNG = random.Random(20250807)

INT = re.compile(r"^-?\d+$")
FRAC = re.compile(r"^(-?)\\frac\{(\d+)\}\{(\d+)\}$")


def golds():
    for line in (SRC / "math500/test.jsonl").read_text().splitlines():
        if line.strip():
            yield "math500", json.loads(line)["answer"]
    for name in ("aime24", "aime25"):
        for line in (SRC / name / "test.jsonl").read_text().splitlines():
            if line.strip():
                yield name, str(json.loads(line)["answer"])
    lines = [l for l in (SRC / "gsm8k/test.jsonl").read_text().splitlines() if l.strip()]
    for line in lines[:200]:
        yield "gsm8k", json.loads(line)["answer"].split("####")[-1].strip().replace(",", "")


def terminating(q: Fraction) -> bool:
    d = q.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += {"{": 1, "}": -1, "(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def equivalent_rewrites(g: str):
    # Spaces around operators and list commas (not thousands separators such as `10,\!080`).
    spaced = re.sub(r"\s*([+=]|,(?!\\!|\d{3}))\s*", r" \1 ", g).strip()
    out = [("dollars", f"${g}$"), ("spaces", spaced)]
    if "\\frac" in g:
        out.append(("dfrac", g.replace("\\frac", "\\dfrac")))
    m = FRAC.match(g)
    if m:
        sign, a, b = m.groups()
        out.append(("slash", f"{sign}{a}/{b}"))
        q = Fraction(int(a), int(b)) * (-1 if sign else 1)
        if terminating(q):
            out.append(("decimal", str(float(q))))
        if len(a) == 1 and len(b) == 1:
            out.append(("frac_short", f"{sign}\\frac{a}{b}"))
        out.append(("unreduced", f"{sign}\\frac{{{2 * int(a)}}}{{{2 * int(b)}}}"))
    # Algebraic rewrites: commuted binary sum, coefficient moved under the root, factor order.
    c = None if "\\begin" in g else re.fullmatch(r"([^+\-,=]+?)\s*([+-])\s*([^+\-,=]+)", g)
    if c and balanced(c.group(1)) and balanced(c.group(3)) and not c.group(1).startswith("\\text"):
        a, op, b = c.group(1).strip(), c.group(2), c.group(3).strip()
        if a and b:
            out.append(("commute", f"{'-' if op == '-' else ''}{b} + {a}"))
    r = re.fullmatch(r"(\d+)\s*\\sqrt\{(\d+)\}", g)
    if r:
        out.append(("into_root", f"\\sqrt{{{int(r.group(1)) ** 2 * int(r.group(2))}}}"))
    p = re.fullmatch(r"(\d+)\s*\\pi", g)
    if p:
        out.append(("factor_order", f"\\pi \\cdot {p.group(1)}"))
    if INT.match(g):
        n = int(g)
        out.append(("decimal", f"{n}.0"))
        out.append(("units", f"{g}\\text{{ units}}"))
        if abs(n) >= 1000:
            out.append(("thousands", f"{n:,}"))
    if "=" not in g and "," not in g and "\\text" not in g:
        out.append(("assign", f"x = {g}"))
    if g.startswith("\\left(") and g.endswith("\\right)"):
        out.append(("no_left_right", "(" + g[len("\\left(") : -len("\\right)")] + ")"))
    elif g.startswith("(") and g.endswith(")") and "," in g and g.count("(") == 1:
        out.append(("left_right", "\\left(" + g[1:-1] + "\\right)"))
    if re.fullmatch(r"-?\d+(\s*,\s*-?\d+)+", g) and not re.fullmatch(r"\d{1,3}(,\d{3})+", g):
        out.append(("reorder", ", ".join(reversed([p.strip() for p in g.split(",")]))))
    return out


def different_rewrites(g: str):
    out = []
    if INT.match(g):
        n = int(g)
        out += [("plus_one", str(n + 1)), ("minus_one", str(n - 1))]
        if n != 0:
            out.append(("sign", str(-n)))
    m = FRAC.match(g)
    if m:
        sign, a, b = m.groups()
        if a != b:
            out.append(("reciprocal", f"{sign}\\frac{{{b}}}{{{a}}}"))
        out.append(("numerator", f"{sign}\\frac{{{int(a) + 1}}}{{{b}}}"))
    r = re.fullmatch(r"(\d*)\s*\\sqrt\{(\d+)\}", g)
    if r:
        out.append(("root_off", f"{r.group(1)}\\sqrt{{{int(r.group(2)) + 1}}}"))
    t = re.fullmatch(r"\((-?\d+),\s*(-?\d+)\)", g)
    if t and t.group(1) != t.group(2):
        out.append(("swap", f"({t.group(2)}, {t.group(1)})"))
    digits = [i for i, c in enumerate(g) if c.isdigit()]
    if digits and not INT.match(g):
        i = digits[0]
        out.append(("digit", g[:i] + str((int(g[i]) + 1) % 10) + g[i + 1 :]))
    if not out and g and not g.startswith("-") and "," not in g:
        out.append(("sign", f"-{g}" if not g[0].isalpha() else f"-({g})"))
    return out


# Hand-written pairs on the rules where graders tend to differ: (gold, pred, equivalent?).
HAND = [
    ("\\frac{1}{3}", "0.333", False),
    ("\\frac{1}{3}", "0.333333", True),
    ("\\sqrt{2}", "1.41421356", True),
    ("\\sqrt{2}", "1.4142", False),
    ("50\\%", "0.5", True),
    ("50\\%", "50", True),
    ("(2,4)", "[2,4]", False),
    ("(2,4]", "(2,4]", True),
    ("1\\frac{4}{5}", "1.8", True),
    ("1\\frac{4}{5}", "\\frac{4}{5}", False),
    ("52_8", "52", True),
    ("52_8", "52_9", False),
    ("0.0000672", "0.0000673", False),
    ("x^2+2x+1", "(x+1)^2", True),
    ("x^2+2x+1", "(x-1)^2", False),
    ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True),
    ("2\\sqrt{2}", "\\sqrt{8}", True),
    ("\\pi/2", "90^\\circ", False),
    ("1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}", True),
    ("\\{1,2,3\\}", "\\{3,2,1\\}", True),
    ("(1,2,3)", "(3,2,1)", False),
    ("(-\\infty, 0]", "(-\\infty,0]", True),
    ("(-\\infty, 0]", "(-\\infty,0)", False),
    ("\\text{(C)}", "C", True),
    ("\\text{(C)}", "D", False),
    ("y = 2x + 3", "2x+3", True),
    ("5x - 7y + 11z + 4 = 0", "-10x + 14y - 22z - 8 = 0", True),
    ("10^{10}", "10000000000", True),
    ("2^{64}", "18446744073709551616", True),
    ("2^{64}", "18446744073709551617", False),
    ("\\binom{10}{3}", "120", True),
    ("6!", "720", True),
    ("\\frac{1}{2}", "\\frac{1}{2}\\text{ cm}^2", True),
    ("e^{i\\pi}", "-1", True),
    ("\\log_2 8", "3", True),
    ("\\sin^2 x + \\cos^2 x", "1", True),
    ("x > 2", "2 < x", True),
    ("x > 2", "x \\geq 2", False),
    ("3:1", "6:2", True),
    ("C: 7", "C", True),
    ("\\max(1, 3)", "3", True),
]


def grade(gold: str, pred: str) -> bool:
    # A string with its own math delimiters (an unescaped `$`) is given as it is, else boxed.
    wrap = lambda s: s if re.search(r"(?<!\\)\$", s) else "\\boxed{" + s + "}"  # noqa: E731
    try:
        return bool(verify(parse(wrap(gold)), parse(wrap(pred))))
    except Exception:  # math-verify raises on some inputs; count it as "not equivalent"
        return False


def main() -> None:
    rows = []
    for source, g in golds():
        eq = equivalent_rewrites(g)
        ne = different_rewrites(g)
        RNG.shuffle(eq)
        RNG.shuffle(ne)
        per_gold = 1 if source == "gsm8k" else 2
        for kind, pred in eq[:per_gold]:
            rows.append((source, g, pred, kind, True))
        for kind, pred in ne[:1]:
            rows.append((source, g, pred, kind, False))
    # Each MATH500 gold against another problem's gold: almost always different.
    math500 = [g for source, g in golds() if source == "math500"]
    for i, g in enumerate(math500):
        other = math500[RNG.randrange(len(math500))]
        rows.append(("math500", g, other, "other_gold", g.strip() == other.strip()))
    rows += [("hand", g, p, "hand", eq) for g, p, eq in HAND]
    with OUT.open("w") as f:
        for source, g, pred, kind, intended in rows:
            verdict = grade(g, pred)
            f.write(json.dumps({"source": source, "gold": g, "pred": pred, "rewrite": kind,
                                "intended": intended, "math_verify": verdict}, ensure_ascii=False) + "\n")
    n = len(rows)
    agree = sum(1 for r in open(OUT) if json.loads(r)["intended"] == json.loads(r)["math_verify"])
    print(f"{n} pairs written to {OUT}; math-verify agrees with the intended label on {agree}/{n}")


if __name__ == "__main__":
    main()
