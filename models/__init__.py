"""All models, imported here so the metadata is complete wherever ``models`` is imported."""

from models.assignment import AddressRuleKind, StaffAssignmentRule, StaffRuleTarget, ZoneAddressRule
from models.base import Base, utcnow
from models.chat import ChatGroup
from models.enterprise import Enterprise, EntityType, RegistrationStatus, StatusFlag
from models.org import (
    ApiToken,
    ConsoleLogin,
    Department,
    DepartmentKind,
    IndustryTag,
    Person,
    RequestDomain,
    Role,
    ServiceStage,
    Zone,
)
from models.outbox import (
    ChannelPause,
    InboundReceipt,
    KvEntry,
    OutboundMessage,
    OutboxStatus,
    RateWindow,
    SandboxMessage,
)
from models.registry import EnterpriseEvent, EnterpriseEventKind, ImportJob, ImportRowError, ImportStatus
from models.settings import AuditLog, HolidayOverride, ScreeningRule, SlaPolicy, SystemSetting
from models.wecom import WeComCardCode
from models.workorder import (
    Attachment,
    CityEscalation,
    DailySequence,
    ExtensionRequest,
    JointMeeting,
    ReturnVisit,
    Satisfaction,
    WorkOrder,
    WorkOrderAlert,
    WorkOrderEvent,
)

__all__ = [
    "AddressRuleKind", "StaffAssignmentRule", "StaffRuleTarget", "ZoneAddressRule",
    "ApiToken", "Attachment", "AuditLog", "Base", "ChannelPause", "ChatGroup", "CityEscalation", "ConsoleLogin",
    "DailySequence", "Department", "DepartmentKind", "Enterprise", "EntityType", "ExtensionRequest",
    "HolidayOverride", "InboundReceipt", "IndustryTag", "KvEntry", "JointMeeting", "OutboundMessage", "OutboxStatus",
    "Person", "RateWindow", "RegistrationStatus", "RequestDomain", "ReturnVisit", "Role", "Satisfaction",
    "SandboxMessage", "ScreeningRule", "ServiceStage", "SlaPolicy", "SystemSetting", "WorkOrder",
    "WorkOrderAlert", "WorkOrderEvent", "Zone", "utcnow",
    "WeComCardCode",
    "EnterpriseEvent", "EnterpriseEventKind", "ImportJob", "ImportRowError", "ImportStatus", "StatusFlag",
]
