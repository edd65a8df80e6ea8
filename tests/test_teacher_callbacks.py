"""Callback data of booking, my bookings and group sessions: within Telegram's 64 bytes at their
longest, and unpacked back to the same typed values."""

import pytest

from bot.content.regions import regions
from bot.telegram import callbacks as cb
from handlers.teacher.groups import Filters
from storage.models import User

LARGEST_ID = 2**31 - 1
LONGEST_REGION = max(regions(), key=len)


@pytest.mark.parametrize(
    "data",
    [
        *(
            cb.Book(a=a, f="office", l="kk", g=LONGEST_REGION, d="20301231", s=LARGEST_ID, r=LARGEST_ID)
            for a in cb.BookAction
        ),
        *(
            cb.Group(a=a, s=LARGEST_ID, f="offline", l="kk", g=cb.GroupScope.ALL, score=5)
            for a in cb.GroupAction
        ),
        *(cb.Mine(a=a, id=LARGEST_ID, stars=5) for a in cb.MineAction),
    ],
    ids=repr,
)
def test_the_longest_callback_data_fits_and_round_trips(data):
    packed = data.pack()  # pack() refuses more than 64 bytes
    assert type(data).unpack(packed) == data


def test_the_packed_actions_stay_what_buttons_already_sent_carry():
    assert cb.Group(a=cb.GroupAction.ACCEPT, s=7).pack().startswith("gr:acc:7:")
    assert cb.Book(a=cb.BookAction.DAYS, f="video", r=3).pack().startswith("bk:days:video:")
    assert cb.Mine(a=cb.MineAction.CANCELLED, id=9).pack() == "mb:cancelok:9:0"


def test_group_list_filters_default_to_the_teachers_region_and_ignore_forged_values():
    with_region, without = User(region="KZ-75"), User(region=None)
    first = cb.Group(a=cb.GroupAction.LIST)
    assert Filters.of(first, with_region) == Filters("", "", "", cb.GroupScope.MINE)
    assert Filters.of(first, without) == Filters("", "", "", cb.GroupScope.ALL)
    forged = cb.Group(a=cb.GroupAction.LIST, f="party", l="en", k="disco", g=cb.GroupScope.ALL)
    assert Filters.of(forged, with_region) == Filters("", "", "", cb.GroupScope.ALL)
    chosen = Filters("offline", "ru", "art", cb.GroupScope.MINE).press(cb.GroupAction.VIEW, 5)
    assert len(chosen.pack()) <= 64
    assert Filters.of(cb.Group.unpack(chosen.pack()), without) == Filters(
        "offline", "ru", "art", cb.GroupScope.MINE
    )
