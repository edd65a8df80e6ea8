"""Callback-data factories. Short prefixes and ids only: Telegram allows 64 bytes."""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class Section(StrEnum):
    """The main menu's sections (and the main menu itself)."""

    MAIN = "main"
    BOOK = "book"
    ASK = "ask"
    GROUPS = "groups"
    CHECK = "check"
    RELAX = "relax"
    MINE = "mine"
    SOS = "sos"
    SETTINGS = "settings"
    PSYCHOLOGIST = "psy"
    COORDINATOR = "coord"
    ADMIN = "admin"


class Menu(CallbackData, prefix="m"):
    item: Section


class LangOrigin(StrEnum):
    """Where a language is chosen: at /start (consent follows) or in Settings."""

    START = "s"
    SETTINGS = "st"


class Lang(CallbackData, prefix="lg"):
    code: str
    origin: LangOrigin = LangOrigin.START


class Consent(CallbackData, prefix="cs"):
    agree: bool


class SettingsAction(StrEnum):
    LANGUAGE = "lang"
    REGION = "region"
    SET_REGION = "setreg"
    NOTIFICATIONS = "notify"
    ANNOUNCEMENTS = "ann"
    DELETE = "delete"
    ERASE = "erase"


class Settings(CallbackData, prefix="st"):
    """`value`: a region code (SET_REGION), "on"/"off" (ANNOUNCEMENTS)."""

    action: SettingsAction
    value: str = ""


class AdminAction(StrEnum):
    HOME = "home"
    REGION = "region"  # pick the region of an invite
    MAKE = "make"  # make the invite link


class Admin(CallbackData, prefix="ad"):
    """`role`: the role invited (psychologist, coordinator); `region`: a region code, "" any."""

    action: AdminAction
    role: str = ""
    region: str = ""


class SelfCheck(CallbackData, prefix="sc"):
    """Self-check screens. `inst` is an instrument key; `n` an item position (answers, Back)
    or a result id; `v` an option value."""

    action: str
    inst: str = ""
    n: int = 0
    v: int = 0


class Relax(CallbackData, prefix="rx"):
    """Relaxation: action is a short verb (cat, card, go, pause, resume, stop, fav, ...);
    value an exercise id or a category."""

    action: str
    value: str = ""


class Mood(CallbackData, prefix="md"):
    action: str
    value: str = ""


class Chat(CallbackData, prefix="ch"):
    """Anonymous chat: action enter, end, rate (value 1/0), accept/decline an offered live chat."""

    action: str
    id: int = 0
    value: str = ""


class Ask(CallbackData, prefix="aq"):
    """Anonymous questions: action new, take, queue, answer, reply, live (offer a live chat)."""

    action: str
    id: int = 0


class Group(CallbackData, prefix="gr"):
    """Group sessions: a = list, view, open (from an announcement), join, leave (ask), out (confirmed), acc, dec,
    mine, led, who,
    rate, cmt, skip; s = session id; v = filters "format.language.region" on list screens, a score on rate."""

    a: str
    s: int = 0
    v: str = ""


class CoordAction(StrEnum):
    HOME = "home"
    MENU = "menu"  # a fresh main menu under a broadcast's progress message
    # broadcasts
    COMPOSE = "new"
    SAME_TEXT = "same"  # the Russian text is the Kazakh one
    AUDIENCES = "aud"
    AUDIENCE_REGIONS = "audr"
    AUDIENCE_SESSIONS = "auds"
    AUDIENCE = "audv"  # chosen: `to`, with `v` (region, language) or `i` (session)
    ENROLL_BUTTON = "btn"  # i: the session to enrol in under the text, 0 none
    SEND = "send"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    PROGRESS = "prog"
    # group sessions
    GROUP_NEW = "gnew"
    GROUP_DURATION = "gdur"  # n: minutes
    GROUP_FORMAT = "gfmt"  # v: a format
    GROUP_REGION = "greg"  # v: a region code, "" every region
    GROUP_LANGUAGE = "glng"  # v: kk or ru
    GROUP_FACILITATOR = "gfac"  # i: a psychologist, 0 none
    GROUP_LIST = "glist"
    GROUP_VIEW = "gview"
    GROUP_CANCEL = "gcancel"  # ask
    GROUP_KILL = "gkill"  # confirmed


class Audience(StrEnum):
    """Who a broadcast goes to: everyone, a region, a language, or a session's participants or
    waitlist."""

    ALL = "all"
    REGION = "region"
    LANGUAGE = "lang"
    PARTICIPANTS = "participants"
    WAITLIST = "waitlist"


class Coord(CallbackData, prefix="co"):
    """Coordinator's cabinet. i: a broadcast, session or psychologist id; n: minutes; v: one plain
    value (a region code, a language, a format); to: an audience."""

    a: CoordAction
    i: int = 0
    n: int = 0
    v: str = ""
    to: Audience | None = None


class StatAction(StrEnum):
    SHOW = "show"
    CHART = "chart"
    CSV = "csv"
    REGION = "reg"  # pick a region


class Stat(CallbackData, prefix="cst"):
    """Coordinators' statistics. p = a period code from bot/services/periods.py ("m202610", "q20263",
    "y2025"; "" the latest month); r = a region code, "" the country."""

    a: StatAction
    p: str = ""
    r: str = ""


class Book(CallbackData, prefix="bk"):
    """Booking a consultation. a: fmt, lang, reg, days, day, slot, note, ok; f format, l language
    ("" any), g region ("" any), d day YYYYMMDD, s slot id, r the booking being rescheduled (0 = new)."""

    a: str
    f: str = ""
    l: str = ""  # noqa: E741 - one letter keeps callback data short
    g: str = ""
    d: str = ""
    s: int = 0
    r: int = 0


class Psy(CallbackData, prefix="ps"):
    """Psychologist's cabinet. a: the action; v a value (profile field, day YYYYMMDD, weekday 0-6);
    t a time HHMM; e an end time HHMM; f a format; n minutes or weeks; id a slot or booking id."""

    a: str
    v: str = ""
    t: str = ""
    e: str = ""
    f: str = ""
    n: int = 0
    id: int = 0


class Mine(CallbackData, prefix="mb"):
    """My bookings. a: list, open, cancel, cancelok, move, ics, rate, comment; id a booking; v a rating."""

    a: str
    id: int = 0
    v: int = 0


class Nudge(CallbackData, prefix="nu"):
    """Opt-in nudges (Settings → Reminders). a: list, kind, set, off; k: mood, relax, who5; t: a time "2030"."""

    a: str
    k: str = ""
    t: str = ""


class StaffAction(StrEnum):
    LIST = "list"
    VIEW = "view"
    OFF = "off"  # ask before deactivating
    OFF_CONFIRMED = "offok"
    ON = "on"  # reactivate


class Staff(CallbackData, prefix="sa"):
    """Staff administration (coordinators, admins): id a psychologist profile; p a page of the list."""

    a: StaffAction
    id: int = 0
    p: int = 0


class SafeAction(StrEnum):
    SAFE = "ok"  # "Are you safe right now?" yes
    UNSURE = "un"  # not sure
    DANGER = "no"  # no
    PLAN = "pl"  # my safety plan
    STEP = "st"  # write step n of the plan
    CLEAR = "cl"  # ask before clearing the plan
    CLEARED = "cx"  # clear it
    HANDOFF = "ho"  # ask a psychologist on duty to write to me
    HANDOFF_YES = "hy"  # yes, send the request
    CHECKIN_YES = "cy"  # write to me tomorrow
    CHECKIN_NO = "cn"  # no check-in
    CONCERN = "cc"  # I am worried about a student or someone close


class Safe(CallbackData, prefix="sf"):
    """The safety screen and what follows it; n: a plan step (1-6)."""

    a: SafeAction
    n: int = 0


class Handoff(CallbackData, prefix="hf"):
    """A psychologist takes a crisis hand-off (the question id): the live chat opens."""

    id: int


class DutyAction(StrEnum):
    HOME = "h"
    START = "on"  # on duty now
    STOP = "off"
    ADD = "add"  # pick a weekday
    DAY = "d"  # pick the start (d: weekday)
    START_AT = "s"  # pick the end (d, t: start minute)
    END_AT = "e"  # save (d, t, e: end minute)
    REMOVE = "rm"  # id: a duty window


class Duty(CallbackData, prefix="du"):
    a: DutyAction
    d: int = 0
    t: int = 0
    e: int = 0
    id: int = 0
