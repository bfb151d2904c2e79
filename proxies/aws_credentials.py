"""AWS Bedrock's upstream credential: a Bedrock API key (a string, sent as a bearer token) or
an object of AWS keys the gateway signs every upstream call with (SigV4).

The object is ``{"aws_access_key_id", "aws_secret_access_key", "aws_session_token",
"region", "role_arn", "external_id"}``, every field optional but the key pair (needed unless a
role is assumed, which may then start from the gateway host's own AWS credentials). It is
stored as JSON text under the same encryption as any credential; no credential at all means
the gateway host's default AWS credential chain. Error messages name fields, never values."""

import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from core.errors import ValidationFailed

FIELD = "credential"
# AWS's own formats: access key IDs (AKIA... long-term, ASIA... temporary), regions
# (us-east-1, us-gov-west-1), IAM role ARNs in any partition, STS external IDs.
ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")
# bedrock-runtime.{region}.amazonaws.com, its FIPS and VPC endpoint forms, and China's.
BEDROCK_HOST = re.compile(
    r"(?:[\w-]+\.)?bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?"
)


@dataclass(frozen=True)
class AwsCredential:
    """AWS keys (or a role to assume) for SigV4; empty strings for fields not given."""

    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    aws_session_token: str = ""
    region: str = ""
    role_arn: str = ""
    external_id: str = ""

    @classmethod
    def from_text(cls, text: str) -> "AwsCredential | None":
        """The object a stored credential holds; None for a Bedrock API key (or nothing)."""
        if not text.startswith("{"):
            return None
        return cls(**{name: value for name, value in orjson.loads(text).items() if value})

    def to_text(self) -> str:
        """The stored form: the given fields only, as JSON."""
        return orjson.dumps({name: value for name, value in asdict(self).items() if value}).decode()


FIELDS = tuple(AwsCredential.__dataclass_fields__)


def is_credential_object(value: Any) -> bool:
    """Whether ``value`` is given as an object (or as the JSON text of one)."""
    return isinstance(value, dict) or (isinstance(value, str) and value.lstrip().startswith("{"))


def region_of_url(url: str) -> str:
    """The region a Bedrock runtime URL names (``bedrock-runtime.{region}.amazonaws.com``),
    or "" for any other host."""
    match = BEDROCK_HOST.fullmatch(urlsplit(url).hostname or "")
    return match.group(1) if match else ""


def aws_credential(value: dict | str, *, upstream_url: str = "") -> AwsCredential:
    """Check a credential object (or its JSON text); ``ValidationFailed`` with one error per
    field that is wrong (``credential.<field>``). ``upstream_url``: where it will be used,
    which must name the region when the object does not."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise invalid([(FIELD, "Not valid JSON: give an object of AWS keys.")]) from None
    if not isinstance(value, dict):
        raise invalid([(FIELD, "Give a Bedrock API key (a string) or an object of AWS keys.")])
    problems = [(f"{FIELD}.{name}", "Unknown field.") for name in value if name not in FIELDS]
    fields = {}
    for name in FIELDS:
        given = value.get(name)
        if given is None:
            continue
        if not isinstance(given, str) or not given.strip():
            problems.append((f"{FIELD}.{name}", "Must be a non-empty string."))
            continue
        fields[name] = given.strip()
    problems.extend(field_problems(fields, upstream_url))
    if problems:
        raise invalid(problems)
    return AwsCredential(**fields)


def field_problems(fields: dict[str, str], upstream_url: str) -> list[tuple[str, str]]:
    """What is wrong with the (string) fields of a credential object."""
    problems = []
    key_id, secret = fields.get("aws_access_key_id"), fields.get("aws_secret_access_key")
    if bool(key_id) != bool(secret):
        missing = "aws_secret_access_key" if key_id else "aws_access_key_id"
        problems.append((f"{FIELD}.{missing}", "Give the access key ID and the secret together."))
    elif not key_id and not fields.get("role_arn"):
        message = "Required (unless a role_arn is assumed with the gateway host's credentials)."
        problems.append((f"{FIELD}.aws_access_key_id", message))
    if key_id and not ACCESS_KEY_ID.fullmatch(key_id):
        message = "Not an AWS access key ID (16 or more capital letters and digits)."
        problems.append((f"{FIELD}.aws_access_key_id", message))
    if fields.get("aws_session_token") and not key_id:
        message = "A session token goes with an access key ID and secret."
        problems.append((f"{FIELD}.aws_session_token", message))
    region = fields.get("region")
    if region and not REGION.fullmatch(region):
        problems.append((f"{FIELD}.region", "Not an AWS region (e.g. us-east-1)."))
    elif not region and not region_of_url(upstream_url):
        message = "Required: the upstream URL names no region (bedrock-runtime.REGION...)."
        problems.append((f"{FIELD}.region", message))
    role = fields.get("role_arn")
    if role and not ROLE_ARN.fullmatch(role):
        message = "Not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)."
        problems.append((f"{FIELD}.role_arn", message))
    external = fields.get("external_id")
    if external and not role:
        problems.append((f"{FIELD}.external_id", "An external ID goes with a role_arn."))
    elif external and not EXTERNAL_ID.fullmatch(external):
        message = "2 to 1224 letters, digits or +=,.@:/- characters."
        problems.append((f"{FIELD}.external_id", message))
    return problems


def invalid(problems: list[tuple[str, str]]) -> ValidationFailed:
    summary = "; ".join(f"{field}: {message}" for field, message in problems)
    return ValidationFailed(
        f"Invalid AWS credential: {summary}",
        errors=[{"field": field, "message": message} for field, message in problems],
    )


def bedrock_credential_text(value: dict | str, *, upstream_url: str) -> str:
    """The text to store for a Bedrock provider's credential: an API key as given, an object
    checked and written as JSON."""
    if not is_credential_object(value):
        return value
    return aws_credential(value, upstream_url=upstream_url).to_text()
