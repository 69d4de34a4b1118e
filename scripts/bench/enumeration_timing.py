"""Do unknown, unconfirmed, disabled and confirmed users take the same time to answer?

Measures ForgotPassword, ResendConfirmationCode, ConfirmSignUp and ConfirmForgotPassword
against `gatehouse serve` (a pool with `PreventUserExistenceErrors=ENABLED`, email as the
username), through the same calls as `tests/test_enumeration.py`: every user of each kind asked
in a shuffled interleaved order, so that drift and noise hit every kind alike, and prints the
median latency of each kind and the largest ratio between two kinds for each operation.

A measurement, not a test: wall-clock times move with the machine's load. Run it on a quiet
machine and record the output in docs/benchmarks.md:

    cargo build --release --bin gatehouse
    GATEHOUSE_BIN=target/release/gatehouse .venv/bin/python scripts/bench/enumeration_timing.py [ROUNDS]
"""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from gatehouse_harness import GatehouseServer, PoolFixture, unique  # noqa: E402
from test_enumeration import KINDS, OPERATIONS, Caller, interleaved_calls, make_users  # noqa: E402


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    server = GatehouseServer()
    server.start()
    try:
        pool = PoolFixture.create(server, email_username=True, PreventUserExistenceErrors="ENABLED")
        caller = Caller(server, pool.client_id)
        # Warm-up (connection, caches, the pool's first queries) with names used nowhere else.
        for _ in range(20):
            caller.call("ConfirmSignUp", f"{unique('warm')}@example.com")
        timings: dict[tuple[str, str], list[float]] = {}
        shuffle = random.Random(20261202)
        # Fresh users for each repeat: a user is asked at most ROUNDS times per operation, within
        # the code sends and guesses a user gets per hour.
        for _ in range(repeats):
            users = make_users(pool)
            for operation, kind, elapsed, _seen in interleaved_calls(caller, users, shuffle):
                timings.setdefault((operation, kind), []).append(elapsed)
        print(f"{'operation':<24}" + "".join(f"{kind:>13}" for kind in KINDS) + "  slowest/fastest")
        for operation in OPERATIONS:
            medians = [statistics.median(timings[(operation, kind)]) for kind in KINDS]
            cells = "".join(f"{m * 1000:>10.2f} ms" for m in medians)
            print(f"{operation:<24}{cells}  {max(medians) / min(medians):.2f}")
        samples = len(timings[(OPERATIONS[0], KINDS[0])])
        print(f"({samples} samples per operation and kind)")
    finally:
        server.close()


if __name__ == "__main__":
    main()
