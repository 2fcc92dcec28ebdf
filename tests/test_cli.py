"""The CLI as a user meets it: summaries, confirmation, and errors without tracebacks or secrets."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from fleetlab.app.cli import build_parser
from fleetlab.dsn import DatabaseURL

from .reliability.harness import cli_inprocess

SECRET = "Sup3r-S3cret-pw"


def run(env, *args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "fleetlab.app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def run_here(env, *args):
    """The console script's code in this process (`run` minus interpreter start-up): for tests about what
    a command does and says, not about the console script itself."""
    return cli_inprocess(list(args), env)


def assert_clean_failure(out, *fragments):
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "Traceback" not in text
    assert SECRET not in text
    for f in fragments:
        assert f in text, text


def test_reset_prints_summary(cli_env):
    out = run(cli_env, "reset", "--yes")
    assert out.returncode == 0, out.stderr
    assert "organizations" in out.stdout and "gateways" in out.stdout
    assert " 6 rows" in out.stdout and " in " in out.stdout


def test_reset_without_terminal_needs_yes(cli_env):
    out = run(cli_env, "reset", stdin="")
    assert_clean_failure(out, "pass --yes")


def test_db_url_masks_password(cli_env):
    url = cli_env["DATABASE_URL"].replace("postgres@", f"postgres:{SECRET}@", 1)
    out = run({**cli_env, "DATABASE_URL": url}, "db", "url")
    assert out.returncode == 0
    assert SECRET not in out.stdout and ":***@" in out.stdout


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        (f"postgresql://fl:{SECRET}@127.0.0.1:1/fleetlab", "cannot connect"),
        (f"postgresql://fl:{SECRET}@127.0.0.1:notaport/fleetlab", "port must be a number"),
        (f"mysql://fl:{SECRET}@127.0.0.1/fleetlab", "not postgresql"),
        (SECRET, "not a URL"),
        (f"postgresql://fl:{SECRET}@127.0.0.1/fleetlab?sslmode=require&nope=1", "unsupported query parameter"),
        (f"postgresql://fl:{SECRET}@db.example.invalid/fleetlab", "not this machine"),
    ],
)
@pytest.mark.parametrize("command", [["reset", "--yes"], ["seed", "--yes"], ["migrate"], ["status"]])
def test_bad_urls_give_clean_errors(cli_env, url, fragment, command):
    if fragment == "not this machine" and command[0] in ("migrate", "status"):
        fragment = "cannot connect"
    out = run_here({**cli_env, "DATABASE_URL": url}, *command)
    assert_clean_failure(out, fragment)


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        (SECRET, "decodes to 11 bytes"),  # URL-safe base64 without its padding, which keys may omit
        (SECRET + "!", "not valid base64"),
        (base64.b64encode(SECRET.encode()).decode(), "decodes to 15 bytes"),
    ],
)
def test_bad_keys_give_clean_errors(cli_env, key, fragment):
    out = run_here({**cli_env, "FLEETLAB_SECRET_KEY": key}, "reset", "--yes")
    assert_clean_failure(out, fragment, "FLEETLAB_SECRET_KEY")
    assert key not in out.stderr


def test_decrypt_helper(cli_env):
    assert run_here(cli_env, "reset", "--yes").returncode == 0
    out = run_here(cli_env, "decrypt", "GW-SPR-001")
    assert out.returncode == 0 and out.stdout.strip() == "admin123"  # the original seed's password
    generated = run_here(cli_env, "reset", "--yes", "--orgs", "1")
    assert generated.returncode == 0, generated.stderr
    out = run_here(cli_env, "decrypt", "GW-0000-000-0000")
    assert out.returncode == 0 and len(out.stdout.strip()) == 24  # keyed per gateway
    assert_clean_failure(run_here(cli_env, "decrypt", "GW-NOPE"), "no gateway")


def test_protect_blocks_reset(cli_env):
    assert run_here(cli_env, "reset", "--yes").returncode == 0
    assert run_here(cli_env, "db", "protect").returncode == 0
    assert_clean_failure(run_here(cli_env, "reset", "--yes"), "protected")
    assert run_here(cli_env, "db", "unprotect").returncode == 0
    assert run_here(cli_env, "reset", "--yes").returncode == 0


def _commands(parser, prefix=()):
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for name, sub in action.choices.items():
            yield (*prefix, name), action, sub
            yield from _commands(sub, (*prefix, name))


def test_every_command_has_help():
    parser = build_parser()
    seen = 0
    for path, action, sub in _commands(parser):
        helps = {a.dest: a.help for a in action._choices_actions}
        assert helps.get(path[-1]), f"`fleetlab {' '.join(path)}` has no help text"
        for arg in sub._actions:
            if arg.dest not in ("help",) and arg.option_strings:
                assert arg.help, f"`fleetlab {' '.join(path)} {arg.option_strings[0]}` has no help"
        seen += 1
    assert seen >= 8


def _examples(help_text: str) -> list[str]:
    """The command lines of the `Example:` section that ends a --help (indented lines after it)."""
    head, found, section = help_text.rstrip().rpartition("\nExample:\n")
    assert found, "no `Example:` section"
    lines = section.splitlines()
    assert lines and all(line.startswith("  fleetlab ") for line in lines), "the Example: section must end the help"
    return [line.strip() for line in lines]


def test_every_help_ends_with_an_example_that_parses():
    import shlex

    parser = build_parser()
    parsers = [((), parser), *((path, sub) for path, _, sub in _commands(parser))]
    for path, sub in parsers:
        name = " ".join(("fleetlab", *path))
        examples = _examples(sub.format_help())
        assert examples, f"`{name} --help` shows no example"
        for example in examples:
            argv = shlex.split(example)[1:]
            assert argv[: len(path)] == list(path), f"`{name} --help` shows an example of another command: {example}"
            args = build_parser().parse_args(argv)  # SystemExit on a wrong flag fails the test
            assert args.func, example
            if sub.get_default("func"):  # a leaf command: its example runs that command
                assert args.func is sub.get_default("func"), example
    assert len(parsers) >= 20


# examples that change more than a fresh workbench, or stop the server, or write outside the test, or read
# another server (profile), or need the key in a file where the suite gives it in a variable (key path), or
# serve until stopped (notebooks run, edit)
CHANGING = {
    "reset",
    "seed",
    "export",
    "profile",
    "key path",
    "notebooks run",  # serves until stopped
    "notebooks edit",  # writes a copy into the current folder, opens an editor
    "key rotate",
    "db stop",
    "db protect",
    "db unprotect",
    "cache clear",
}


def test_the_examples_that_only_read_run_as_shown(cli_env):
    import shlex

    from .reliability.harness import cli_inprocess

    assert cli_inprocess(["reset", "--yes"], cli_env).returncode == 0
    parser = build_parser()
    examples = {
        e for _, sub in [((), parser), *((p, s) for p, _, s in _commands(parser))] for e in _examples(sub.format_help())
    }
    ran = 0
    for example in sorted(examples):
        argv = shlex.split(example)[1:]
        if argv[0] in CHANGING or " ".join(argv[:2]) in CHANGING:
            continue
        out = cli_inprocess(argv, cli_env)
        assert out.returncode == 0, f"{example}: {out.output}"
        ran += 1
    assert ran >= 9


def test_the_example_reader_refuses_a_help_without_one_at_its_end():
    with pytest.raises(AssertionError, match="no `Example:`"):
        _examples("usage: fleetlab x\n\noptions:\n  -h, --help")
    with pytest.raises(AssertionError, match="must end the help"):
        _examples("usage: fleetlab x\n\nExample:\n  fleetlab x\n\noptions:\n  -h, --help")


@pytest.mark.parametrize(("answer", "expected_rc"), [("n", 1), ("y", 0)])
def test_interactive_reset_shows_target_and_asks(cli_env, answer, expected_rc):
    import os
    import pty
    import select
    import time

    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetlab.app.cli", "reset"],
        env=cli_env,
        stdin=child,
        stdout=subprocess.PIPE,
        stderr=child,
        text=True,
    )
    os.close(child)
    seen = b""
    deadline = time.monotonic() + 60
    while b"Continue? [y/N]" not in seen and time.monotonic() < deadline:
        if select.select([main], [], [], 1)[0]:
            seen += os.read(main, 4096)
    os.write(main, f"{answer}\n".encode())
    out, _ = proc.communicate(timeout=60)
    os.close(main)
    url = DatabaseURL.parse(cli_env["DATABASE_URL"])
    assert f"database {url.database!r} on {url.host or 'the local socket'}" in seen.decode()
    assert proc.returncode == expected_rc
    assert ("gateways" in out) is (answer == "y")


def test_only_commands_that_write_passwords_create_a_key_and_they_say_so(cli_env):
    env = {k: v for k, v in cli_env.items() if k != "FLEETLAB_SECRET_KEY"}  # the key file, under FLEETLAB_HOME
    key_file = Path(env["FLEETLAB_HOME"]) / "secret.key"
    for args in (["check"], ["decrypt", "GW-SPR-001"], ["key", "rotate"]):
        done = run_here(env, *args)
        assert done.returncode != 0 and "no secret key" in done.stdout + done.stderr, (args, done.stderr)
        assert not key_file.exists(), args
    done = run_here(env, "reset", "--yes")
    assert done.returncode == 0 and key_file.exists(), done.stderr
    assert f"created a new secret key in {key_file}" in done.stderr
    again = run_here(env, "seed", "--yes")
    assert again.returncode == 0 and "created a new secret key" not in again.stderr
    assert run_here(env, "check").returncode == 0


def test_help_imports_no_driver_and_no_dataframe_library():
    """`fleetlab --help` and every command's --help start without psycopg, polars or cryptography (issue 25:
    a command module imports what its command needs when it runs)."""
    import subprocess

    code = (
        "import sys, contextlib, io\n"
        "from fleetlab.app.cli import build_parser\n"
        "parser = build_parser()\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    parser.format_help()\n"
        "heavy = ('psycopg', 'polars', 'cryptography', 'sqlalchemy', 'faker', 'numpy', 'marimo', 'pyarrow')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_version():
    out = subprocess.run([sys.executable, "-m", "fleetlab", "--version"], capture_output=True, text=True, check=False)
    from fleetlab import __version__

    assert out.returncode == 0 and out.stdout.strip() == f"fleetlab {__version__}"


def test_a_reset_refused_for_want_of_yes_creates_nothing(tmp_path):
    """A new user's first `fleetlab reset` from a script: refused, and no server, key or folder made."""
    from .reliability.harness import base_env

    home = tmp_path / "home"
    out = run(base_env(FLEETLAB_HOME=str(home)), "reset")
    assert_clean_failure(out, "would create database 'fleetlab' on a new embedded server", "pass --yes")
    assert "Nothing was created" in out.stderr
    assert not home.exists()


def test_a_refused_reset_of_an_existing_database_says_replace(cli_env, tmp_path):
    assert run(cli_env, "reset", "--yes").returncode == 0
    out = run(cli_env, "reset")
    assert_clean_failure(out, "would replace database", "pass --yes")
    name = DatabaseURL.parse(cli_env["DATABASE_URL"]).database
    gone = run(
        {**cli_env, "DATABASE_URL": cli_env["DATABASE_URL"].replace(f"/{name}", "/fltest_nothing_here")}, "reset"
    )
    assert_clean_failure(gone, "would create database 'fltest_nothing_here'")


def test_key_path_says_where_the_key_file_is(cli_env, tmp_path):
    from .reliability.harness import base_env

    home = tmp_path / "keyhome"
    env = base_env(FLEETLAB_HOME=str(home), DATABASE_URL=cli_env["DATABASE_URL"])
    assert_clean_failure(run_here(env, "key", "path"), "no key file yet", "`fleetlab reset` makes it")
    assert run_here(env, "reset", "--yes").returncode == 0
    out = run_here(env, "key", "path")
    assert out.returncode == 0 and out.stdout.strip() == str(home / "secret.key")
    assert_clean_failure(run_here(cli_env, "key", "path"), "the key comes from FLEETLAB_SECRET_KEY")


def test_notebooks_lists_what_fleetlab_ships(cli_env):
    out = run_here(cli_env, "notebooks")
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()[:3]] == ["compare", "explore", "reset"]
    assert_clean_failure(run_here(cli_env, "notebooks", "run", "nope"), "no notebook 'nope'", "compare, explore, reset")


def test_notebooks_edit_works_on_a_copy_in_the_users_folder(cli_env, tmp_path, monkeypatch):
    """`edit` copies the notebook into the current folder (an existing copy is kept as it is) and hands
    marimo the copy, never the installed file; arguments after `--` reach the notebook."""
    from fleetlab.app import notebook_commands

    ran: list[list[str]] = []
    monkeypatch.setattr(
        notebook_commands.subprocess, "run", lambda cmd, check: ran.append(cmd) or subprocess.CompletedProcess(cmd, 0)
    )
    monkeypatch.chdir(tmp_path)
    out = run_here(cli_env, "notebooks", "edit", "explore", "--headless", "--port", "2799", "--", "--scenario", "large")
    assert out.returncode == 0, out.output
    copy = tmp_path / "explore.py"
    assert copy.read_text() == (notebook_commands.notebooks_dir() / "explore.py").read_text()
    assert ran[-1][1:] == [
        "-m",
        "marimo",
        "edit",
        str(copy),
        "--port",
        "2799",
        "--headless",
        "--",
        "--scenario",
        "large",
    ]
    copy.write_text(copy.read_text() + "\n# mine\n")
    assert run_here(cli_env, "notebooks", "edit", "explore").returncode == 0
    assert copy.read_text().endswith("# mine\n")  # the user's copy, as it was
    run_cmd = run_here(cli_env, "notebooks", "run", "compare")
    assert run_cmd.returncode == 0 and ran[-1][3:5] == ["run", str(notebook_commands.notebooks_dir() / "compare.py")]
    assert_clean_failure(run_here(cli_env, "reset", "--", "x"), "unrecognized arguments: -- x")
