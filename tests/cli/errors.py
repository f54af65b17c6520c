"""The one-line user error the CLI prints (gee_crop/cli/__init__.py): a check shared by the CLI tests."""
from __future__ import annotations


def user_error(result, *fragments: str) -> str:
    """The single ``Error:`` line of a click result that exited 1 without a traceback, holding ``fragments``."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
