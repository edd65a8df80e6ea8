"""The coordinator's buttons: audiences read from typed fields, refused when forged or out of a
regional coordinator's reach, and every packed button within Telegram's 64 bytes."""

import pytest

from bot.telegram.callbacks import Audience, Coord, CoordAction
from handlers.coordinator.broadcasts import audience_of

AUDIENCE = CoordAction.AUDIENCE


@pytest.mark.parametrize(
    ("button", "limit", "stored"),
    [
        (Coord(a=AUDIENCE, to=Audience.ALL), None, "all"),
        (Coord(a=AUDIENCE, to=Audience.REGION, v="KZ-61"), None, "region-KZ-61"),
        (Coord(a=AUDIENCE, to=Audience.REGION, v="KZ-61"), "KZ-61", "region-KZ-61"),
        (Coord(a=AUDIENCE, to=Audience.LANGUAGE, v="kk"), None, "lang-kk"),
        (Coord(a=AUDIENCE, to=Audience.PARTICIPANTS, i=12), "KZ-61", "participants-12"),
        (Coord(a=AUDIENCE, to=Audience.WAITLIST, i=12), None, "waitlist-12"),
    ],
)
def test_audience_as_stored(button, limit, stored):
    assert audience_of(Coord.unpack(button.pack()), limit) == stored


@pytest.mark.parametrize(
    ("button", "limit"),
    [
        (Coord(a=AUDIENCE, to=Audience.REGION, v="KZ-75"), "KZ-61"),  # another region than one's own
        (Coord(a=AUDIENCE, to=Audience.REGION, v="XX-00"), None),
        (Coord(a=AUDIENCE, to=Audience.LANGUAGE, v="en"), None),
        (Coord(a=AUDIENCE, to=Audience.PARTICIPANTS), None),  # no session
        (Coord(a=AUDIENCE), None),
    ],
)
def test_forged_audiences_are_refused(button, limit):
    assert audience_of(Coord.unpack(button.pack()), limit) is None


def test_packed_buttons_fit_in_64_bytes():
    widest = Coord(a=CoordAction.GROUP_CANCEL, i=2**63 - 1, n=120, v="KZ-61", to=Audience.PARTICIPANTS)
    assert len(widest.pack().encode()) <= 64
    assert Coord(a=CoordAction.PAUSE, i=7).pack() == "co:pause:7:0::"
