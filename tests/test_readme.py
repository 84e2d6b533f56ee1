"""The README's regularizer example runs as written and ranks the new prior."""
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_plugin_example_runs(tmp_path):
    text = README.read_text()
    code = re.search(r"```python\n(# my_prior\.py\n.*?)```", text, re.S).group(1)
    (tmp_path / "my_prior.py").write_text(code)
    subprocess.run([sys.executable, "my_prior.py"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=300)
    df = pd.read_csv(tmp_path / "results/my_prior/results.csv")
    assert set(df.regularizer) == {"l1_attr", "fourier", "none"}
    assert (df.status == "ok").all()
    assert "l1_attr" in (tmp_path / "results/my_prior/report.html").read_text()
