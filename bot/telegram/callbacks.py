"""Callback-data factories. Short prefixes and ids only: Telegram allows 64 bytes.

A press is unpacked once: the router whose presses have its prefix unpacks it
(bot/telegram/dispatch.py), and every handler's filter there reads that one instance.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.types import CallbackQuery
from magic_filter import MagicFilter
from pydantic import ConfigDict

# The update's data: which rules of handlers' filters the press met, by rule (each is asked by the
# dispatcher's gate, the router's root filter and its handler's filter: resolved once).
RULES = "press_rules"


def meets(rule: MagicFilter, pressed: CallbackData, met: dict[int, bool] | None) -> bool:
    """Whether the press meets a handler's rule, resolved once per update when `met` is given."""
    if met is None:
        return bool(rule.resolve(pressed))
    if id(rule) not in met:  # the rules live as long as their handlers: an id names one
        met[id(rule)] = bool(rule.resolve(pressed))
    return met[id(rule)]


class Pressed(CallbackQueryFilter):
    """aiogram's filter of a press, reading the callback data the router already unpacked."""

    async def __call__(  # aiogram injects what the router found
        self,
        query: CallbackQuery,
        callback_data: CallbackData | None = None,
        press_rules: dict[int, bool] | None = None,
    ) -> Literal[False] | dict[str, Any]:
        if callback_data is None:
            return await super().__call__(query)  # a router that does not unpack (tests build some)
        if not isinstance(callback_data, self.callback_data):
            return False  # the router unpacked another kind of press
        if self.rule is None or meets(self.rule, callback_data, press_rules):
            return {"callback_data": callback_data}
        return False


class Press(CallbackData, prefix="~"):  # the base of every press; "~" itself is never sent
    model_config = ConfigDict(frozen=True)  # one instance is shared by the filters of an update

    @classmethod
    def filter(cls, rule: MagicFilter | None = None) -> CallbackQueryFilter:
        return Pressed(callback_data=cls, rule=rule)


class Section(StrEnum):
    """The main menu's sections (and the main menu itself)."""

    MAIN = "main"
    BOOK = "book"
    ASK = "ask"
    GROUPS = "groups"
    CHECK = "check"
    RELAX = "relax"
    MOOD = "mood"  # the mood check-in, one tap from the main menu
    MINE = "mine"
    SOS = "sos"
    SETTINGS = "settings"
    PSYCHOLOGIST = "psy"
    COORDINATOR = "coord"
    ADMIN = "admin"


class Menu(Press, prefix="m"):
    item: Section


class LangOrigin(StrEnum):
    """Where a language is chosen: at /start (consent follows) or in Settings."""

    START = "s"
    SETTINGS = "st"


class Lang(Press, prefix="lg"):
    code: str
    origin: LangOrigin = LangOrigin.START


class Consent(Press, prefix="cs"):
    agree: bool


class Privacy(Press, prefix="pv"):
    page: int  # 1-based, of handlers/common/about.PRIVACY_PAGES


class SettingsAction(StrEnum):
    LANGUAGE = "lang"
    REGION = "region"
    SET_REGION = "setreg"
    NOTIFICATIONS = "notify"
    ANNOUNCEMENTS = "ann"
    CALENDAR = "cal"  # calendar files' titles
    SET_CALENDAR = "setcal"  # value "detail" or "neutral"
    DELETE = "delete"
    ERASE = "erase"


class Settings(Press, prefix="st"):
    """`value`: a region code (SET_REGION), "on"/"off" (ANNOUNCEMENTS), "detail"/"neutral" (SET_CALENDAR)."""

    action: SettingsAction
    value: str = ""


class AdminAction(StrEnum):
    HOME = "home"  # pick the role to invite
    REGION = "region"  # pick the region
    MAKE = "make"  # make the invite link


class Admin(Press, prefix="ad"):
    """`role`: the role invited (psychologist, coordinator); `region`: a region code, "" any."""

    action: AdminAction
    role: str = ""
    region: str = ""


class SelfCheckAction(StrEnum):
    LIST = "list"
    OPEN = "open"  # an instrument's screen
    BEGIN = "begin"  # (again) from the first question
    RESUME = "go"  # from the draft's question
    ANSWER = "ans"  # n: the item position, v: the option value
    BACK = "back"  # n: the item position
    RESULT = "res"  # n: a result id; v: 1 when opened from the history (Back leads there)
    SHARE = "share"  # n: a result id: pick a booking
    SHARE_TO = "shto"  # n: a result id, v: a booking id
    HISTORY = "hist"
    CHART = "chart"  # n: a scale's index
    DELETE = "del"  # ask before deleting every result
    ERASE = "erase"


class SelfCheck(Press, prefix="sc"):
    """Self-check screens; `inst` is an instrument key."""

    action: SelfCheckAction
    inst: str = ""
    n: int = 0
    v: int = 0


class LibraryAction(StrEnum):
    LIST = "list"
    HELP = "help"  # what may help now, after a self-check result: i the instrument, n the result
    READ = "read"  # r: a reading, p: its page


class Library(Press, prefix="lb"):
    """The self-help library. i, n: the self-check result a reading was opened from (Back leads there)."""

    a: LibraryAction
    r: str = ""
    p: int = 0
    i: str = ""
    n: int = 0


class DrawingAction(StrEnum):
    PICK = "pick"  # e: a journal drawing: which upcoming consultation
    ASK = "ask"  # e, b: the drawing and a booking: the consent screen
    SEND = "send"  # e, b: consented


class Drawing(Press, prefix="dr"):
    """A journal drawing shown to the psychologist of one booking, with consent."""

    a: DrawingAction
    e: int = 0
    b: int = 0


class RelaxAction(StrEnum):
    MENU = "menu"
    CATEGORY = "cat"  # value: a category
    FAVOURITES = "favs"
    CARD = "card"  # value: an exercise id, as for every action below but JOURNAL and PHOTO
    FAVOURITE = "fav"  # add to or remove from the favourites
    START = "go"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    KEEP = "keep"  # keep a drawing or a reflection in the journal
    JOURNAL = "journal"
    PHOTO = "photo"  # value: a journal entry id
    TEMPLATE = "tpl"  # the exercise's printable template


class RelaxFrom(StrEnum):
    """The screen an exercise's card was opened from: its Back goes there."""

    CATEGORY = "c"  # its category (also from a nudge, a self-check or a safety screen)
    MENU = "m"  # the exercise of the day on the relaxation home
    FAVOURITES = "f"


class Relax(Press, prefix="rx"):
    """o: on an exercise's card and the presses on it, where the card was opened from."""

    action: RelaxAction
    value: str = ""
    o: RelaxFrom = RelaxFrom.CATEGORY

    @classmethod
    def unpack(cls, value: str) -> Relax:
        """Also a button sent before `o` (a nudge, a safety screen's grounding exercise, a journal
        screen still in a chat): its card goes back to the category, as it did then."""
        if value.count(cls.__separator__) == 2:
            value += cls.__separator__ + RelaxFrom.CATEGORY
        return super().unpack(value)


class MoodAction(StrEnum):
    ASK = "ask"
    SCORE = "score"  # value: the score
    SKIP = "skip"  # no note
    CHART = "chart"


class Mood(Press, prefix="md"):
    action: MoodAction
    value: int | None = None


class ChatAction(StrEnum):
    ENTER = "enter"
    END = "end"
    RATE = "rate"  # value: "1" it helped, "0" it did not
    ACCEPT = "accept"  # a live chat offered on a question (id: the question)
    DECLINE = "decline"


class Chat(Press, prefix="ch"):
    """Anonymous chat; id a chat session, or the question a live chat is offered on."""

    action: ChatAction
    id: int = 0
    value: str = ""


class AskAction(StrEnum):
    TAKE = "take"
    QUEUE = "queue"
    ANSWER = "answer"
    REPLY = "reply"
    LIVE = "live"  # offer a live chat


class Ask(Press, prefix="aq"):
    """Anonymous questions; id the question."""

    action: AskAction
    id: int = 0


class GroupAction(StrEnum):
    LIST = "list"
    PICK_KIND = "pk"  # a filter's picker: every value and "any", back to the list
    PICK_FORMAT = "pf"
    PICK_LANGUAGE = "pl"
    VIEW = "view"
    OPEN = "open"  # a session's card from an announcement or a reminder: sent below it
    JOIN = "join"
    LEAVE = "leave"  # ask first
    OUT = "out"  # leaving confirmed
    ACCEPT = "acc"  # a held seat
    DECLINE = "dec"
    MINE = "mine"
    LED = "led"  # the sessions one leads
    WHO = "who"  # who comes (the facilitator only)
    COUNT = "cnt"  # how many came: the numbers (p: their page), the facilitator only
    COUNTED = "cntd"  # score: how many came
    RATE = "rate"
    COMMENT = "cmt"
    ICS = "ics"  # the seat's calendar file
    PROGRAMME = "prog"  # the programme of the month, by kind


class GroupScope(StrEnum):
    """The regions a list of group sessions covers."""

    MINE = "m"  # the teacher's own region
    ALL = "a"


class Group(Press, prefix="gr"):
    """Group sessions. s: a session id; f, l, k, g: the list's filters (format, language, kind: "" any;
    g None: the teacher's own region if they have one), kept on a session's card for Back; m, p: the
    programme's month (1 this month, 2 the next; 0 not from the programme) and page, kept the same way;
    score: on RATE, the score; on COUNTED, how many came (p: on COUNT, the page of numbers)."""

    a: GroupAction
    s: int = 0
    f: str = ""
    l: str = ""  # noqa: E741 - one letter keeps callback data short
    k: str = ""
    g: GroupScope | None = None
    m: int = 0
    p: int = 0
    score: int = 0


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
    GROUP_KIND = "gkind"  # v: a kind
    GROUP_REGION = "greg"  # v: a region code, "" every region
    GROUP_LANGUAGE = "glng"  # v: kk or ru
    GROUP_FACILITATOR = "gfac"  # i: a psychologist, 0 none
    GROUP_DAY = "gday"  # v: YYYYMMDD, "" the calendar again
    GROUP_TIME = "gtime"  # v: YYYYMMDDHHMM
    GROUP_NOOP = "gnoop"  # the calendar's headers and padding
    GROUP_LIST = "glist"
    GROUP_VIEW = "gview"
    GROUP_CANCEL = "gcancel"  # ask
    GROUP_KILL = "gkill"  # confirmed
    GROUP_ENDED = "gended"  # sessions ended lately: how many came to each
    GROUP_COUNT = "gcnt"  # how many came: the numbers (n: their page)
    GROUP_COUNTED = "gcntd"  # n: how many came


class Audience(StrEnum):
    """Who a broadcast goes to: everyone, a region, a language, or a session's participants or
    waitlist."""

    ALL = "all"
    REGION = "region"
    LANGUAGE = "lang"
    PARTICIPANTS = "participants"
    WAITLIST = "waitlist"


class Coord(Press, prefix="co"):
    """Coordinator's cabinet. i: a broadcast, session or psychologist id; n: minutes (or how many
    came to a session, or a page of numbers); v: one plain
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
    DETAILS = "more"  # s: a section of the details


class Stat(Press, prefix="cst"):
    """Coordinators' statistics. p = a period code from bot/services/periods.py ("m202610", "q20263",
    "y2025"; "" the latest month); r = a region code, "" the country; s = a section of the
    details (bot/views/statistics.py SECTIONS)."""

    a: StatAction
    p: str = ""
    r: str = ""
    s: str = ""


class ReportAction(StrEnum):
    OPEN = "open"  # the report screen of the statistics shown
    MAKE = "make"  # f: xlsx or pdf


class Report(Press, prefix="rep"):
    """Reports for the ministry: p, r as in Stat (a period code, a region code or "" the country);
    f: the file's format."""

    a: ReportAction
    p: str = ""
    r: str = ""
    f: str = ""


class BookAction(StrEnum):
    """A step of booking: what was just picked (or asked for) in the flow."""

    START = "start"
    SOON = "soon"  # the earliest free times of every format
    FORMAT = "fmt"  # the format is picked: the language next
    LANGUAGE = "lang"  # the language is picked: the region (office) or the days next
    DAYS = "days"  # the free days again (a step back, another psychologist)
    FIND = (
        "find"  # the filters are just set: the free days of a new search (counted, bot/services/tallies.py)
    )
    DAY = "day"  # a day is picked: its free times
    SLOT = "slot"  # a time is picked: the confirm screen
    NOTE = "note"  # write a note to the psychologist
    OK = "ok"  # book (or move) it
    EXPECT = "exp"  # what to expect of a (first) consultation, from the confirm screen
    WAIT = "wait"  # no free time: tell me once when one with these filters opens


class Book(Press, prefix="bk"):
    """Booking a consultation. f format, l language ("" any), g region ("" any), d day YYYYMMDD,
    s slot id, r the booking being rescheduled (0 = new), p a psychologist's profile id (0 = any)."""

    a: BookAction
    f: str = ""
    l: str = ""  # noqa: E741 - one letter keeps callback data short
    g: str = ""
    d: str = ""
    s: int = 0
    r: int = 0
    p: int = 0


class PsyAction(StrEnum):
    """The psychologist's cabinet (handlers/psychologist/cabinet.py) and availability (availability.py)."""

    PROFILE = "prof"
    SHORT_NOTICE = "sn"
    EDIT = "edit"  # v: a free-text profile field
    LANGUAGES = "langs"
    TOGGLE_LANGUAGE = "tl"  # v: a language
    FORMATS = "fmts"
    TOGGLE_FORMAT = "tf"  # v: a format
    REGIONS = "regs"
    TOGGLE_REGION = "tr"  # v: a region
    BOOKING = "bk"
    CONFIRM = "bcf"
    ATTENDED = "att"
    NO_SHOW = "ns"
    CANCEL = "bcx"  # ask for a reason
    CANCEL_NO_REASON = "bcxn"
    OWN_LINK = "olnk"  # id: a video booking whose slot gets the psychologist's own link
    NOOP = "noop"  # calendar padding and headers
    CALENDAR = "cal"
    SLOT_TIME = "dt"  # v: the day
    SLOT_DURATION = "dur"  # v, t
    SLOT_FORMAT = "sfm"  # v, t, n: minutes
    SLOT_ADD = "add"  # v, t, n, f
    TEMPLATE = "tw"  # pick a weekday
    TEMPLATE_START = "tws"  # v: the weekday
    TEMPLATE_END = "twe"  # v, t
    TEMPLATE_FORMAT = "twf"  # v, t, e
    TEMPLATE_WEEKS = "twk"  # v, t, e, f
    TEMPLATE_APPLY = "twgo"  # v, t, e, f, n: weeks
    DAY = "day"  # v: the day
    WEEK = "week"  # v: a day of the week
    REMOVE_SLOT = "rm"  # id, v: the day shown


class Psy(Press, prefix="ps"):
    """Psychologist's cabinet. a: the action; v a value (profile field, day YYYYMMDD, weekday 0-6);
    t a time HHMM; e an end time HHMM; f a format; n minutes or weeks; id a slot or booking id."""

    a: PsyAction
    v: str = ""
    t: str = ""
    e: str = ""
    f: str = ""
    n: int = 0
    id: int = 0


class MineAction(StrEnum):
    OPEN = "open"
    ICS = "ics"
    CANCEL = "cancel"  # ask first
    CANCELLED = "cancelok"
    RATE = "rate"
    UNWAIT = "unwait"  # stop waiting for a time to open


class Mine(Press, prefix="mb"):
    """My bookings. id: a booking; stars: the rating (RATE)."""

    a: MineAction
    id: int = 0
    stars: int = 0


class NudgeAction(StrEnum):
    LIST = "list"
    KIND = "kind"  # one kind's screen: pick a time
    SET = "set"  # turn on at `minute`
    OFF = "off"


class Nudge(Press, prefix="nu"):
    """Opt-in nudges (Settings → Reminders); k: a kind (mood, relax, who5); minute: of the day."""

    a: NudgeAction
    k: str = ""
    minute: int | None = None


class StaffAction(StrEnum):
    LIST = "list"
    VIEW = "view"
    OFF = "off"  # ask before deactivating
    OFF_CONFIRMED = "offok"
    ON = "on"  # reactivate


class Staff(Press, prefix="sa"):
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


class Safe(Press, prefix="sf"):
    """The safety screen and what follows it; n: a plan step (1-6)."""

    a: SafeAction
    n: int = 0


class Handoff(Press, prefix="hf"):
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


class Duty(Press, prefix="du"):
    a: DutyAction
    d: int = 0
    t: int = 0
    e: int = 0
    id: int = 0


class MuteAction(StrEnum):
    SET = "set"  # a psychologist mutes a question's pseudonym: id the question, hours
    LIFT = "lift"  # id the mute
    LIST = "list"  # a coordinator's list of the mutes in force (also /mutes)


class Mute(Press, prefix="mu"):
    a: MuteAction
    id: int = 0
    hours: int = 0


class PracticeAction(StrEnum):
    """A psychologist's practice (handlers/psychologist/practice.py)."""

    NOTE = "n"  # the note screen of a booking (g=0) or group session (g=1): id
    EDIT = "e"  # write a free-text field: id, g, v ("t" text, "n" next step)
    TOPICS = "k"  # the topics screen: id, g
    TOPIC = "kt"  # tick or untick a topic: id, g, v
    REFER = "r"  # an in-person referral's preview: id (a booking)
    REFER_SEND = "rs"  # send it through the outbox
    CASELOAD = "c"  # today and this week
    COUNT = "a"  # how many came to a group session led, from the caseload: id; v: the page of numbers
    COUNTED = "ad"  # id; v: how many came


class Practice(Press, prefix="pr"):
    a: PracticeAction
    id: int = 0
    g: int = 0  # 1: `id` is a group session
    v: str = ""


class IntakeAction(StrEnum):
    """The teacher's intake before a first session (handlers/teacher/practice.py); id: the booking."""

    START = "s"  # the topics to tick
    TOPIC = "k"  # v: a topic
    TEXT = "t"  # in their own words (or skip)
    LANGUAGE = "l"  # v: "kk", "ru" or "" (either)
    URGENCY = "u"  # v: 0-2
    BEFORE = "b"  # v: "y" or "n": saved


class Intake(Press, prefix="in"):
    a: IntakeAction
    id: int = 0
    v: str = ""


class CarryAction(StrEnum):
    LIST = "l"  # Settings → earlier sessions: the psychologists the teacher met
    SET = "s"  # id: a psychologist profile, on


class Carry(Press, prefix="cy"):
    """Continuity by consent: may this psychologist see my earlier sessions with them?"""

    a: CarryAction
    id: int = 0
    on: bool = False


class Coverage(Press, prefix="cv"):
    """A coordinator's duty coverage of their region (handlers/coordinator/coverage.py)."""


class Capacity(CallbackData, prefix="cap"):
    """A coordinator's capacity view of their region (handlers/coordinator/capacity.py)."""
