"""Creates the deployment's ACLs (shared/kafka_acls.py) on the broker, as the admin.

aiokafka's admin client has no call for ACLs, so the CreateAcls request of its protocol
module is sent as it is; creating a binding that exists changes nothing, so ensure can run
any number of times.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import SecurityDisabled, for_code
from aiokafka.protocol.admin import CreateAclsRequest_v1
from aiokafka.protocol.api import Request

from shared import kafka_client
from shared.kafka_acls import Acl, acls
from shared.kafka_client import KafkaSecurity

ANY_HOST = "*"
ALLOW = 3
BATCH = 200


class _CreateAcls(Request[CreateAclsRequest_v1]):
    API_KEY = 30

    def __init__(self, acls: Sequence[Acl]):
        self._creations = [(int(acl.resource), acl.name, int(acl.pattern), acl.user, ANY_HOST,
                            int(acl.operation), ALLOW) for acl in acls]

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(self._creations)


async def create_acls(admin: AIOKafkaAdminClient, acls: Sequence[Acl]) -> None:
    """Create the bindings; raise on the first the broker refuses (a broker without an
    authorizer refuses them all with SecurityDisabled)."""
    for start in range(0, len(acls), BATCH):
        chunk = acls[start:start + BATCH]
        response = await admin._send_request(_CreateAcls(chunk))  # noqa: SLF001 - no public call
        for acl, (code, message) in zip(chunk, response.creation_responses, strict=True):
            if code:
                raise for_code(code)(f"creating the ACL {acl}: {message}")


async def ensure_acls(bootstrap_servers: str, prefix: str = "", *,
                      security: KafkaSecurity | None = None) -> int | None:
    """Create every binding of the deployment under `prefix`; return how many, or None when
    the broker has no authorizer (a dev broker, where everyone may do anything)."""
    bindings = acls(prefix)
    admin = kafka_client.admin(bootstrap_servers=bootstrap_servers, security=security)
    await kafka_client.started(admin.start, bootstrap_servers, security)
    try:
        await create_acls(admin, bindings)
    except SecurityDisabled:
        return None
    finally:
        await admin.close()
    return len(bindings)
