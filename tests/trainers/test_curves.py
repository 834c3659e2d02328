"""Curves: steps to a threshold, summaries, the markdown table and the plot."""

from kinject.trainers.curves import append_point, plot_curves, read_curve, results_table, steps_to, summarize

CURVE = [
    {"step": 0, "accuracy": 0.0, "per_category": {"product": 0.0}},
    {"step": 50, "accuracy": 0.86, "per_category": {"product": 0.8}},
    {"step": 100, "accuracy": 0.84, "per_category": {"product": 0.9}},
    {"step": 150, "accuracy": 0.93, "per_category": {"product": 1.0, "terms": 0.75}},
]


def test_steps_to_is_the_first_step_reaching_the_threshold():
    assert steps_to(CURVE, 0.85) == 50
    assert steps_to(CURVE, 0.90) == 150
    assert steps_to(CURVE, 0.95) is None
    assert steps_to(list(reversed(CURVE)), 0.85) == 50  # order of points does not matter


def test_summary_and_table():
    s = summarize(CURVE)
    assert s == {"final_step": 150, "final_accuracy": 0.93, "per_category": {"product": 1.0, "terms": 0.75},
                 "steps_to_85": 50, "steps_to_90": 150}
    table = results_table({"fact": CURVE, "none": CURVE[:2]})
    lines = table.splitlines()
    assert lines[0] == "| run | step | accuracy | steps to 85 % | steps to 90 % | product | terms |"
    assert lines[2] == "| fact | 150 | 0.930 | 50 | 150 | 1.000 | 0.750 |"
    assert lines[3] == "| none | 50 | 0.860 | 50 | — | 0.800 | — |"
    assert summarize([])["final_accuracy"] is None


def test_points_round_trip_and_plot_is_a_png(tmp_path):
    path = tmp_path / "curve.jsonl"
    for point in CURVE:
        append_point(path, point)
    assert read_curve(path) == CURVE
    assert read_curve(tmp_path / "missing.jsonl") == []
    png = plot_curves({"fact": CURVE, "graph": CURVE[:3]}, tmp_path / "curve.png", title="t")
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
