"""The page-gone decision (sans-I/O): only a reachable Redis without the entry, for the whole
grace, means the page is gone; an outage restarts the grace."""
from __future__ import annotations

import pytest

from conference.media.page_watch import PageGone

# (entry present: True / absent: False / Redis unreachable: None, at s, gone?) in order.
ABSENT_FOR_THE_GRACE = [(True, 0.0, False), (False, 1.0, False), (False, 3.9, False),
                        (False, 4.0, True)]
A_RENEWAL_RESTARTS_IT = [(False, 0.0, False), (True, 2.0, False), (False, 4.0, False),
                         (False, 6.9, False), (False, 7.0, True)]
UNREACHABLE_RESTARTS_IT = [
    (False, 0.0, False), (None, 1.0, False), (None, 5.0, False), (None, 50.0, False),
    (False, 51.0, False),  # Redis is back: the page gets the grace to renew
    (None, 60.0, False), (False, 61.0, False), (False, 64.0, True)]


@pytest.mark.parametrize("observations", [
    pytest.param(ABSENT_FOR_THE_GRACE, id="absent_for_the_grace_is_gone"),
    pytest.param(A_RENEWAL_RESTARTS_IT, id="a_renewal_restarts_the_grace"),
    pytest.param(UNREACHABLE_RESTARTS_IT, id="unreachable_never_counts_and_restarts_the_grace"),
])
def test_page_gone_after_the_grace(observations):
    state = PageGone(grace_s=3.0)
    for present, now, gone in observations:
        assert state.observe(present, now) is gone, (present, now)
