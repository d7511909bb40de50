"""The example in the package's README runs as shown."""

import re

from support import REPOSITORY


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    readme = (REPOSITORY / "Sources" / "Python" / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    assert (tmp_path / "regressor.safetensors").is_file()
    printed = capsys.readouterr().out
    steps, reason, loss = re.search(r"(\d+) steps \((\w+)\), best validation loss ([\d.]+)", printed).groups()
    assert int(steps) <= 300 and reason in ("budget_spent", "early_stopping") and float(loss) < 0.01


def test_the_main_readme_example_runs(tmp_path, monkeypatch, capsys):
    readme = (REPOSITORY / "README.md").read_text()
    example = next(block for block in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if "rnnkit.Model" in block)
    # Two steps show that it runs; the figure it prints is the README's to quote.
    example = example.replace("steps=100", "steps=2")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    assert (tmp_path / "lstm.safetensors").is_file()
    assert re.fullmatch(r"\d+ sequences/s\n", capsys.readouterr().out)
