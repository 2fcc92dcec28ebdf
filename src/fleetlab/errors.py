"""The errors fleetlab raises on purpose.

Every one of them carries a message written for a person: what went wrong and what to do.
The CLI prints the message and exits non-zero; it never shows a traceback for these.
"""


class FleetlabError(Exception):
    """Base class: a failure with a message meant for the user."""

    exit_code = 1


class ConfigError(FleetlabError):
    """A setting (environment variable, flag, key) is missing or malformed."""

    exit_code = 2


class DatabaseUnavailable(FleetlabError):
    """The server cannot be reached or refused the connection."""


class DatabaseError(FleetlabError):
    """The server rejected a statement."""


class MigrationError(FleetlabError):
    """A migration failed, or the applied history does not match the files on disk."""


class LockTimeout(FleetlabError):
    """Another fleetlab process holds the lock we need."""


class ResetRefused(FleetlabError):
    """A reset or seed would touch a database that fleetlab must not touch."""


class SecretError(FleetlabError):
    """A secret key is missing or malformed, or a ciphertext does not decrypt."""


class BadKey(ConfigError, SecretError):
    """A secret key is set but malformed (not base64, not 32 bytes, white space inside): bad input."""


class SpecError(FleetlabError):
    """A fleet specification (scenario, flags) is invalid; lists every problem at once."""

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"invalid fleet specification ({len(self.problems)} problem"
            f"{'s' if len(self.problems) != 1 else ''}):\n{lines}"
        )


def scrub(text: str, *secrets: str | None) -> str:
    """`text` with every one of `secrets` replaced by ***, longest first (None and "" are skipped).

    The one scrubber: connection errors scrub the URL's password with it, and the CLI and the
    notebooks scrub every configured secret (`fleetlab.config.secrets()`) from what they print.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def shown(value: object, limit: int = 60) -> str:
    """`value` fit for a one-line message: at most `limit` characters (then "…"), line breaks, control
    characters and lone surrogates escaped. For values read from a database that anyone may have edited."""
    text = "NULL" if value is None else str(value)
    cut = len(text) > limit
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return text + ("…" if cut else "")
