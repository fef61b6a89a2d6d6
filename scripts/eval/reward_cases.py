"""Writes the responses on which arpo-eval's `ArpoReward::f1()` is checked against the ARPO
reference reward (`verl/utils/reward_score/deep_research.py`: `validate_format`, `extract_answer`,
`last_boxed_only_string`, `remove_boxed`, `get_f1_score`, `compute_score`), transcribed below
without its logging. Responses are built from real gold answers with well-formed and broken
formats, with and without tool calls.

    python3 scripts/eval/reward_cases.py [BENCHMARKS_DIR]

Output: crates/arpo-eval/tests/fixtures/reward_cases.jsonl
"""

import json
import re
import string
import sys
from collections import Counter
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/benchmarks")
OUT = Path(__file__).resolve().parents[2] / "crates/arpo-eval/tests/fixtures/reward_cases.jsonl"


# --- reference code (deep_research.py), logging removed -------------------------------------
def validate_format(text):
    if text.count('<think>') != text.count('</think>'):
        return False, "<think> </think> not paired"
    if text.count('<think>') == 0 or text.count('</think>') == 0:
        return False, "<think> or </think> not found"
    if text.count('<answer>') != 1 or text.count('</answer>') != 1:
        return False, "<answer> or </answer> not found"
    current_pos = 0
    while True:
        search_pos = text.find('<search>', current_pos)
        if search_pos == -1:
            break
        result_pos = text.find('<result>', search_pos)
        search_end_pos = text.find('</search>', search_pos)
        result_end_pos = text.find('</result>', result_pos)
        if -1 in (result_pos, search_end_pos, result_end_pos):
            return False, "search/result tags are incomplete"
        if not (search_pos < search_end_pos < result_pos < result_end_pos):
            return False, "search/result tags are nested in the wrong order"
        current_pos = result_end_pos
    current_pos = 0
    while True:
        python_pos = text.find('<python>', current_pos)
        if python_pos == -1:
            break
        result_pos = text.find('<result>', python_pos)
        python_end_pos = text.find('</python>', python_pos)
        result_end_pos = text.find('</result>', result_pos)
        if -1 in (result_pos, python_end_pos, result_end_pos):
            return False, "python/result tags are incomplete"
        if not (python_pos < python_end_pos < result_pos < result_end_pos):
            return False, "python/result tags are nested in the wrong order"
        current_pos = result_end_pos
    answer_start = text.find('<answer>')
    answer_end = text.find('</answer>')
    if answer_start > answer_end:
        return False, "<answer> must be before </answer>"
    answer_content = text[answer_start:answer_end]
    if '\\boxed{' not in answer_content or '}' not in answer_content:
        return False, "answer is missing \\boxed{} format"
    return True, "format is correct"


def extract_answer(text):
    text = text.strip()
    pattern = r"<answer>(.*?)</answer>"
    match = re.search(pattern, text, re.DOTALL)
    if not match:
        return None
    return match.group(1)


def remove_boxed(s):
    if "\\boxed " in s:
        left = "\\boxed "
        assert s[:len(left)] == left
        return s[len(left):]
    left = "\\boxed{"
    assert s[:len(left)] == left
    assert s[-1] == "}"
    return s[len(left):-1]


def last_boxed_only_string(string):
    idx = string.rfind("\\boxed")
    if "\\boxed " in string:
        return "\\boxed " + string.split("\\boxed ")[-1].split("$")[0]
    if idx < 0:
        idx = string.rfind("\\fbox")
        if idx < 0:
            return None
    i = idx
    right_brace_idx = None
    num_left_braces_open = 0
    while i < len(string):
        if string[i] == "{":
            num_left_braces_open += 1
        if string[i] == "}":
            num_left_braces_open -= 1
            if num_left_braces_open == 0:
                right_brace_idx = i
                break
        i += 1
    if right_brace_idx is None:
        retval = None
    else:
        retval = string[idx:right_brace_idx + 1]
    return retval


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
    return final_metric['f1']


def compute_score(solution_str, ground_truth):
    result = {"score": 0, "reason": "", "answer": "", "f1_score": 0}
    response = solution_str
    valid_template, reason = validate_format(response)
    if not valid_template:
        result["score"] = -1
        result["reason"] = f"bad format: {reason}"
        return result
    answer_part = extract_answer(response)
    if answer_part is None:
        result["score"] = -1
        result["reason"] = "cannot extract answer"
        return result
    try:
        answer = remove_boxed(last_boxed_only_string(answer_part))
        result["answer"] = answer
    except Exception as e:
        result["score"] = -1
        result["reason"] = f"find box error: {e}"
        return result
    f1_score = get_f1_score(answer, ground_truth)
    result["f1_score"] = f1_score
    if f1_score > 0 and "</search>" in response and "</python>" in response:
        result["score"] = f1_score + 0.1
    elif f1_score > 0:
        result["score"] = f1_score
    else:
        result["score"] = 0
    return result
# ---------------------------------------------------------------------------------------------

S = "<search> query </search><result> Page 1: text </result>"
P = "<python>print(1)</python><result>1</result>"
T = "<think> reasoning </think>"


def templates(g: str, w: str, part: str):
    return {
        "plain": f"{T}<answer>The answer is \\boxed{{{g}}}.</answer>",
        "search": f"{T}{S}{T}<answer>\\boxed{{{g}}}</answer>",
        "both_tools": f"{T}{S}{T}{P}{T}<answer>\\boxed{{{g}}}</answer>",
        "both_tools_wrong": f"{T}{S}{P}{T}<answer>\\boxed{{{w}}}</answer>",
        "partial": f"{T}{S}{P}<think>x</think><answer>\\boxed{{{part}}}</answer>",
        "wrong": f"{T}<answer>\\boxed{{{w}}}</answer>",
        "last_box": f"{T}<answer>\\boxed{{{w}}} no wait \\boxed{{{g}}}</answer>",
        "nested": f"{T}<answer>\\boxed{{\\text{{{g}}}}}</answer>",
        "no_think": f"<answer>\\boxed{{{g}}}</answer>",
        "think_unpaired": f"{T}<think><answer>\\boxed{{{g}}}</answer>",
        "two_answers": f"{T}<answer>\\boxed{{{w}}}</answer><answer>\\boxed{{{g}}}</answer>",
        "no_box": f"{T}<answer>{g}</answer>",
        "unclosed_box": f"{T}<answer>\\boxed{{{g} {{x}}</answer>",
        "python_no_result": f"{T}<python>print(1)</python>{T}<answer>\\boxed{{{g}}}</answer>",
        "result_first": f"{T}<result>r</result><search>q</search>{T}<answer>\\boxed{{{g}}}</answer>",
        "search_unclosed": f"{T}<search>q<result>r</result>{T}<answer>\\boxed{{{g}}}</answer>",
        "answer_reversed": f"{T}</answer>\\boxed{{{g}}}<answer>",
        "fbox_only": f"{T}<answer>\\fbox{{{g}}} \\boxed{{</answer>",
        "multiline": f"{T}\n{S}\n<think>more\nlines</think>\n<answer>\nSo:\n\\boxed{{{g}}}\n</answer>",
    }


def main() -> None:
    golds = []
    for name, k in (("hotpotqa", 6), ("bamboogle", 4), ("2wiki", 3), ("math500", 5), ("gsm8k", 2)):
        for line in [l for l in (SRC / name / "test.jsonl").read_text().splitlines() if l.strip()][:k]:
            a = json.loads(line)["answer"]
            if name == "gsm8k":
                a = a.split("####")[-1].strip()
            golds.append(a if isinstance(a, list) else [a])
    golds.append(["yes"])
    rows = []
    for i, gs in enumerate(golds):
        g = gs[0]
        w = golds[(i + 1) % len(golds)][0]
        part = g.split()[0] + " extra words" if g.split() else "x"
        for kind, response in templates(g, w, part).items():
            r = compute_score(response, gs)
            rows.append({"kind": kind, "golds": gs, "response": response, "score": r["score"],
                         "answer": r["answer"] if r["score"] != -1 else None})
    with OUT.open("w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} cases written to {OUT}")


if __name__ == "__main__":
    main()
