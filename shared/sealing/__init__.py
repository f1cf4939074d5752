"""Tamper evidence for the output topics: a hash chain per partition, sealed asynchronously.

- `chain`: the chain's pure functions.
- `seal`: building seals (pure); `sealer.Sealer`: follows the partitions and publishes them
  to `audit.seals` (`python -m shared.sealing`, or `start_sealer()` in a running loop).
- `verify.verify`: the pure check of records against seals; `audit.verify_log`: the same
  over Kafka; `cli.register`: `coinlog verify-log`.
"""

from shared.sealing.audit import LogVerification, verify_log
from shared.sealing.chain import Record, chain, genesis
from shared.sealing.registry import OUTPUT_TOPICS, seals_topic
from shared.sealing.seal import PartitionChain, seal_records
from shared.sealing.sealer import Sealer, read_seals, start_sealer
from shared.sealing.verify import Finding, FindingKind, verify

__all__ = [
    "OUTPUT_TOPICS", "Finding", "FindingKind", "LogVerification", "PartitionChain", "Record",
    "Sealer", "chain", "genesis", "read_seals", "seal_records", "seals_topic", "start_sealer",
    "verify", "verify_log",
]
