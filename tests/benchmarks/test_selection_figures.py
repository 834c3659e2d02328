"""The perplexity benchmark's jobs and figures: both scorers agree, and the ceiling is the FLOP arithmetic."""

from __future__ import annotations

import math

import pytest

from benchmarks.selection import _job_ppl, ppl_figures


def test_ppl_jobs_score_the_same_rows_and_measure_the_ceiling_inputs():
    batched, loop = _job_ppl(8, "batched"), _job_ppl(8, "loop")
    assert batched["checksum"] == pytest.approx(loop["checksum"], rel=1e-6)
    assert "flops" not in batched  # counted once, untimed, in the loop job
    # 8 rows of 120-300 characters through 4 layers of width 128: hundreds of MFLOP each, not zero, not absurd.
    assert 8 * 1e8 < loop["flops"] < 8 * 5e9
    assert loop["peak_flops_per_s"] > 1e9 and loop["device"] in ("cpu", "cuda")
    if batched["device"] == "cpu":  # profiled on an untimed second pass: some of a pass's time, never all of it
        assert 0 < batched["kernel_seconds"] < 2 * batched["seconds"]


def test_kernel_seconds_counts_the_matrix_products_not_the_elementwise_work():
    import torch

    from benchmarks.selection import kernel_seconds

    a = torch.randn(512, 512)
    matmul_only = kernel_seconds(lambda: [a @ a for _ in range(20)])
    elementwise_only = kernel_seconds(lambda: [torch.nn.functional.silu(a) * a for _ in range(20)])
    assert matmul_only > 0 and elementwise_only == 0


def test_ppl_figures_report_speedup_and_ceiling_against_the_target():
    loop = {"seconds": 2.0, "flops": 5e10, "peak_flops_per_s": 1e11, "device": "cpu"}
    rows = {row["name"]: row for row in ppl_figures(64, {"seconds": 1.0}, loop)}
    # on a CPU the target is 0.7 of the ceiling (4x, below): 2x is half of it
    assert rows["ppl_batched_speedup"]["value"] == 2.0 and rows["ppl_batched_speedup"]["target"] == 2.8
    assert rows["ppl_batched_speedup"]["ok"] is False
    assert rows["ppl_share_of_ceiling"]["value"] == 0.5 and rows["ppl_share_of_ceiling"]["ok"] is False
    assert {r["name"]: r["ok"] for r in ppl_figures(64, {"seconds": 0.6}, loop)}["ppl_share_of_ceiling"] is True
    ceiling = rows["ppl_speedup_ceiling"]
    # At 100 GFLOP/s the 50 GFLOP take 0.5 s; the loop took 2 s, so nothing can be more than 4x faster.
    assert math.isclose(ceiling["value"], 4.0) and ceiling["ok"] is False
    assert "loop runs at 25 GFLOP/s (25%), the batched scorer at 50 (50%)" in ceiling["note"]
    fast_device = ppl_figures(64, {"seconds": 0.1}, {**loop, "peak_flops_per_s": 1e13, "device": "cuda"})
    assert all(row["ok"] for row in fast_device) and "on cuda" in fast_device[0]["note"]
    assert fast_device[0]["target"] == 10.0


def test_bf16_scorer_is_reported_beside_the_float32_target_not_in_it():
    loop = {"seconds": 2.0, "flops": 5e10, "peak_flops_per_s": 1e11, "device": "cpu"}
    rows = {row["name"]: row for row in ppl_figures(64, {"seconds": 1.0}, loop, {"seconds": 0.5})}
    assert rows["ppl_bf16_speedup"]["value"] == 4.0 and rows["ppl_bf16_speedup"]["ratio"] == 2.0
    assert "1.00 of the float32 ceiling" in rows["ppl_bf16_speedup"]["note"]
    assert rows["ppl_share_of_ceiling"]["value"] == 0.5  # the float32 scorer's share, unchanged by bf16


def test_kernel_bound_is_the_share_if_only_the_matrix_kernels_took_time():
    loop = {"seconds": 2.0, "flops": 5e10, "peak_flops_per_s": 1e11, "device": "cpu"}
    rows = {row["name"]: row for row in ppl_figures(64, {"seconds": 1.0, "kernel_seconds": 0.8}, loop)}
    # 50 GFLOP in 0.8 s of kernels is 62.5 GFLOP/s, 0.625 of the 100 GFLOP/s peak, above the 0.5 measured
    assert rows["ppl_kernel_bound_share"]["value"] == 0.625
    assert "0.80 s of 1.00 s" in rows["ppl_kernel_bound_share"]["note"]
    assert "ppl_kernel_bound_share" not in {r["name"] for r in ppl_figures(64, {"seconds": 1.0}, loop)}
