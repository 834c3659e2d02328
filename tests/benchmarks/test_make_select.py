import subprocess
import sys

import pytest

from benchmarks.make_select import BASELINE, ROOT, baseline_tree


def test_baseline_tree_imports_the_old_selection_as_kinject(tmp_path):
    try:
        subprocess.run(["git", "cat-file", "-e", f"{BASELINE}^{{commit}}"], cwd=ROOT, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"no git history with {BASELINE} here")
    pkg = baseline_tree(tmp_path)
    assert (pkg / "kinject" / "pipelines" / "selection" / "run.py").is_file()
    probe = ("import kinject.pipelines.selection.run as run, kinject.recipes.schema as schema; "
             "print(run.__file__); print(hasattr(run, 'd4_fraction'), 'kmeans_redo' in schema.D4Config.model_fields)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": f"{pkg}:{ROOT}"},
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0].startswith(str(pkg)) and out[1] == "False False"
