"""All models, imported here so the metadata is complete wherever ``models`` is imported."""

from models.assignment import AddressRuleKind, StaffAssignmentRule, StaffRuleTarget, ZoneAddressRule
from models.base import Base, utcnow
from models.chat import ChatGroup
from models.enterprise import Enterprise, EntityType, RegistrationStatus, StatusFlag
from models.knowledge import (
    CaseStudy,
    HandbookTopic,
    HandbookTopicCount,
    KnowledgeEntry,
    KnowledgeGram,
    KnowledgeSource,
    KnowledgeStatus,
    TopicStatus,
)
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
    SignInThrottle,
    Zone,
)
from models.outbox import (
    ChannelPause,
    InboundMessage,
    InboundReceipt,
    InboxStatus,
    KvEntry,
    MessageKind,
    OutboundMessage,
    OutboxStatus,
    RateWindow,
    SandboxMessage,
    SmsOptOut,
)
from models.policy import (
    CampaignKind,
    CampaignStatus,
    ItemStatus,
    Policy,
    PolicyItem,
    PolicyLevel,
    PolicyPush,
    PolicyStatus,
    PushCampaign,
    PushCampaignItem,
    PushChannel,
    PushStatus,
)
from models.registry import EnterpriseEvent, EnterpriseEventKind, ImportJob, ImportRowError, ImportStatus
from models.settings import AuditLog, HolidayOverride, ScreeningRule, SlaPolicy, SystemSetting
from models.statistics import (
    StatDaily,
    StatDirtyDay,
    StatDirtyMonth,
    StatMonthly,
    StatRollupState,
    StatStockCount,
    StatStockDay,
    StatStockMember,
)
from models.studio import ConfigRevision, DispatchRuleHit
from models.training import (
    PolicyQuestion,
    TrainingEvent,
    TrainingInvitation,
    TrainingKind,
    TrainingRegistration,
    TrainingStatus,
)
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
    "HolidayOverride", "InboundMessage", "InboundReceipt", "InboxStatus", "IndustryTag", "KvEntry", "JointMeeting",
    "MessageKind", "OutboundMessage", "OutboxStatus",
    "Person", "RateWindow", "RegistrationStatus", "RequestDomain", "ReturnVisit", "Role", "Satisfaction",
    "SandboxMessage", "SmsOptOut", "ScreeningRule", "StatDaily", "StatDirtyDay", "StatDirtyMonth", "StatMonthly", "StatRollupState", "StatStockCount", "StatStockDay", "StatStockMember", "ServiceStage", "SignInThrottle", "SlaPolicy", "SystemSetting", "WorkOrder",
    "WorkOrderAlert", "WorkOrderEvent", "Zone", "utcnow",
    "WeComCardCode",
    "EnterpriseEvent", "EnterpriseEventKind", "ImportJob", "ImportRowError", "ImportStatus", "StatusFlag",
    "CampaignKind", "CampaignStatus", "ItemStatus", "Policy", "PolicyItem", "PolicyLevel", "PolicyPush",
    "PolicyStatus", "PushCampaign", "PushCampaignItem", "PushChannel", "PushStatus",
    "PolicyQuestion", "TrainingEvent", "TrainingInvitation", "TrainingKind", "TrainingRegistration", "TrainingStatus",
    "CaseStudy", "HandbookTopic", "HandbookTopicCount", "KnowledgeEntry", "KnowledgeGram", "KnowledgeSource",
    "KnowledgeStatus", "TopicStatus",
    "ConfigRevision", "DispatchRuleHit",
]
