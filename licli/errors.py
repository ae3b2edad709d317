"""The errors licli reports to its user: one line naming the problem and the fix."""

from __future__ import annotations


class LicliError(Exception):
    """Bad input or environment (exit code 2). ``problem`` says what is wrong, ``fix`` what to do."""

    exit_code = 2

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}; {self.fix}" if self.fix else self.problem


class CheckFailed(LicliError):
    """A check the user asked for failed: a regression, a masking check with --fail-on-masking (exit 1)."""

    exit_code = 1


class Interrupted(LicliError):
    """Ctrl-C (SIGINT) stopped the command; the message says what was kept and how to resume (exit 130)."""

    exit_code = 130
