"""The connector's exception tree. Every error the connector raises on purpose is one of these.

    ConnectorError
     ├── ConfigError                    settings or a mapping set that cannot be used
     ├── MoneyError (also ValueError)   an amount or currency that is not exact money
     ├── FileFormatError                a file no parser can read at all (it moves to failed/)
     ├── ReconcileError                 a reconciliation decision that cannot be made as asked
     ├── LeaseHeldError                 a job another process (or replica) is running now
     ├── UnknownSchemaError             a database at a schema revision this connector does not know
     ├── StoppingError                  the process is stopping (Ctrl-C, SIGTERM): the rest is the next run's
     │    └── StoppedWaitingError       it stopped while waiting for another process's lease: nothing done
     ├── SecurityError
     │    ├── KeyStoreError             key material missing, unreadable or malformed
     │    └── DecryptionError           a ciphertext whose key is unknown or that fails authentication
     ├── LedgerError
     │    ├── InvalidEntryError         a draft that cannot be an entry (missing key, control characters)
     │    │    └── UnbalancedEntryError postings do not sum to zero per currency
     │    ├── IdempotencyConflictError  a (source, external id) posted before with different content
     │    ├── ImmutableEntryError       an attempt to change or delete a posted entry
     │    ├── ReversalError             an entry reversed twice, or a reversal reversed
     │    ├── UnknownAccountError       a chart account or customer account number that does not exist
     │    └── CustomerError             a customer that cannot be created or changed as asked
     └── RemoteError                    a CRM or other remote system refused or failed a call
          ├── TransientRemoteError      worth retrying: 429, 5xx, timeouts, dropped connections
          ├── PermanentRemoteError      not worth retrying: other 4xx, malformed answers
          │    └── AuthenticationError  credentials refused (bad client, revoked refresh token)
          └── BudgetExhaustedError      the API credit budget is spent: stop cleanly, resume later

Messages name the record (source, external id, account number) so an operator can find it.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of every error the connector raises deliberately."""


class ConfigError(ConnectorError):
    """Configuration that cannot be used; `problems` lists every issue found, not only the first."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class FileFormatError(ConnectorError):
    """A file that cannot be read at all: unknown format, not the declared format, broken structure."""


class ReconcileError(ConnectorError):
    """A queue item that does not exist or was decided already, or a customer that does not exist."""


class LeaseHeldError(ConnectorError):
    """A job that another process or replica holds the lease of: it runs there now (`holder_gone`: its
    holder is a process of this host that no longer runs, its lease not lapsed yet)."""

    def __init__(self, message: str, *, holder_gone: bool = False) -> None:
        super().__init__(message)
        self.holder_gone = holder_gone


class LeaseLostError(LeaseHeldError):
    """A job whose lease another process took over (this one stalled past it): it must write no more."""


class UnknownSchemaError(ConnectorError):
    """A database at a schema revision none of this connector's migrations knows: a newer connector
    migrated it. Neither upgrading nor using it can go on."""


class MoneyError(ConnectorError, ValueError):
    """An amount that is not exact money in a known ISO 4217 currency."""


class SecurityError(ConnectorError):
    """Encryption keys or ciphertexts that cannot be used."""


class KeyStoreError(SecurityError):
    """Key material that is missing, unreadable or malformed."""


class DecryptionError(SecurityError):
    """A ciphertext whose key id is unknown or that fails authentication."""


class LedgerError(ConnectorError):
    """A ledger operation that would break one of the ledger's invariants."""


class InvalidEntryError(LedgerError):
    """A draft that cannot become an entry: no source or external id, or forbidden characters."""


class UnbalancedEntryError(InvalidEntryError):
    """A journal entry whose postings do not sum to zero in every currency."""


class IdempotencyConflictError(LedgerError):
    """The same (source, external id) was posted before with different content."""


class ImmutableEntryError(LedgerError):
    """An attempt to update or delete a posted journal entry or posting."""


class ReversalError(LedgerError):
    """A reversal that is not allowed: the entry is already reversed, or is itself a reversal."""


class UnknownAccountError(LedgerError):
    """A chart-of-accounts code or customer account number that does not exist."""


class CustomerError(LedgerError):
    """A customer that cannot be created or changed as requested."""


class RemoteError(ConnectorError):
    """A remote system (a CRM API, its token server) refused or failed a call; `code` is its own code."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class TransientRemoteError(RemoteError):
    """Worth retrying: throttling (429), server errors (5xx), timeouts, dropped connections.

    `retry_after` is the server's own hint in seconds (`Retry-After`), when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class PermanentRemoteError(RemoteError):
    """Not worth retrying as is: a request the remote system rejects (4xx other than 429)."""


class AuthenticationError(PermanentRemoteError):
    """Credentials the remote system refuses: a wrong client, a revoked or unknown refresh token."""


class BudgetExhaustedError(RemoteError):
    """The configured API credit budget is spent; the cycle stops and resumes when credits return."""


class StoppingError(ConnectorError):
    """The process is stopping (the daemon was told to): a call waiting to retry gives up at once, left
    for the next run."""


class StoppedWaitingError(StoppingError):
    """The process stopped while it waited for a lease another process held: nothing of the job was
    done here (unlike a job stopped part-way, which keeps what it committed)."""
