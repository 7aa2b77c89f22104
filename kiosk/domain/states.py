"""A submission's states in one place: which wait for the worker, how the central system's words
map to them, their order, what staff may do in each, and what a reader calls each one.

The states themselves are ``kiosk.models.State`` (the values the database stores). Labels are
English message ids marked with ``N_`` for extraction; the web layer translates them
(``kiosk.web.labels.state_label``), since the domain never imports Flask-Babel.
"""

from __future__ import annotations

from kiosk.models import State


def N_(message: str) -> str:  # the marker's conventional name
    """Mark a message for extraction; it is translated where it is shown."""
    return message


# waiting for the worker: due now, or on their way
DUE_STATES = (State.QUEUED, State.RETRY_WAIT)
WAITING_STATES = (State.QUEUED, State.RETRY_WAIT, State.SENDING)
# still moving without anyone's action (the staff queue refreshes itself while one shows)
MOVING = (State.QUEUED, State.SENDING, State.RETRY_WAIT)

# what the central system says, and the state it moves a submission to; only forward moves count
FEED_STATES = {
    "accepted": State.DELIVERED,
    "in_progress": State.IN_PROGRESS,
    "approved": State.APPROVED,
    "refused": State.REFUSED,
}
ORDER = {
    State.QUEUED: 0,
    State.RETRY_WAIT: 0,
    State.SENDING: 0,
    State.NEEDS_STAFF: 0,
    State.DELIVERED: 1,
    State.IN_PROGRESS: 2,
    State.APPROVED: 3,
    State.REFUSED: 3,
}

# staff action: (states it applies to, the state it moves to, or None for "stays")
ACTIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "verify_in_person": ((State.NEEDS_VERIFICATION,), State.QUEUED),
    "retry_now": ((State.RETRY_WAIT, State.NEEDS_STAFF), State.QUEUED),
    "cancel": ((State.QUEUED, State.RETRY_WAIT, State.NEEDS_STAFF, State.NEEDS_VERIFICATION), State.CANCELLED),
    "original_checked": (tuple(State), None),
}

LABELS = {
    State.NEEDS_VERIFICATION: N_("Waiting for the check of your ID card at the office"),
    State.QUEUED: N_("Queued: waiting to be sent to the central system"),
    State.SENDING: N_("Being sent to the central system"),
    State.RETRY_WAIT: N_("Waiting to be sent again"),
    State.DELIVERED: N_("Received by the central system"),
    State.IN_PROGRESS: N_("Being considered"),
    State.APPROVED: N_("Approved"),
    State.REFUSED: N_("Refused"),
    State.NEEDS_STAFF: N_("The school office is dealing with it"),
    State.CANCELLED: N_("Cancelled"),
}
