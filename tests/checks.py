"""Assertions shared by the tests."""


def assert_one_line_error(rc, err, *needles):
    """A user error: exit 1, one line on stderr naming the problem, no traceback."""
    assert rc == 1, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
