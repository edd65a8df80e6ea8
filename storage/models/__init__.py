"""All tables. Each feature keeps its models in its own module; importing them here
puts every table on `Base.metadata`, which Alembic and the tests compare."""

from storage.models.base import Base
from storage.models.booking import Booking, BookingWait, PsychologistProfile, Slot
from storage.models.chat import AnonQuestion, ChatSession
from storage.models.core import AuditEntry, FsmRecord, Invite, User
from storage.models.groups import Broadcast, BroadcastRecipient, GroupSeat, GroupSession
from storage.models.jobs import JobRun
from storage.models.limits import QuestionMute
from storage.models.practice import SessionNote
from storage.models.relax import JournalEntry, MoodEntry
from storage.models.reminders import Reminder
from storage.models.safety import DutyHours, SafetyPlan
from storage.models.selfcheck import SelfCheckDraft, SelfCheckResult
from storage.models.stats import StatRelease, StatTally

__all__ = [
    "AnonQuestion",
    "AuditEntry",
    "Base",
    "Booking",
    "BookingWait",
    "Broadcast",
    "BroadcastRecipient",
    "ChatSession",
    "DutyHours",
    "FsmRecord",
    "GroupSeat",
    "GroupSession",
    "Invite",
    "JobRun",
    "JournalEntry",
    "MoodEntry",
    "PsychologistProfile",
    "QuestionMute",
    "Reminder",
    "SafetyPlan",
    "SelfCheckDraft",
    "SelfCheckResult",
    "SessionNote",
    "Slot",
    "StatRelease",
    "StatTally",
    "User",
]
