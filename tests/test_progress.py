"""Progress bars: drawn on a terminal for big work only, sized up front or from the first update."""

from __future__ import annotations

import io

from fleetlab.app.progress import MIN_ROWS, terminal_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_off_a_terminal_or_for_small_work():
    with terminal_progress(MIN_ROWS * 10, stream=io.StringIO()) as progress:
        assert progress is None
    with terminal_progress(MIN_ROWS - 1, stream=Terminal()) as progress:
        assert progress is None


def test_a_bar_sized_up_front():
    screen = Terminal()
    with terminal_progress(MIN_ROWS, stream=screen) as progress:
        progress("gateways", MIN_ROWS, MIN_ROWS)
    assert "gateways" in screen.getvalue()
    assert f"{MIN_ROWS}/{MIN_ROWS}" in screen.getvalue()


def test_without_a_total_the_first_update_decides():
    screen = Terminal()
    with terminal_progress(stream=screen) as progress:
        progress("passwords", 10, MIN_ROWS - 1)  # small: no bar
    assert screen.getvalue() == ""
    screen = Terminal()
    with terminal_progress(stream=screen) as progress:
        progress("passwords", 0, MIN_ROWS)
        progress("passwords", MIN_ROWS, MIN_ROWS)
    assert "passwords" in screen.getvalue()
    assert f"{MIN_ROWS}/{MIN_ROWS}" in screen.getvalue()
