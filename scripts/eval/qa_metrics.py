"""Writes the table of QA metric cases on which arpo-eval's token F1 / exact match are checked.

`normalize_answer`, `get_f1_score` and `em_check` below are those of the ARPO reference reward
(`verl/utils/reward_score/deep_research.py`), i.e. the SQuAD normalisation with HotpotQA's
yes/no/noanswer rule, transcribed unchanged. Predictions are real gold answers of the QA
benchmarks and perturbations of them (case, punctuation, articles, extra or missing words,
yes/no, other questions' answers), plus hand-written edge cases.

    python3 scripts/eval/qa_metrics.py [BENCHMARKS_DIR]

Output: crates/arpo-eval/tests/fixtures/qa_metrics.jsonl
"""

import json
import random
import re
import string
import sys
from collections import Counter
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/benchmarks")
OUT = Path(__file__).resolve().parents[2] / "crates/arpo-eval/tests/fixtures/qa_metrics.jsonl"
RNG = random.Random(7)


# --- reference code (deep_research.py), unchanged -------------------------------------------
def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def em_check(prediction, golden_answers):
    if isinstance(golden_answers, str):
        golden_answers = [golden_answers]
    normalized_prediction = normalize_answer(prediction)
    score = 0
    for golden_answer in golden_answers:
        golden_answer = normalize_answer(golden_answer)
        if golden_answer == normalized_prediction:
            score = 1
            break
    return score


def get_f1_score(prediction, ground_truths):
    if isinstance(ground_truths, str):
        ground_truths = [ground_truths]
    final_metric = {"f1": 0, "precision": 0, "recall": 0}
    for ground_truth in ground_truths:
        normalized_prediction = normalize_answer(prediction)
        normalized_ground_truth = normalize_answer(ground_truth)
        if normalized_prediction in ["yes", "no", "noanswer"] and normalized_prediction != normalized_ground_truth:
            continue
        if normalized_ground_truth in ["yes", "no", "noanswer"] and normalized_prediction != normalized_ground_truth:
            continue
        prediction_tokens = normalized_prediction.split()
        ground_truth_tokens = normalized_ground_truth.split()
        common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
        num_same = sum(common.values())
        if num_same == 0:
            continue
        precision = 1.0 * num_same / len(prediction_tokens)
        recall = 1.0 * num_same / len(ground_truth_tokens)
        f1 = (2 * precision * recall) / (precision + recall)
        final_metric["precision"] = max(precision, final_metric["precision"])
        final_metric["recall"] = max(recall, final_metric["recall"])
        final_metric["f1"] = max(f1, final_metric["f1"])
    return final_metric["f1"]
# ---------------------------------------------------------------------------------------------


def perturb(gold: str, other: str) -> list[str]:
    words = gold.split()
    out = [gold, gold.upper(), f"The {gold}.", f"{gold}, of course!", f"it is {gold} and {other}", other]
    if len(words) > 1:
        out.append(" ".join(words[:-1]))
        out.append(" ".join(words[1:] + words[:1]))
    out.append(gold.replace(" ", "  \t "))
    return out


EDGE = [
    ("", ["a"]),
    ("yes", ["no"]),
    ("Yes.", ["yes"]),
    ("no", ["no answer"]),
    ("noanswer", ["no-answer"]),
    ("yes indeed", ["yes"]),
    ("an apple a day", ["apple day"]),
    ("Anna and the theme", ["anna theme"]),
    ("the the the", ["the"]),
    ("a b c a b", ["a b", "b c a"]),
    ("New York New York", ["new york"]),
    ("Ünïcödé Straße", ["ünïcödé strasse"]),
    ("北京 天安门", ["北京"]),
    ("Σίσυφος", ["ΣΊΣΥΦΟΣ"]),
    ("naïve café", ["NAÏVE CAFÉ"]),
    ("x_y-z/w", ["xyzw"]),
    ("1,000 people", ["1000 people"]),
    ("“quoted” answer", ["quoted answer"]),
    ("\u00a0non\u00a0breaking\u2003spaces", ["non breaking spaces"]),
    ("tab\tand\nnewline", ["tab and newline"]),
    ("İstanbul", ["i̇stanbul"]),
    ("A.B.C.", ["abc"]),
    ("the-end", ["theend"]),
    ("an_apple", ["anapple"]),
]


def main() -> None:
    rows = []
    for name in ("hotpotqa", "2wiki", "musique", "bamboogle", "SimpleQA", "webwalker"):
        items = [json.loads(l) for l in (SRC / name / "test.jsonl").read_text().splitlines() if l.strip()]
        for item in items[:12]:
            golds = item["answer"] if isinstance(item["answer"], list) else [item["answer"]]
            other = RNG.choice(items)["answer"]
            other = other[0] if isinstance(other, list) else other
            for pred in perturb(golds[0], other):
                rows.append((name, pred, golds))
    rows += [("edge", p, g) for p, g in EDGE]
    with OUT.open("w") as f:
        for source, pred, golds in rows:
            f.write(json.dumps({"source": source, "pred": pred, "golds": golds,
                                "normalized": normalize_answer(pred), "f1": get_f1_score(pred, golds),
                                "em": em_check(pred, golds)}, ensure_ascii=False) + "\n")
    print(f"{len(rows)} cases written to {OUT}")


if __name__ == "__main__":
    main()
