"""The README's plug-in examples run as written: the new prior is ranked, the new
metric is scored."""
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_plugin_examples_run(tmp_path):
    """The regularizer script, with the metric snippet registered first."""
    text = README.read_text()
    prior = re.search(r"```python\n(# my_prior\.py\n.*?)```", text, re.S).group(1)
    metric = re.search(r"```python\n(import numpy as np\nfrom regbench.metrics import "
                       r"register_metric\n.*?)```", text, re.S).group(1)
    (tmp_path / "my_prior.py").write_text(metric + "\n" + prior)
    done = subprocess.run([sys.executable, "my_prior.py"], cwd=tmp_path, check=True,
                          capture_output=True, text=True, timeout=300)
    assert "report:" in done.stdout  # a script run says where it wrote
    df = pd.read_csv(tmp_path / "results/my_prior/results.csv")
    assert set(df.regularizer) == {"l1_attr", "fourier", "none"}
    assert (df.status == "ok").all()
    assert df["attribution_total"].notna().all()
    assert "l1_attr" in (tmp_path / "results/my_prior/report.html").read_text()
