"""Writes the tiny verl-layout parquet fixtures of arpo-eval from the reference RL files.

Keeps the original schema and snappy compression, so the Rust reader sees what it sees on the real
files (including the backspace defect in `\\boxed`). Run with pyarrow installed:

    /work/pyref/bin/python scripts/eval/make_rl_fixture.py [BENCHMARKS_DIR]
"""

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/benchmarks")
OUT = Path(__file__).resolve().parents[2] / "crates/arpo-eval/tests/fixtures/rl"


def take(name: str, rows: list[int], out: str, compliant: bool) -> None:
    table = pq.read_table(SRC / name)
    small = table.take(rows)
    # `compliant=False` keeps pyarrow's legacy `list.item` naming, as in hard_search_1k.parquet.
    pq.write_table(small, OUT / out, compression="snappy", use_compliant_nested_type=compliant)
    print(f"{out}: rows {rows} of {name} ({table.num_rows} rows)")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    valid = pq.read_table(SRC / "valid.parquet").column("ability").to_pylist()
    qa = [i for i, a in enumerate(valid) if a == "qa"][:2]
    math = [i for i, a in enumerate(valid) if a == "math"][:2]
    take("valid.parquet", qa + math, "valid_tiny.parquet", compliant=True)
    take("hard_search_1k.parquet", [0, 1, 2], "hard_search_tiny.parquet", compliant=False)
    # Malformed files for the error tests: an unknown role in row 1, and no `reward_model` column.
    msgs = [[{"role": "user", "content": "q0"}], [{"role": "robot", "content": "q1"}]]
    pq.write_table(
        pa.table({"data_source": ["x", "x"], "prompt": msgs, "reward_model": [{"ground_truth": "a"}, {"ground_truth": "b"}]}),
        OUT / "bad_role.parquet",
    )
    pq.write_table(pa.table({"data_source": ["x"], "prompt": msgs[:1]}), OUT / "no_reward_model.parquet")
    print("bad_role.parquet, no_reward_model.parquet: malformed on purpose")
