from services.wallet.app import definition
from shared.runtime.service import run

run(definition)
