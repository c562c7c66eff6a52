"""Sections of results.md that other benchmark scripts write: each between its own markers, replaced
by that script's next run and kept when ``run_benchmarks.py`` rewrites the rest of the file."""
import re

START, END = "<!-- section: {} -->", "<!-- end section: {} -->"


def replace_section(path, name, markdown):
    """Write ``markdown`` as section ``name`` of ``path``, in place of an earlier run's, else at the end."""
    text = path.read_text() if path.exists() else ""
    block = f"{START.format(name)}\n{markdown.strip()}\n{END.format(name)}\n"
    pattern = re.compile(re.escape(START.format(name)) + r".*?" + re.escape(END.format(name)) + r"\n?", re.DOTALL)
    text = pattern.sub(lambda match: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def kept_sections(path):
    """Every marked section of ``path``, as text to append to a rewritten file."""
    if not path.exists():
        return ""
    pattern = re.compile(r"<!-- section: (.+?) -->.*?<!-- end section: \1 -->\n?", re.DOTALL)
    return "".join(match.group(0) for match in pattern.finditer(path.read_text()))
