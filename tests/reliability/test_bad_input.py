"""Section 8 — bad input for every CLI flag and scenario field.

Each case: a clear message naming what is wrong, a non-zero exit, no traceback, and the
database's content hash unchanged (nor any side database left behind).
"""

from __future__ import annotations

import os

import pytest

from fleetlab.store.databases import build_name

from .harness import cli, cli_inprocess, content_hash, databases, judge, observe

# (flags, a word the message must contain)
FLAG_CASES = [
    (["--orgs", "-1"], "--orgs"),
    (["--orgs", "abc"], "--orgs"),
    (["--orgs", ""], "--orgs"),
    (["--orgs", "1.5"], "--orgs"),
    (["--orgs", "3-"], "--orgs"),
    (["--orgs", "8-3"], "inverted"),
    (["--orgs", "0x10"], "--orgs"),
    (["--orgs", "1e3"], "--orgs"),
    (["--orgs", "999999999999"], "--orgs"),
    (["--orgs", "nan"], "--orgs"),
    (["--factories-per-org", "5-2"], "--factories-per-org"),
    (["--factories-per-org", "x-y"], "--factories-per-org"),
    (["--factories-per-org", "-"], "--factories-per-org"),
    (["--factories-per-org", "1-2-3"], "--factories-per-org"),
    (["--factories-per-org", "-5"], "--factories-per-org"),
    (["--gateways-per-factory", "-1"], "--gateways-per-factory"),
    (["--gateways-per-factory", "ten"], "--gateways-per-factory"),
    (["--gateways-per-factory", "10-"], "--gateways-per-factory"),
    (["--gateways-per-factory", "9-1"], "--gateways-per-factory"),
    (["--gateways-per-factory", "1.5-3"], "--gateways-per-factory"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "abc"], "--seed"),
    (["--seed", "1.5"], "--seed"),
    (["--seed", str(2**64)], "--seed"),
    (["--seed", ""], "--seed"),
    (["--seed", "0x1F"], "--seed"),
    (["--as-of", "yesterday"], "--as-of"),
    (["--as-of", "2026-13-01"], "--as-of"),
    (["--as-of", "2026-01-32T00:00:00Z"], "--as-of"),
    (["--as-of", "2026-01-01T25:00:00Z"], "--as-of"),
    (["--as-of", ""], "--as-of"),
    (["--as-of", "1700000000"], "--as-of"),
    (["--as-of", "2026-01-01T00:00:00+25:00"], "--as-of"),
    (["--locale", "xx_XX"], "--locale"),
    (["--locale", ""], "--locale"),
    (["--locale", "en_US,"], "--locale"),
    (["--locale", "klingon"], "--locale"),
    (["--locale", ",,,"], "--locale"),
    (["--scenario", "no-such-preset"], "no-such-preset"),
    (["--scenario", "/nonexistent/dir/fleet.toml"], "fleet.toml"),
    (["--scenario", "/tmp"], "/tmp"),
    (["--scenario", ""], "scenario"),
    (["--orgs", "-1", "--seed", "x", "--locale", "zz_ZZ"], "3 problems"),
    (["--bogus"], "unrecognized"),
    (["--orgs"], "expected one argument"),
    (["--yes", "extra-positional"], "unrecognized"),
    # values a workbench cannot mean (hardening round 2)
    (["--orgs", "٣"], "--orgs"),  # Arabic-Indic three: int() would read it
    (["--gateways-per-factory", "１０"], "--gateways-per-factory"),  # fullwidth digits
    (["--seed", "७"], "--seed"),
    (["--as-of", "2026-01-01T00:00:00"], "no time zone"),
    (["--as-of", "2026-01-01"], "no time zone"),
    (["--orgs", "100000", "--factories-per-org", "200", "--gateways-per-factory", "10000000"], "gateways in total"),
]

# (TOML text of a scenario file, a word the message must contain)
SCENARIO_CASES = [
    ("counts = [", "not valid TOML"),
    ("= 3", "not valid TOML"),
    ("name = 'a'\nname = 'b'", "not valid TOML"),
    ("colour = 'red'", "colour"),
    ("[counts]\nplanets = 3", "planets"),
    ("[counts]\norganizations = -1", "organizations"),
    ("[counts]\norganizations = 'abc'", "organizations"),
    ("[counts]\norganizations = 1.5", "organizations"),
    ("[counts]\norganizations = true", "organizations"),
    ("[counts]\nfactories_per_organization = '5-2'", "factories_per_organization"),
    ("[counts]\nfactories_per_organization = ''", "factories_per_organization"),
    ("[counts]\ngateways_per_factory = [1, 2]", "gateways_per_factory"),
    ("[counts]\ngateways_per_factory = { distribution = 'poisson', mean = -1 }", "gateways_per_factory"),
    ("[counts]\ngateways_per_factory = { distribution = 'zipf', mean = 3 }", "zipf"),
    ("[counts]\ngateways_per_factory = { distribution = 'poisson' }", "mean"),
    ("[counts]\ngateways_per_factory = { distribution = 'uniform', min = 1 }", "max"),
    ("[counts]\ngateways_per_factory = { distribution = 'uniform', min = 9, max = 2 }", "gateways_per_factory"),
    ("counts = 5", "counts"),
    ("[fractions]\nonline = 1.5", "online"),
    ("[fractions]\nonline = -0.1", "online"),
    ("[fractions]\nonline = 'half'", "online"),
    ("[fractions]\nonline = 0.6\nstale = 0.5", "1"),
    ("[fractions]\ndeleted_gateways = 2", "deleted_gateways"),
    ("[fractions]\nreused_gateway_ids = -1", "reused_gateway_ids"),
    ("[fractions]\nsparkly = 0.1", "sparkly"),
    ("fractions = 'x'", "fractions"),
    ("locales = 'xx_XX'", "xx_XX"),
    ("locales = []", "locale"),
    ("locales = { en_US = -1 }", "en_US"),
    ("locales = { en_US = 0 }", "locale"),
    ("locales = 42", "locale"),
    ("locale = 'en_US'\nlocales = ['de_DE']", "locale"),
    ("seed = -5", "seed"),
    ("seed = 'abc'", "seed"),
    ("seed = 1.5", "seed"),
    ("as_of = 'soon'", "as_of"),
    ("as_of = 2026", "as_of"),
    ("source = 'magic'", "source"),
    ("name = 5", "name"),
    ("description = ['x']", "description"),
    ("stale_after_hours = 0", "stale_after_hours"),
    ("stale_after_hours = -1", "stale_after_hours"),
    ("stale_after_hours = 100000", "stale_after_hours"),
    ("stale_after_hours = 'a day'", "stale_after_hours"),
    ("[mix]\nmodels = 'Moxa'", "models"),
    ("[mix.models]\n'' = 1", "models"),
    ("[mix.models]\nMoxa = -1", "models"),
    ("[mix.models]\nMoxa = 0", "models"),
    ("[mix.firmware]\n'1.0' = 'heavy'", "firmware"),
    ("[mix.colours]\nred = 1", "colours"),
]

# (extra environment, a word the message must contain)
ENV_CASES = [
    ({"FLEETLAB_LOCK_TIMEOUT": "abc"}, "FLEETLAB_LOCK_TIMEOUT"),
    ({"FLEETLAB_LOCK_TIMEOUT": "0"}, "FLEETLAB_LOCK_TIMEOUT"),
    ({"FLEETLAB_LOCK_TIMEOUT": "-5"}, "FLEETLAB_LOCK_TIMEOUT"),
    ({"FLEETLAB_LOCK_TIMEOUT": "99999"}, "FLEETLAB_LOCK_TIMEOUT"),
    ({"FLEETLAB_LOCK_TIMEOUT": "nan"}, "FLEETLAB_LOCK_TIMEOUT"),
    ({"FLEETLAB_ALLOW_REMOTE_RESET": "maybe"}, "FLEETLAB_ALLOW_REMOTE_RESET"),
]

# statements `fleetlab query` must refuse without --write, changing nothing and reading no server file
QUERY_CASES = [
    (["drop table gateways"], "--write"),
    (["delete from gateways"], "--write"),
    (["truncate organizations cascade"], "--write"),
    (["update gateways set name = 'x'"], "--write"),
    (["insert into organizations (id, name) values (gen_random_uuid(), 'x')"], "--write"),
    (["with d as (delete from gateways returning 1) select * from d"], "--write"),
    (["select 1; drop table gateways"], "one statement"),
    (["copy gateways to '/tmp/fleetlab-query-copy'"], "--write"),
    (["copy (select 1) to program 'touch /tmp/fleetlab-query-program'"], "--write"),
    (["do $$ begin drop table gateways; end $$"], "--write"),
    (["set role postgres"], "--write"),
    (["select lo_import('/etc/passwd')"], "--write"),
    (["select pg_read_file('/etc/passwd')"], "--write"),
    (["select pg_ls_dir('/')"], "--write"),
    (["select lo_export(1, '/tmp/fleetlab-query-export')"], "--write"),
    (["select nextval('pg_catalog.pg_class_oid_seq')"], "does not exist"),
    (["select set_config('default_transaction_read_only', 'off', false), count(*) from gateways"], ""),
    (["select 1", "-p", "extra"], "takes 0 parameters"),
    (["select $1::int"], "takes 1 parameter"),
    (["select 1", "--output", "/nonexistent-dir/x.csv"], "does not exist"),
]

# other commands' flags and arguments
OTHER_CASES = [
    (["decrypt"], "gateway_id"),
    (["decrypt", "GW-NOPE-999"], "GW-NOPE-999"),
    (["query", "select 1", "--format", "xml"], "format"),
    (["query", "select 1", "--max-rows", "abc"], "max-rows"),
    (["query"], "sql"),
    (["db"], "db"),
    (["db", "explode"], "explode"),
    (["key", "old"], "old"),
    (["frobnicate"], "frobnicate"),
    (["migrate", "--dry-run", "--wet"], "unrecognized"),
]


@pytest.fixture
def guard(seeded, server_url):
    """Checks that a case changed nothing: the content hash, and no side database was started.

    (Not the whole server's list of databases: other test sessions may share the server.)
    """
    before, side = content_hash(seeded), build_name(seeded.database)

    def check(label: str) -> list[str]:
        problems = []
        if content_hash(seeded) != before:
            observe("rows_lost_or_partial")
            problems.append(f"{label}: the database changed")
        if side in databases(server_url):
            observe("half_built_databases")
            problems.append(f"{label}: a side database {side} was left")
        return problems

    return check


def _case(args, env, expect, guard, label):
    run = cli_inprocess(args, env)
    problems = [f"{label}: {p}" for p in judge(run, [])]
    if expect.lower() not in run.stderr.lower():
        problems.append(f"{label}: message lacks {expect!r}: {run.stderr.strip()[:300]}")
    return problems + guard(label)


def test_flag_corpus(env, guard):
    problems = []
    for flags, expect in FLAG_CASES:
        for command in ("reset", "seed"):
            problems += _case([command, "--yes", *flags], env, expect, guard, f"{command} {flags}")
    assert not problems, "\n".join(problems)


def test_scenario_field_corpus(env, guard, tmp_path):
    problems = []
    for i, (text, expect) in enumerate(SCENARIO_CASES):
        path = tmp_path / f"case{i}.toml"
        path.write_text(text)
        for command in ("reset", "seed"):
            problems += _case([command, "--yes", "--scenario", str(path)], env, expect, guard, f"{command} {text!r}")
    assert not problems, "\n".join(problems)


def test_unreadable_scenario_files(env, guard, tmp_path):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    problems = _case(["reset", "--yes", "--scenario", str(binary)], env, "binary.toml", guard, "binary")
    assert not problems, "\n".join(problems)


def test_environment_corpus(env, guard):
    problems = []
    for extra, expect in ENV_CASES:
        for command in (["reset", "--yes"], ["seed", "--yes"], ["migrate"]):
            problems += _case(command, {**env, **extra}, expect, guard, f"{extra} {command}")
    assert not problems, "\n".join(problems)


def test_query_corpus(env, guard):
    problems = []
    for args, expect in QUERY_CASES:
        run = cli_inprocess(["query", *args], env)
        if not expect:  # a query that may run: it must still change nothing
            observe("bad_inputs_tried")
            problems += guard(str(args))
            continue
        problems += [f"{args}: {p}" for p in judge(run, [])] + guard(str(args))
        if expect.lower() not in run.stderr.lower():
            problems.append(f"{args}: message lacks {expect!r}: {run.stderr.strip()[:300]}")
    for left in ("/tmp/fleetlab-query-copy", "/tmp/fleetlab-query-program", "/tmp/fleetlab-query-export"):
        if os.path.exists(left):
            problems.append(f"a query wrote the server file {left}")
            os.unlink(left)
    assert not problems, "\n".join(problems)


def test_other_commands_corpus(env, guard):
    problems = []
    for args, expect in OTHER_CASES:
        problems += _case(args, env, expect, guard, str(args))
    assert not problems, "\n".join(problems)


def test_sample_through_the_console_script(env, seeded, server_url):
    """A few of the cases in a real process, as a user runs them."""
    before = content_hash(seeded)
    for flags, _ in FLAG_CASES[::9]:
        run = cli(["reset", "--yes", *flags], env)
        assert run.returncode != 0 and not run.traceback and run.stderr.strip(), run.output
    assert content_hash(seeded) == before
    assert build_name(seeded.database) not in databases(server_url)
