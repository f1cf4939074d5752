"""`coinlog chaos`: the demo's economy on a stack of its own, with faults injected while gifts
flow, and the auditor's tools as the oracle afterwards.

A scenario runs the three services (one or more instances each) and the sealer as processes on
a local Kafka and PostgreSQL started by the project's scripts under `.local/chaos` (other ports
than the default stack, so a killed broker or database disturbs nothing else). While the
simulated viewers gift (with refunds and chargebacks half-way, cash-outs after), the scenario's
faults hit: kill -9 of service instances or the sealer, the broker or PostgreSQL killed and
restarted, database sessions terminated. After every fault a canary gift per partition of the
gift path measures the recovery: the time from the fault until every canary's diamonds are
earned. When the economy has settled, `coinlog audit`, `coinlog replay SERVICE --verify` for the
three services and `coinlog verify-log` run on the scenario's topics and schemas, and the demo's
own invariant checks; a scenario passes only when all of them do.
"""
