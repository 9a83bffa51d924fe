"""What the bot asks the LMSs and keeps in the shared cache: one key, one codec, one age per kind of answer.

Commands, Home, the reminder sweep and iSpring's webhooks read and write the same entries (bot.services.cache),
so a learner's progress fetched by one is reused by all; the keys and codecs live here, once.
"""

from __future__ import annotations

from bot.lms.ispring_models import ModuleResult, ResultsFilter
from bot.lms.zoho_models import LearningPlanProgress, Module, ModuleProgress, Session
from bot.services.cache import Codec
from bot.services.types import TrackedModuleRef

PROGRESS = Codec[ModuleProgress](ModuleProgress)
MODULE = Codec[Module](Module)
SESSIONS = Codec[list[Session]](list[Session])
PLANS = Codec[list[LearningPlanProgress]](list[LearningPlanProgress])
RESULTS = Codec[list[ModuleResult]](list[ModuleResult])
FLAG = Codec[bool](bool)
ABSENT_MAX_AGE = 86400.0  # "not enrolled" (a 404) is asked again after a day, by sweeps, commands and Home alike


def progress_key(team_id: str, t: TrackedModuleRef, learner_id: str) -> str:
    return f"{team_id}:zoho:progress:{t.course_id}:{t.batch_id or '-'}:{t.module_id}:{learner_id}"


def progress_key_learner(key: str) -> tuple[str, str] | None:
    """(team, Zoho learner id) of a `progress_key`; None for any other key."""
    parts = key.split(":")
    if len(parts) == 7 and parts[1:3] == ["zoho", "progress"]:
        return parts[0], parts[6]
    return None


def ispring_results_key(team_id: str, flt: ResultsFilter) -> str:
    """Where iSpring's answer to a results query is cached (`/lms results`, a learner's own iSpring modules)."""
    return f"{team_id}:ispring:results:" + "&".join(f"{k}={v}" for k, v in sorted(flt.to_params()))


def ispring_key_learner(key: str) -> tuple[str, str] | None:
    """(team, iSpring learner id) of one learner's own results key (`ispring_results_key` with only their id)."""
    team, sep, params = key.partition(":ispring:results:")
    name, eq, learner = params.partition("=")
    if not sep or not eq or name != "userIds[]" or not learner or "&" in learner:
        return None
    return team, learner


def absent_key(team_id: str, t: TrackedModuleRef, learner_id: str) -> str:
    """Where "the LMS said this learner is not enrolled" is cached (a 404 carries no payload to cache)."""
    return progress_key(team_id, t, learner_id) + ":absent"


def module_key(team_id: str, t: TrackedModuleRef) -> str:
    return f"{team_id}:zoho:module:{t.course_id}:{t.batch_id or '-'}:{t.module_id}"


def sessions_key(team_id: str, t: TrackedModuleRef) -> str:
    return f"{team_id}:zoho:sessions:{t.course_id}:{t.batch_id or '-'}:{t.module_id}"
