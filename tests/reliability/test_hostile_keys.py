"""Keys as people paste them: without their base64 padding (accepted, as stored values are), or broken by
white space inside (refused, exit 2, naming where the key came from and never the key)."""

from __future__ import annotations

import base64

import pytest
import suite_server

from fleetlab import errors
from fleetlab.store.crypto import decode_key

from .harness import cli_inprocess, judge

TEST_KEY = suite_server.TEST_KEY
PLAINTEXT = "admin123"  # the original seed's password, every gateway's in the default fleet


def _env_with(env: dict[str, str], source: str, value: str, home) -> dict[str, str]:
    """`env` with the current key given as `value` through `source` (the key file: written 0600 in `home`)."""
    env = {k: v for k, v in env.items() if k != "FLEETLAB_SECRET_KEY"}
    if source == "the key file":
        home.mkdir(parents=True, exist_ok=True)
        (home / "secret.key").write_text(value)
        (home / "secret.key").chmod(0o600)
    elif source == "FLEETLAB_PREVIOUS_SECRET_KEYS":  # a wrong current key: the previous one opens the rows
        env.update(FLEETLAB_SECRET_KEY=base64.b64encode(bytes(range(32))).decode(), FLEETLAB_PREVIOUS_SECRET_KEYS=value)
    else:
        env[source] = value
    return env


SOURCES = ["FLEETLAB_SECRET_KEY", "ENCRYPTION_KEY", "FLEETLAB_PREVIOUS_SECRET_KEYS", "the key file"]
UNPADDED = {
    "standard": TEST_KEY.rstrip("="),
    "url-safe": base64.urlsafe_b64encode(base64.b64decode(TEST_KEY)).decode().rstrip("="),
}


@pytest.mark.parametrize("source", SOURCES)
def test_an_unpadded_key_is_accepted(source, seeded, env, settings):
    assert TEST_KEY.endswith("=") and len(UNPADDED["standard"]) == 43
    for form, value in UNPADDED.items():
        run = cli_inprocess(["decrypt", "GW-SPR-001"], _env_with(env, source, value, settings.home))
        assert run.returncode == 0, (form, run.output)
        assert run.stdout.strip() == PLAINTEXT, form


SPACES = {"space": " ", "tab": "\t", "newline": "\n", "crlf": "\r\n", "no-break space": "\u00a0"}


@pytest.mark.parametrize("source", SOURCES)
def test_a_key_with_white_space_inside_is_refused(source, env, settings):
    """Refused before the database is read: the command says which setting, and nothing of the key."""
    halves = [TEST_KEY[:20], TEST_KEY[20:]]
    named = str(settings.home.resolve() / "secret.key") if source == "the key file" else source
    for name, space in SPACES.items():
        run = cli_inprocess(["decrypt", "GW-SPR-001"], _env_with(env, source, space.join(halves), settings.home))
        assert judge(run, [TEST_KEY, *halves]) == [], (name, run.output)
        assert run.returncode == 2, (name, run.output)  # bad input, like any malformed setting
        assert f"{named} has white space inside it" in run.stderr, (name, run.stderr)


@pytest.mark.parametrize("source", ["FLEETLAB_SECRET_KEY", "the key file"])
def test_white_space_around_an_unpadded_key_is_accepted(source, seeded, env, settings):
    """Only white space inside is refused: a trailing newline (a key file's) or spaces around stay accepted."""
    key = UNPADDED["standard"]
    for value in (f"  {key}\n", f"\t{key}\r\n", f"{key}\n\n", f"{TEST_KEY}\n"):
        run = cli_inprocess(["decrypt", "GW-SPR-001"], _env_with(env, source, value, settings.home))
        assert run.returncode == 0 and run.stdout.strip() == PLAINTEXT, (repr(value[:2]), run.output)


def test_the_refusal_is_a_bad_key_error():
    """BadKey is a ConfigError (exit 2) and still a SecretError (`fleetlab check` reports it as one)."""
    with pytest.raises(errors.BadKey, match="^ENCRYPTION_KEY has white space inside it") as info:
        decode_key(TEST_KEY[:10] + " " + TEST_KEY[10:], "ENCRYPTION_KEY")
    assert info.value.exit_code == 2 and TEST_KEY[:10] not in str(info.value)
    assert decode_key(UNPADDED["url-safe"], "ENCRYPTION_KEY") == base64.b64decode(TEST_KEY)


def test_check_reports_a_broken_key_and_checks_the_rest(seeded, env):
    run = cli_inprocess(["check"], {**env, "FLEETLAB_SECRET_KEY": TEST_KEY[:20] + "\n" + TEST_KEY[20:]})
    assert run.returncode == 1 and not run.traceback, run.output
    line = next(x for x in run.stdout.splitlines() if "every password decrypts" in x)
    assert line.startswith("  FAIL") and "FLEETLAB_SECRET_KEY has white space inside it" in line
    assert TEST_KEY[:20] not in run.output and TEST_KEY[20:] not in run.output
    assert run.stdout.splitlines()[-1].startswith("1 error, 0 warnings: 1 of ") and run.stdout.endswith(
        " checks failed.\n"
    )
