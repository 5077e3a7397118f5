"""Translation between HTTP and occupancy: what each endpoint reads and writes.

Input serializers check shapes only; the rules are the services' (occupancy/
services.py, occupancy/residents/). Every relation a request may name is a
``ScopedPrimaryKeyRelatedField`` whose queryset is built from the caller's scope
(occupancy/api/scopes.py): another tenant's id is refused on its field with the
message a missing id gets, so a 400 never tells whether the row exists.

Residents are pseudonymous: an occupant is registered with the operator's own file
number (``local_identifier``), which is hashed by the service and then forgotten.
Neither the number nor its hash (the pseudonym) is ever returned: the hash is a
stable identifier of a person across the operator's files, which the ``id`` already
serves for the API without being derivable from those files.

One module a topic, every serializer and field re-exported here (the views read
them as ``serializers.X``):

- ``fields``: named choice fields and the strict input serializer;
- ``relations``: the scoped relation field and what each relation may point at;
- ``agreements``, ``spaces``, ``residents``, ``indicators``: each family's reads
  and the inputs of its writes.
"""

from __future__ import annotations

from occupancy.api.serializers.agreements import (
    AgreementCreateSerializer,
    AgreementDetailSerializer,
    AgreementSerializer,
    AgreementSpacesSerializer,
    AgreementStatusChangeSerializer,
    AgreementTermsSerializer,
    AgreementTransitionSerializer,
    AmendmentInputSerializer,
    AmendmentSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    FactsSerializer,
    InsuranceCertificateSerializer,
    InsuranceInputSerializer,
    RecordSerializer,
)
from occupancy.api.serializers.fields import (
    NOT_SETTABLE,
    NamedChoiceField,
    NamedChoiceFieldExtension,
    StrictSerializer,
)
from occupancy.api.serializers.indicators import (
    INDICATOR_MAX_DAYS,
    CountFigureSerializer,
    DaysFigureSerializer,
    IndicatorQuerySerializer,
    IndicatorReportSerializer,
    IndicatorRowSerializer,
    RatioFigureSerializer,
)
from occupancy.api.serializers.relations import (
    ScopedPrimaryKeyRelatedField,
)
from occupancy.api.serializers.residents import (
    ContractEndSerializer,
    ErasureSerializer,
    NoticeSerializer,
    OccupantEraseSerializer,
    OccupantLookupSerializer,
    OccupantRegisterSerializer,
    OccupantSerializer,
    OccupantUpdateSerializer,
    RenewSerializer,
    ResidenceContractCreateSerializer,
    ResidenceContractSerializer,
    StayExitSerializer,
    StayMoveSerializer,
    StayPlanExitSerializer,
    StaySerializer,
    StayStartSerializer,
    TerminateSerializer,
)
from occupancy.api.serializers.spaces import (
    SafetyInspectionInputSerializer,
    SafetyInspectionSerializer,
    SpaceCreateSerializer,
    SpaceSerializer,
    SpaceUpdateSerializer,
)

__all__ = [
    "INDICATOR_MAX_DAYS",
    "NOT_SETTABLE",
    "AgreementCreateSerializer",
    "AgreementDetailSerializer",
    "AgreementSerializer",
    "AgreementSpacesSerializer",
    "AgreementStatusChangeSerializer",
    "AgreementTermsSerializer",
    "AgreementTransitionSerializer",
    "AmendmentInputSerializer",
    "AmendmentSerializer",
    "ContractEndSerializer",
    "CountFigureSerializer",
    "DaysFigureSerializer",
    "DocumentSerializer",
    "DocumentUploadSerializer",
    "ErasureSerializer",
    "FactsSerializer",
    "IndicatorQuerySerializer",
    "IndicatorReportSerializer",
    "IndicatorRowSerializer",
    "InsuranceCertificateSerializer",
    "InsuranceInputSerializer",
    "NamedChoiceField",
    "NamedChoiceFieldExtension",
    "NoticeSerializer",
    "OccupantEraseSerializer",
    "OccupantLookupSerializer",
    "OccupantRegisterSerializer",
    "OccupantSerializer",
    "OccupantUpdateSerializer",
    "RatioFigureSerializer",
    "RecordSerializer",
    "RenewSerializer",
    "ResidenceContractCreateSerializer",
    "ResidenceContractSerializer",
    "SafetyInspectionInputSerializer",
    "SafetyInspectionSerializer",
    "ScopedPrimaryKeyRelatedField",
    "SpaceCreateSerializer",
    "SpaceSerializer",
    "SpaceUpdateSerializer",
    "StayExitSerializer",
    "StayMoveSerializer",
    "StayPlanExitSerializer",
    "StaySerializer",
    "StayStartSerializer",
    "StrictSerializer",
    "TerminateSerializer",
]
