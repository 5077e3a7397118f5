"""Writes on spaces, safety inspections, pseudonymous occupants, stays and ELAN
residence contracts, plus the two GDPR duties on them: the retention purge and the
right of access (reference/domain.md §B.4, §B.5, §C.4, §C.5, §D.3, §D.4, §F).

Every function is keyword-only and atomic. Writers that race (two stays for the
last place of a room, a capacity cut while a stay starts) lock the space row first;
"one stay at a time per occupant" is an exclusion constraint, turned into a
``Conflict`` on the ``occupant`` field. Every row written here is audited by the
pghistory triggers of occupancy/models.py, whatever the write path.

One module a topic; the writes and their tables are re-exported here, so callers
import them from ``occupancy.residents`` (the refusal messages, from ``base``):

- ``base``: the refusal messages, the constraint violations the API turns into
  field errors, and what every write shares;
- ``spaces``: spaces, safety inspections and opinions, the capacity check;
- ``occupants``: pseudonyms, registration, lookup and rectification;
- ``stays``: entry, planned exit, exit and move;
- ``contracts``: ELAN residence contracts;
- ``gdpr``: the retention purge, the right of access and erasure on request.
"""

from __future__ import annotations

from occupancy.residents.contracts import (
    RESIDENCE_TRANSITIONS,
    BodyTerminationReason,
    ContractEndGround,
    residence_contract_create,
    residence_contract_end,
    residence_contract_notify_non_renewal,
    residence_contract_renew,
    residence_contract_terminate_by_body,
    residence_contract_terminate_by_resident,
)
from occupancy.residents.gdpr import (
    RECIPIENTS,
    PurgeReport,
    access_export,
    access_record,
    erasures_replay,
    occupant_erase,
    purge_candidates,
    purge_cutoff,
    purge_residents,
)
from occupancy.residents.occupants import (
    occupant_find,
    occupant_register,
    occupant_update,
    pseudonym_for,
)
from occupancy.residents.spaces import (
    UNSET,
    safety_inspection_record,
    safety_opinion_is_favourable,
    space_create,
    space_update,
)
from occupancy.residents.stays import (
    STAY_TRANSITIONS,
    stay_exit,
    stay_move,
    stay_plan_exit,
    stay_start,
)

__all__ = [
    "RECIPIENTS",
    "RESIDENCE_TRANSITIONS",
    "STAY_TRANSITIONS",
    "UNSET",
    "BodyTerminationReason",
    "ContractEndGround",
    "PurgeReport",
    "access_export",
    "access_record",
    "erasures_replay",
    "occupant_erase",
    "occupant_find",
    "occupant_register",
    "occupant_update",
    "pseudonym_for",
    "purge_candidates",
    "purge_cutoff",
    "purge_residents",
    "residence_contract_create",
    "residence_contract_end",
    "residence_contract_notify_non_renewal",
    "residence_contract_renew",
    "residence_contract_terminate_by_body",
    "residence_contract_terminate_by_resident",
    "safety_inspection_record",
    "safety_opinion_is_favourable",
    "space_create",
    "space_update",
    "stay_exit",
    "stay_move",
    "stay_plan_exit",
    "stay_start",
]
