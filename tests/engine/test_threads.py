"""engine/threads.py: the first guess (a pure function of cores, load and step size), the load
reading, and the tuner's switching, driven by a fake clock (no timed tests)."""

from __future__ import annotations

import threading

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.engine import threads as th
from rnnlab.engine.threads import MIN_PARALLEL_WORK, Tuner, busy_between, cpu_times, decide, plan_threads, step_work

BIG = 10 * MIN_PARALLEL_WORK


# ------------------------------------------------------------------------------- decide
@pytest.mark.parametrize("cores, busy, work, expected", [
    (1, 0.0, BIG, 1),                      # one core
    (2, 0.0, BIG, 2),                      # idle, a big step: all cores
    (2, 0.0, MIN_PARALLEL_WORK - 1, 1),    # idle, a step too small to share
    (2, 1.0, BIG, 1),                      # one busy loop beside us on 2 cores
    (2, 0.4, BIG, 2),                      # light noise
    (2, 0.6, BIG, 1),                      # less than 1.5 cores free
    (8, 3.0, BIG, 5),                      # the free cores
    (8, 3.6, BIG, 4),
    (8, 20.0, BIG, 1),                     # an overloaded machine
    (4, -1.0, BIG, 4),                     # a negative reading counts as idle
])
def test_decide(cores, busy, work, expected):
    assert decide(cores, busy, work) == expected


@settings(max_examples=300, deadline=None)
@given(cores=st.integers(1, 256), busy=st.floats(0, 512, allow_nan=False), more=st.floats(0, 64, allow_nan=False),
       work=st.integers(0, 10**9))
def test_decide_stays_in_range_and_never_adds_threads_for_more_load(cores, busy, more, work):
    n = decide(cores, busy, work)
    assert 1 <= n <= cores
    assert decide(cores, busy + more, work) <= n
    if cores == 1 or work < MIN_PARALLEL_WORK or cores - busy < 1.5:
        assert n == 1


def test_step_work_leaves_embedding_tables_out():
    model = torch.nn.Sequential(torch.nn.Embedding(1000, 16), torch.nn.Linear(16, 4))
    assert step_work(model, 32) == (16 * 4 + 4) * 32


# ------------------------------------------------------------------------------ the load
def test_cpu_times_reads_the_first_line_of_proc_stat(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n")
    assert cpu_times(str(stat)) == (150.0, 1000.0)
    for bad in ("", "intr 1 2 3\n", "cpu a b c d\n", "cpu 1 2\n"):
        stat.write_text(bad)
        assert cpu_times(str(stat)) is None
    assert cpu_times(str(tmp_path / "absent")) is None


@pytest.mark.parametrize("before, after, own_s, expected", [
    ((0, 0), (100, 200), 0.0, 1.0),       # half of 2 cores busy, none of it ours
    ((0, 0), (100, 200), 0.1, 0.0),       # ... all of it ours (0.1 s of CPU in a 0.1 s window)
    ((0, 0), (200, 200), 0.1, 1.0),       # both busy, one of them us
    ((0, 0), (0, 0), 0.0, 0.0),           # the readings did not advance
    ((0, 0), (10, 200), 0.1, 0.0),        # never negative
])
def test_busy_between(before, after, own_s, expected):
    assert busy_between(before, after, own_s, 0.1, 2) == pytest.approx(expected)


# ----------------------------------------------------------------------------- the tuner
class Machine:
    """A fake clock: a batch at ``n`` threads takes ``cost[n]`` seconds per token."""

    def __init__(self, cost: dict[int, float]):
        self.cost, self.t, self.applied = dict(cost), 0.0, []

    def clock(self) -> float:
        return self.t

    def set_threads(self, n: int) -> None:
        self.applied.append(n)

    def run(self, tuner: Tuner, batches: int, tokens: int = 1000) -> list[int]:
        """Run batches; the thread count each one ran at."""
        used = []
        for _ in range(batches):
            tuner.start()
            used.append(tuner.current)
            self.t += self.cost[tuner.current] * tokens
            tuner.stop(tokens)
        return used


def tuner_on(machine: Machine, first: int, **kw) -> Tuner:
    return Tuner(candidates=(1, 2), first=first, set_threads=machine.set_threads, clock=machine.clock, **kw)


def test_an_idle_machine_ends_on_all_cores():
    m = Machine({1: 1.45e-6, 2: 1e-6})
    t = tuner_on(m, first=1)
    used = m.run(t, 200)
    assert used[:4] == [1, 1, 2, 2]                # the probe: 2 batches each, the first guess first
    assert used[4:54] == [2] * 50                  # held for 50 batches, then probed again now and then
    assert used.count(2) >= 0.9 * len(used)
    assert t.switches[0]["threads"] == 2 and t.switches[0]["us_per_token"] == {"1": 1.45, "2": 1.0}


def test_under_contention_a_probe_of_all_cores_costs_one_batch():
    m = Machine({1: 1e-6, 2: 5e-6})
    t = tuner_on(m, first=1)
    used = m.run(t, 1000)
    assert t.current == 1 and [s["threads"] for s in t.switches] == [1]
    assert used[:3] == [1, 1, 2] and used[3] == 1  # dropped after one batch 5x slower
    assert used.count(2) == t.probes                   # every probe: one slow batch


def test_a_wrong_first_guess_is_left_after_the_probe():
    m = Machine({1: 1e-6, 2: 5e-6})
    t = tuner_on(m, first=2)
    used = m.run(t, 20)
    assert used[:2] == [2, 2] and set(used[2:]) == {1}
    assert [s["threads"] for s in t.switches] == [1]


def test_probes_thin_out_while_the_choice_holds():
    m = Machine({1: 1e-6, 2: 5e-6})
    t = tuner_on(m, first=1, hold=50, max_hold=400)
    m.run(t, 3000)
    # holds of 50, 100, 200, 400, 400, ...: about 3000 / 400 probes, not 3000 / 50
    assert 6 <= t.probes <= 11


def test_more_threads_must_win_by_the_margin():
    m = Machine({1: 1e-6, 2: 0.95e-6})
    t = tuner_on(m, first=1)
    m.run(t, 100)
    assert t.current == 1


def test_a_load_that_arrives_is_followed_within_a_few_batches():
    m = Machine({1: 1.4e-6, 2: 1e-6})
    t = tuner_on(m, first=2, hold=1000)
    m.run(t, 100)
    assert t.current == 2
    m.cost = {1: 3e-6, 2: 40e-6}  # a competitor arrives: 2 threads collapse
    used = m.run(t, 30)
    slow = [i for i, n in enumerate(used) if n == 2]
    assert t.current == 1 and len(slow) <= t.window + 3  # the drift window, then the probe
    assert [s["threads"] for s in t.switches] == [2, 1]


def test_a_load_that_leaves_is_noticed_too():
    m = Machine({1: 3e-6, 2: 40e-6})
    t = tuner_on(m, first=1, hold=1000)
    m.run(t, 100)
    m.cost = {1: 1.4e-6, 2: 1e-6}  # the competitor is gone: everything faster
    m.run(t, 30)
    assert t.current == 2 and [s["threads"] for s in t.switches] == [1, 2]


def test_one_candidate_never_probes_and_record_says_what_happened():
    m = Machine({1: 1e-6})
    t = Tuner(candidates=(1,), first=1, set_threads=m.set_threads, clock=m.clock)
    m.run(t, 10)
    assert t.record() == {"threads": 1, "batches": 10, "probes": 0, "switches": []}
    assert set(m.applied) == {1}


def test_stop_without_start_is_ignored():
    m = Machine({1: 1e-6, 2: 1e-6})
    t = tuner_on(m, first=1)
    t.stop(100)
    assert t.batches == 0


@settings(max_examples=60, deadline=None)
@given(costs=st.lists(st.tuples(st.floats(0.1, 100), st.floats(0.1, 100)), min_size=1, max_size=6),
       first=st.sampled_from([1, 2]), span=st.integers(250, 400))
def test_the_tuner_settles_on_the_clearly_faster_count_in_any_load_history(costs, first, span):
    """Whatever the loads and their order, once a load has lasted the longest hold (100
    batches here) and a probe, the tuner runs at the count that is faster by a clear factor
    (2x) for at least 80% of the batches (the rest: probes of the other count)."""
    m = Machine({1: 1e-6, 2: 1e-6})
    t = tuner_on(m, first=first, hold=25, max_hold=100)
    for c1, c2 in costs:
        m.cost = {1: c1 * 1e-6, 2: c2 * 1e-6}
        used = m.run(t, span)
        if max(c1, c2) >= 2 * min(c1, c2):
            fast = 1 if c1 < c2 else 2
            settled = used[t.max_hold + 2 * t.probe:]
            assert settled.count(fast) >= 0.8 * len(settled), (c1, c2, used)


# -------------------------------------------------------------------------- plans, threads
def test_plan_with_a_count_sets_it_and_has_no_tuner():
    before = torch.get_num_threads()
    try:
        plan = plan_threads(1, BIG, cores=2)
        assert plan.tuner is None and plan.threads == 1 and torch.get_num_threads() == 1
        assert plan.record()["threads"] == 1 and "fit.threads" in plan.line()
    finally:
        torch.set_num_threads(before)


def test_plan_auto_starts_from_decide_and_tunes_between_one_and_all():
    before = torch.get_num_threads()
    try:
        plan = plan_threads("auto", BIG, cores=2, busy=1.0)
        assert plan.threads == 1 and plan.tuner.candidates == (1, 2)
        rec = plan.record()
        assert rec["setting"] == "auto" and rec["busy_cores"] == 1.0 and "omp_wait_policy" in rec
        assert "auto, starting at 1 of 2 cores" in plan.line()
        one = plan_threads("auto", BIG, cores=1)
        assert one.tuner is None and one.threads == 1
    finally:
        torch.set_num_threads(before)


def test_omp_num_threads_caps_the_cores(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert th.cores_available() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert th.cores_available() >= 1


def test_without_probe_first_the_first_count_is_held_before_any_probe():
    m = Machine({1: 1e-6, 2: 4e-6})  # a busy machine: two threads are 4x slower
    t = tuner_on(m, first=1, hold=20, probe_first=False)
    used = m.run(t, 19)
    assert used == [1] * 19 and t.probes == 0 and 2 not in m.applied   # a short call never probes
    used = m.run(t, 5)
    assert used == [1, 1, 1, 2, 1] and t.probes == 1   # the 20th batch ends the hold; 2 threads aborted


def test_the_inference_tuner_holds_one_thread_before_probing(monkeypatch):
    monkeypatch.delattr(th._local, "tuner", raising=False)  # this thread's tuner may have run (test order)
    tuner = th.inference_tuner(cores=2)
    assert tuner.first == 1 and not tuner.probing and tuner.probe_first is False


def test_each_calling_thread_has_its_own_inference_tuner():
    mine = th.inference_tuner(cores=2)
    assert th.inference_tuner(cores=2) is mine  # kept across calls
    other = []
    worker = threading.Thread(target=lambda: other.append(th.inference_tuner(cores=2)))
    worker.start()
    worker.join()
    assert other[0] is not None and other[0] is not mine
    assert th.inference_tuner(cores=1) is None


def test_predictions_with_auto_threads_equal_those_of_one_thread():
    import numpy as np

    from rnnlab.config import from_dict
    from rnnlab.engine import predict_outputs
    from rnnlab.models import build_model
    from rnnlab.text.sequences import Sequences

    layers = [{"type": "LSTM", "units": 16}, {"type": "Dense", "units": 2, "activation": "sigmoid"}]
    cfg = from_dict({"model": {"embedding": {"dim": 8}, "layers": layers}})
    torch.manual_seed(0)
    model = build_model(cfg.model, vocab_size=50, maxlen=None)
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, size=300)
    seqs = Sequences(rng.integers(1, 50, size=int(lengths.sum())), np.concatenate([[0], np.cumsum(lengths)]))
    before = torch.get_num_threads()
    try:
        one, _ = predict_outputs(model, seqs, 16, "pre", None, torch.device("cpu"), threads=1)
        tuner = th.inference_tuner(cores=2)
        auto, _ = predict_outputs(model, seqs, 16, "pre", None, torch.device("cpu"), threads="auto")
    finally:
        torch.set_num_threads(before)
    np.testing.assert_allclose(auto, one, rtol=0, atol=1e-6)
    if th.cores_available() > 1:  # the thread's tuner timed the batches (OMP_NUM_THREADS=1 leaves none)
        assert tuner.batches > 0
