"""The README's plug-in examples run as written: the new prior is ranked, the new
metric is scored. The README stays a five-minute read (issue 44 item 2): at most 300
lines, and every relative link in it points to a file of the repository."""
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXTENDING = ROOT / "docs" / "extending.md"   # the metric example moved there

PRIOR = r"```python\n(# my_prior\.py\n.*?)```"
METRIC = r"```python\n(import numpy as np\nfrom regbench.metrics import register_metric\n.*?)```"


def test_readme_plugin_examples_run(tmp_path):
    """The README's regularizer script, with docs/extending.md's metric snippet
    registered first."""
    prior = re.search(PRIOR, README.read_text(), re.S).group(1)
    metric = re.search(METRIC, EXTENDING.read_text(), re.S).group(1)
    (tmp_path / "my_prior.py").write_text(metric + "\n" + prior)
    done = subprocess.run([sys.executable, "my_prior.py"], cwd=tmp_path, check=True,
                          capture_output=True, text=True, timeout=300)
    assert "report:" in done.stdout  # a script run says where it wrote
    df = pd.read_csv(tmp_path / "results/my_prior/results.csv")
    assert set(df.regularizer) == {"l1_attr", "fourier", "none"}
    assert (df.status == "ok").all()
    assert df["attribution_total"].notna().all()
    assert "l1_attr" in (tmp_path / "results/my_prior/report.html").read_text()


def test_docs_repeat_the_readme_prior_example_exactly():
    """docs/extending.md shows the README's prior script; the run above tests both."""
    readme = re.search(PRIOR, README.read_text(), re.S).group(1)
    assert re.search(PRIOR, EXTENDING.read_text(), re.S).group(1) == readme


def test_docs_home_repeats_the_readme_commands_exactly():
    """The install-and-run and install-and-test commands of docs/index.md are the
    README's (what .ci/run runs), so the two cannot drift apart."""
    def commands(path):
        return [block for block in re.findall(r"```bash\n(.*?)```", path.read_text(), re.S)
                if block.startswith("python3 -m venv")]
    readme = commands(README)
    assert len(readme) == 2 and "regbench run --regularizers all" in readme[0]
    assert "python -m pytest -q" in readme[1]
    assert commands(ROOT / "docs" / "index.md") == readme


def markdown_links(text: str) -> list[str]:
    """The targets of inline Markdown links and images, outside code blocks and code
    spans."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)


def test_readme_is_short_and_its_relative_links_resolve():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    links = markdown_links(text)
    assert any(link.startswith("docs/") for link in links)
    broken = []
    for link in links:
        parts = urlsplit(link)
        if parts.scheme or link.startswith(("#", "//")):
            continue
        if not (README.parent / unquote(parts.path)).exists():
            broken.append(link)
    assert not broken, f"README.md links to files that do not exist: {broken}"


def test_markdown_links_are_found():
    text = ("[a](docs/a.md) ![b](docs/b.png) [c](docs/c.md#part) `[d](no.md)`\n"
            "```\n[e](no.md)\n```\n[f](https://example.org)")
    assert markdown_links(text) == ["docs/a.md", "docs/b.png", "docs/c.md#part",
                                    "https://example.org"]
