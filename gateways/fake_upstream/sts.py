"""AWS STS, as much as assuming a role takes: ``Action=AssumeRole`` (a form body, the query
protocol), signed with SigV4 as Bedrock's fake verifies it, answered in STS's XML with the
temporary credentials the fake Bedrock accepts. Point botocore at it with
``AWS_ENDPOINT_URL_STS={fake upstream}/sts``.

The role's name picks the answer: ``short-lived...`` credentials expire in 12 minutes (inside
botocore's 15-minute advisory refresh window, so every use refreshes them), ``denied...`` is
refused with AccessDenied; any other gets credentials valid for an hour."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from gateways.fake_upstream.bedrock import (
    REQUEST_ID,
    SESSION_TOKEN,
    SIGV4,
    TEMPORARY_ACCESS_KEY_ID,
    TEMPORARY_SECRET_ACCESS_KEY,
    signature_refusal,
)
from gateways.fake_upstream.exchange import Exchange, Reply
from gateways.fake_upstream.vendor import Vendor, route

XML = [(b"content-type", b"text/xml")]
NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
LIFETIME = timedelta(hours=1)
SHORT_LIFETIME = timedelta(minutes=12)


def sts_error(status: int, code: str, message: str) -> Reply:
    body = (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{REQUEST_ID[1].decode()}"
        "</RequestId></ErrorResponse>"
    )
    return Reply(status, body.encode(), [*XML, REQUEST_ID])


def assumed(role_arn: str, session: str) -> Reply:
    name = role_arn.rsplit("/", 1)[-1]
    lifetime = SHORT_LIFETIME if name.startswith("short-lived") else LIFETIME
    expires = (datetime.now(UTC) + lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
    account = role_arn.split(":")[4]
    body = (
        f'<AssumeRoleResponse xmlns="{NAMESPACE}"><AssumeRoleResult><Credentials>'
        f"<AccessKeyId>{TEMPORARY_ACCESS_KEY_ID}</AccessKeyId>"
        f"<SecretAccessKey>{TEMPORARY_SECRET_ACCESS_KEY}</SecretAccessKey>"
        f"<SessionToken>{SESSION_TOKEN}</SessionToken><Expiration>{expires}</Expiration>"
        f"</Credentials><AssumedRoleUser><AssumedRoleId>AROAFAKEROLEID:{escape(session)}"
        f"</AssumedRoleId><Arn>arn:aws:sts::{account}:assumed-role/{escape(name)}/"
        f"{escape(session)}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata>"
        f"<RequestId>{REQUEST_ID[1].decode()}</RequestId></ResponseMetadata>"
        "</AssumeRoleResponse>"
    )
    return Reply(200, body.encode(), [*XML, REQUEST_ID])


class Sts(Vendor):
    name = "aws-sts"
    routes = [(route("POST", r"/sts/?"), "assume_role")]
    json_body = False

    def refuse(self, exchange: Exchange, found) -> Reply | None:
        if not exchange.headers.get("authorization", "").startswith(SIGV4):
            return sts_error(403, "MissingAuthenticationToken", "Request is missing a signature.")
        refusal = signature_refusal(exchange)
        if refusal is not None:
            return sts_error(refusal.status, "SignatureDoesNotMatch", "The signature is wrong.")
        return None

    async def assume_role(self, exchange: Exchange, found) -> None:
        form = {name: values[0] for name, values in parse_qs(exchange.body.decode()).items()}
        role_arn = form.get("RoleArn", "")
        if form.get("Action") != "AssumeRole" or not role_arn.startswith("arn:aws:iam::"):
            return await exchange.answer(sts_error(400, "InvalidAction", "Only AssumeRole."))
        if role_arn.rsplit("/", 1)[-1].startswith("denied"):
            message = f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            return await exchange.answer(sts_error(403, "AccessDenied", message))
        await exchange.answer(assumed(role_arn, form.get("RoleSessionName", "")))
