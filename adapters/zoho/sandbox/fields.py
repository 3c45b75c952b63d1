"""The two modules the sandbox serves (Contacts, Accounts) and their fields, as Zoho's metadata shows them.

A module's field list is mutable: `POST /settings/fields` adds custom fields at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# Zoho data_type → json_type in the fields metadata.
JSON_TYPES: dict[str, str] = {
    "text": "string",
    "textarea": "string",
    "email": "string",
    "phone": "string",
    "website": "string",
    "picklist": "string",
    "multiselectpicklist": "jsonarray",
    "date": "string",
    "datetime": "string",
    "integer": "integer",
    "bigint": "integer",
    "currency": "double",
    "double": "double",
    "percent": "double",
    "boolean": "boolean",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "autonumber": "string",
}

# Data types a custom field may be created with through the API.
CREATABLE_TYPES = frozenset(
    {
        "text",
        "textarea",
        "email",
        "phone",
        "website",
        "picklist",
        "multiselectpicklist",
        "date",
        "datetime",
        "integer",
        "bigint",
        "currency",
        "double",
        "percent",
        "boolean",
    }
)
DECIMAL_TYPES = frozenset({"currency", "double", "percent"})
PICKLIST_TYPES = frozenset({"picklist", "multiselectpicklist"})

# The org's options of the seeded picklists (the generator draws record values from the same tuples, so
# metadata and data agree: clients such as Zoho's SDKs validate picklist writes against these lists).
LEAD_SOURCES = ("Advertisement", "Cold Call", "Employee Referral", "Trade Show", "Web Download", "Partner")
ACCOUNT_TYPES = ("Customer", "Key Account", "Individual", "大客户", "中小企业", "个人", "Partner", "Prospect")
INDUSTRIES = (
    "Manufacturing",
    "Retail",
    "Technology",
    "Wholesale",
    "Healthcare",
    "Logistics",
    "Food & Beverage",
)
RATINGS = ("Acquired", "Active", "Market Failed", "Project Cancelled", "Shut Down")
OWNERSHIPS = ("Public", "Private", "Subsidiary", "Partnership", "Government", "Privately Held", "Other")
DEFAULT_LENGTHS: dict[str, int] = {
    "text": 255,
    "textarea": 32_000,
    "email": 100,
    "phone": 30,
    "website": 255,
    "picklist": 120,
    "integer": 9,
    "bigint": 18,
    "currency": 16,
    "double": 16,
    "percent": 5,
}


@dataclass(frozen=True)
class FieldDef:
    """One field of a module; `system` fields are filled by the CRM and ignored when written."""

    api_name: str
    label: str
    data_type: str
    id: int = 0
    mandatory: bool = False
    system: bool = False
    custom: bool = False
    length: int | None = None
    decimal_place: int | None = None
    lookup_module: str | None = None
    picklist: tuple[str, ...] = ()

    def max_length(self) -> int | None:
        return self.length if self.length is not None else DEFAULT_LENGTHS.get(self.data_type)

    def places(self) -> int:
        if self.decimal_place is not None:
            return self.decimal_place
        return 2 if self.data_type in DECIMAL_TYPES else 0


@dataclass
class ModuleDef:
    """A CRM module: API name, id, mandatory and duplicate-check fields, and its field list."""

    api_name: str
    id: int
    singular: str
    display_field: str
    duplicate_check: str
    fields: list[FieldDef] = field(default_factory=list)
    _by_name: dict[str, FieldDef] = field(default_factory=dict, repr=False)
    _names: frozenset[str] = field(default=frozenset(), repr=False)
    _decimals: frozenset[str] = field(default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        self._by_name = {f.api_name: f for f in self.fields}
        self._names = frozenset(self._by_name)
        self._decimals = frozenset(f.api_name for f in self.fields if f.data_type in DECIMAL_TYPES)

    def get(self, api_name: str) -> FieldDef | None:
        return self._by_name.get(api_name)

    def add(self, definition: FieldDef) -> None:
        self.fields.append(definition)
        self._index()

    def names(self) -> frozenset[str]:
        return self._names

    def decimal_fields(self) -> frozenset[str]:
        return self._decimals

    def mandatory(self) -> list[FieldDef]:
        return [f for f in self.fields if f.mandatory]


def _system(api_name: str, label: str, data_type: str) -> FieldDef:
    return FieldDef(api_name, label, data_type, system=True)


_COMMON_TAIL = [
    FieldDef("Currency", "Currency", "picklist", length=120),
    FieldDef("Exchange_Rate", "Exchange Rate", "double", decimal_place=9),
    FieldDef("Description", "Description", "textarea"),
    _system("Created_By", "Created By", "ownerlookup"),
    _system("Modified_By", "Modified By", "ownerlookup"),
    _system("Created_Time", "Created Time", "datetime"),
    _system("Modified_Time", "Modified Time", "datetime"),
    _system("Last_Activity_Time", "Last Activity Time", "datetime"),
    _system("Record_Status__s", "Record Status", "picklist"),
    _system("Locked__s", "Locked", "boolean"),
]

_CONTACTS = [
    FieldDef("Owner", "Contact Owner", "ownerlookup"),
    FieldDef("Salutation", "Salutation", "picklist", picklist=("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.")),
    FieldDef("First_Name", "First Name", "text", length=40),
    FieldDef("Last_Name", "Last Name", "text", length=80, mandatory=True),
    _system("Full_Name", "Contact Name", "text"),
    FieldDef("Account_Name", "Account Name", "lookup", lookup_module="Accounts"),
    FieldDef("Email", "Email", "email"),
    FieldDef("Secondary_Email", "Secondary Email", "email"),
    FieldDef("Phone", "Phone", "phone"),
    FieldDef("Mobile", "Mobile", "phone"),
    FieldDef("Title", "Title", "text", length=100),
    FieldDef("Department", "Department", "text", length=100),
    FieldDef("Lead_Source", "Lead Source", "picklist", picklist=LEAD_SOURCES),
    FieldDef("Mailing_Street", "Mailing Street", "text", length=250),
    FieldDef("Mailing_City", "Mailing City", "text", length=100),
    FieldDef("Mailing_State", "Mailing State", "text", length=100),
    FieldDef("Mailing_Zip", "Mailing Zip", "text", length=30),
    FieldDef("Mailing_Country", "Mailing Country", "text", length=100),
    FieldDef("Date_of_Birth", "Date of Birth", "date"),
    FieldDef("Email_Opt_Out", "Email Opt Out", "boolean"),
    *_COMMON_TAIL,
]

_ACCOUNTS = [
    FieldDef("Owner", "Account Owner", "ownerlookup"),
    FieldDef("Account_Name", "Account Name", "text", length=200, mandatory=True),
    FieldDef("Account_Number", "Account Number", "text", length=40),
    FieldDef("Account_Site", "Account Site", "text", length=80),
    FieldDef("Account_Type", "Account Type", "picklist", picklist=ACCOUNT_TYPES),
    FieldDef("Industry", "Industry", "picklist", picklist=INDUSTRIES),
    FieldDef("Employees", "Employees", "integer"),
    FieldDef("Annual_Revenue", "Annual Revenue", "currency", decimal_place=2),
    FieldDef("Rating", "Rating", "picklist", picklist=RATINGS),
    FieldDef("Ownership", "Ownership", "picklist", picklist=OWNERSHIPS),
    FieldDef("Phone", "Phone", "phone"),
    FieldDef("Fax", "Fax", "phone"),
    FieldDef("Website", "Website", "website"),
    FieldDef("Email", "Email", "email", custom=True),
    FieldDef("Billing_Street", "Billing Street", "text", length=250),
    FieldDef("Billing_City", "Billing City", "text", length=100),
    FieldDef("Billing_State", "Billing State", "text", length=100),
    FieldDef("Billing_Code", "Billing Code", "text", length=30),
    FieldDef("Billing_Country", "Billing Country", "text", length=100),
    FieldDef("Tax_ID", "Tax ID", "text", length=40, custom=True),
    *_COMMON_TAIL,
]


def _money(api_name: str, label: str) -> FieldDef:
    return FieldDef(api_name, label, "currency", custom=True, decimal_place=2)


# The figures the connector pushes to Accounts (mappings/zoho_accounts_outbound.toml).
LEDGER_FIELDS = [
    _money("Outstanding_Balance", "Outstanding Balance"),
    _money("Overdue_Amount", "Overdue Amount"),
    _money("Unapplied_Credit", "Unapplied Credit"),
    _money("Aging_Current", "Aging Current"),
    _money("Aging_1_30", "Aging 1 30"),
    _money("Aging_31_60", "Aging 31 60"),
    _money("Aging_61_90", "Aging 61 90"),
    _money("Aging_90_Plus", "Aging 90 Plus"),
    _money("Credit_Limit", "Credit Limit"),
    _money("Available_Credit", "Available Credit"),
    FieldDef("Credit_Score", "Credit Score", "integer", custom=True),
    FieldDef(
        "Credit_Status",
        "Credit Status",
        "picklist",
        custom=True,
        picklist=("正常 OK", "关注 Watch", "暂停 Hold", "冻结 Blocked"),
    ),
    FieldDef("Credit_Status_Reason", "Credit Status Reason", "text", custom=True, length=255),
    FieldDef("Other_Currency_Balances", "Other Currency Balances", "text", custom=True, length=255),
    FieldDef("Payment_Terms", "Payment Terms", "text", custom=True, length=60),
    FieldDef("Last_Payment_Date", "Last Payment Date", "date", custom=True),
    _money("Last_Payment_Amount", "Last Payment Amount"),
    FieldDef("Figures_As_Of", "Figures As Of", "date", custom=True),
    FieldDef("Value_Tier", "Value Tier", "picklist", custom=True, picklist=("High", "Medium", "Low")),
]


def _numbered(prefix: int, start: int, fields: list[FieldDef]) -> list[FieldDef]:
    """Give each field a stable 19-digit id in the org's id space."""
    return [replace(f, id=prefix * 10**12 + start + n) for n, f in enumerate(fields)]


def build_modules(org_id_prefix: int, ledger_fields: bool) -> dict[str, ModuleDef]:
    """Fresh module definitions for one sandbox (custom fields created later stay in that sandbox)."""
    base = org_id_prefix * 10**12
    accounts = _ACCOUNTS + (LEDGER_FIELDS if ledger_fields else [])
    return {
        "Contacts": ModuleDef(
            "Contacts", base + 129, "Contact", "Full_Name", "Email", _numbered(org_id_prefix, 2001, _CONTACTS)
        ),
        "Accounts": ModuleDef(
            "Accounts",
            base + 127,
            "Account",
            "Account_Name",
            "Account_Name",
            _numbered(org_id_prefix, 3001, accounts),
        ),
    }


def field_metadata(definition: FieldDef) -> dict[str, Any]:
    """One entry of `GET /settings/fields`, with the keys clients actually read."""
    currency: dict[str, Any] = {}
    if definition.data_type == "currency":
        currency = {"rounding_option": "normal", "precision": definition.places()}
    lookup: dict[str, Any] = {}
    if definition.lookup_module:
        lookup = {
            "module": {"api_name": definition.lookup_module, "id": None},
            "display_label": definition.label,
        }
    return {
        "api_name": definition.api_name,
        "field_label": definition.label,
        "display_label": definition.label,
        "id": str(definition.id),
        "data_type": definition.data_type,
        "json_type": JSON_TYPES.get(definition.data_type, "string"),
        "custom_field": definition.custom,
        "system_mandatory": definition.mandatory,
        "read_only": definition.system,
        "field_read_only": definition.system,
        "visible": True,
        "type": "used",
        "created_source": "crm_ui" if definition.custom else "default",
        "length": definition.max_length(),
        "decimal_place": definition.places() if definition.data_type in DECIMAL_TYPES else None,
        "currency": currency,
        "lookup": lookup,
        "pick_list_values": [
            {
                "display_value": v,
                "actual_value": v,
                "reference_value": v,
                "sequence_number": n,
                "type": "used",
            }
            for n, v in enumerate(definition.picklist, start=1)
        ],
        "sortable": True,
        "filterable": True,
        "searchable": definition.data_type in {"text", "email", "phone", "picklist", "lookup"},
        "unique": {},
        "formula": {},
        "auto_number": {},
    }
