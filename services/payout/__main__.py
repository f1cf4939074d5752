from services.payout.app import definition
from shared.runtime.service import run

run(definition)
