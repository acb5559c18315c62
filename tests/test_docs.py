"""README.md and docs/*.md stay true: every example link opens, every example command runs or parses.

- Links ``/page?…`` and ``http://localhost:8501/page?…`` open with AppTest on a workspace holding the
  built-in demo; the page shows no exception and no notice that the link's values were not usable.
- ``python -m samis …`` lines in code blocks run on a fresh copy of that workspace when they need no
  checkpoint, network, Ray cluster or real dataset; the others are parsed by the CLI's argument parser.
- README.md stays under 250 lines and has the two set-up commands and the run command.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from samis import cli, demo
from samis.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "streamlit_app.py")
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PAGES = {path.stem for path in (REPO / "pages").glob("*.py")}
LINK = re.compile(r"(?:http://localhost:8501|(?<![\w.)/:]))/(" + "|".join(sorted(PAGES)) + r")\?([^\s`)|>\]]+)")
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)
#: words in a notice that says a link's value could not be used (state.bind and the sidebar's own notices)
FALLBACK_WORDS = ("cannot be used here", "the link names", "not registered", "no dataset", "falls back",
                  "showing")


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def example_links() -> list[tuple[str, str, dict]]:
    found = {}
    for doc in DOCS:
        for match in LINK.finditer(doc.read_text()):
            query = dict(parse_qsl(urlsplit("/?" + match.group(2)).query))
            found.setdefault(match.group(0), (_rel(doc), match.group(1), query))
    return [(link, doc, page, query) for link, (doc, page, query) in found.items()]


def example_commands() -> list[tuple[str, int, list[str]]]:
    """(document, block number, argv after ``python -m samis``) for every such line in a fenced code block."""
    found = []
    for doc in DOCS:
        for number, (language, block) in enumerate(FENCE.findall(doc.read_text())):
            if language == "text":  # a synopsis, not a command
                continue
            for line in block.replace("\\\n", " ").splitlines():
                if not re.match(r"\s*([A-Z_]+=\S*\s+)*python -m samis ", line):
                    continue
                words = shlex.split(line, comments=True)
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value before the command
                    words = words[1:]
                found.append((_rel(doc), number, words[3:]))
    return found


LINKS = example_links()
COMMANDS = example_commands()


def why_not_run(args) -> str | None:
    """Why a parsed example command is only parsed (None: it runs on the demo workspace)."""
    command, action = args.command, getattr(args, "action", None)
    if command == "checkpoints" and action != "list":
        return "network or a checkpoint file"
    if command == "sam" and args.model not in ("tiny", "tiny-sam2"):
        return "a SAM checkpoint"
    if command == "sam":
        return "slow: a SAM run over the whole demo"
    if command == "speed":
        return "slow: times every method for up to 30 s each"
    if getattr(args, "engine", "local") == "ray" or getattr(args, "ray_address", None):
        return "a Ray cluster"
    dataset = getattr(args, "dataset", None) or getattr(args, "table_id", None)
    if command == "datasets" and action == "add" or (dataset not in (None, "demo") and not (
            command == "report" and args.paper and not args.measured)):
        return "a real dataset (../shared)"
    return None


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("docs") / "workspace"
    demo.ensure_demo(Workspace(root))
    return root


# ---- README ----------------------------------------------------------------------------------------
def test_readme_is_short_and_has_the_setup_and_run_commands():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) < 250
    blocks = [block for _, block in FENCE.findall(text)]
    assert "pip install -r requirements.txt\npytest\n" in blocks, "the two set-up commands, in one block"
    assert any(block.strip() == "streamlit run streamlit_app.py" for block in blocks)
    assert (REPO / "docs" / "images" / "compare.png").stat().st_size < 300_000


def test_readme_tours_every_page_and_lists_every_command():
    text = (REPO / "README.md").read_text()
    for page in PAGES:
        assert f"http://localhost:8501/{page}" in text, f"the tour has no link to /{page}"
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - the parser's own command list
    table = text.split("## The command line", 1)[1]
    for name, sub in commands.items():
        actions = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]  # noqa: SLF001
        if actions:
            for action in actions[0].choices:
                assert re.search(rf"`{name} [^`]*\b{action}\b", table), f"{name} {action} missing from the CLI table"
        else:
            assert f"`{name}" in table, f"{name} missing from the CLI table"
    for flag in ("--image-level", "--pixel-level"):
        assert f"`evaluate DATASET {flag}`" in table


def test_local_doc_links_point_at_files():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            assert (doc.parent / target).exists(), f"{_rel(doc)} links to {target}, which does not exist"


def test_docs_found_links_and_commands():
    assert len(LINKS) >= 10 and len(COMMANDS) >= 25
    assert {page for _, _, page, _ in LINKS} == PAGES


# ---- links -----------------------------------------------------------------------------------------
def _messages(at: AppTest) -> list[str]:
    return [str(e.value) for e in (*at.info, *at.warning, *at.error)]


@pytest.mark.slow  # builds the demo (about 10 s) and opens each link's page
@pytest.mark.parametrize("link, doc, page, query", LINKS, ids=[link for link, *_ in LINKS])
def test_example_link_opens_without_fallback(demo_root, monkeypatch, link, doc, page, query):
    monkeypatch.setenv("SAMIS_WORKSPACE", str(demo_root))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query)
    at.run()
    if page != "overview":
        at.query_params.update(query)  # as a browser opening the link on this page has them
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, (doc, link, [e.message for e in at.exception])
    notices = [m for m in _messages(at) if any(word in m.lower() for word in FALLBACK_WORDS)]
    assert not notices, (doc, link, notices)
    assert at.title, (doc, link)


# ---- commands --------------------------------------------------------------------------------------
@pytest.mark.parametrize("doc, block, argv", COMMANDS, ids=[" ".join(argv) for _, _, argv in COMMANDS])
def test_example_command_parses(doc, block, argv):
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse's way of refusing
        pytest.fail(f"{doc}: `python -m samis {shlex.join(argv)}` does not parse (exit {stop.code})")
    assert getattr(args, "handler", None), f"{doc}: {argv} names no command"


def _parsed(argv):
    try:
        return cli.build_parser().parse_args(argv)
    except SystemExit:  # reported by test_example_command_parses
        return None


def _blocks() -> dict[tuple[str, int], list[list[str]]]:
    """The commands that run here, by code block: a block's commands run in order, as a reader types them."""
    blocks: dict[tuple[str, int], list[list[str]]] = {}
    for doc, number, argv in COMMANDS:
        args = _parsed(argv)
        if args is not None and why_not_run(args) is None:
            blocks.setdefault((doc, number), []).append(argv)
    return blocks


BLOCKS = _blocks()


@pytest.mark.slow  # builds the demo once, then runs each block's commands on a fresh copy of it
@pytest.mark.parametrize("doc, number", list(BLOCKS), ids=[f"{doc}#block{n}" for doc, n in BLOCKS])
def test_example_commands_run_on_the_demo(demo_root, tmp_path, monkeypatch, capsys, doc, number):
    workspace = tmp_path / "workspace"
    shutil.copytree(demo_root, workspace)
    monkeypatch.chdir(tmp_path)  # files a command writes with -o land here
    monkeypatch.setenv("SAMIS_WORKSPACE", str(workspace))
    for argv in BLOCKS[doc, number]:
        code = cli.main(["--workspace", str(workspace), *argv])
        out, err = capsys.readouterr()
        assert code == 0, f"{doc}: `python -m samis {shlex.join(argv)}` exited {code}: {err.strip()[-500:]}"
        assert out.strip() or err.strip() or list(tmp_path.glob("*.*")), f"{doc}: {argv} printed nothing"


def test_commands_that_cannot_run_here_say_why():
    reasons = {why_not_run(args) for _, _, argv in COMMANDS if (args := _parsed(argv)) is not None} - {None}
    assert reasons <= {"network or a checkpoint file", "a SAM checkpoint", "slow: a SAM run over the whole demo",
                       "slow: times every method for up to 30 s each", "a Ray cluster", "a real dataset (../shared)"}
    assert sum(len(commands) for commands in BLOCKS.values()) >= 15, "most examples run on the demo"


@pytest.mark.slow
def test_the_fallback_check_sees_a_bad_link(demo_root, monkeypatch):
    """The check above is not blind: a link naming a method that does not exist is caught."""
    monkeypatch.setenv("SAMIS_WORKSPACE", str(demo_root))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"dataset": "demo", "gap_method": "ghost"})
    at.run()
    at.query_params.update({"dataset": "demo", "gap_method": "ghost"})
    at.switch_page("pages/compare.py")
    at.run()
    assert [m for m in _messages(at) if any(word in m.lower() for word in FALLBACK_WORDS)]
