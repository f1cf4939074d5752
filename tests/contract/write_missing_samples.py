"""Freeze a sample of every event version not sampled yet. Existing samples are never
rewritten: they are the record of what was once published.

    python -m tests.contract.write_missing_samples
"""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.contract.examples import EXAMPLES

SAMPLES = Path(__file__).parent / "samples"


def sample_path(event_type: str, version: int) -> Path:
    return SAMPLES / event_type / f"v{version}.json"


def main() -> None:
    for example in EXAMPLES:
        path = sample_path(example.type, example.schema_version)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(orjson.dumps(example.model_dump(mode="json"),
                                          option=orjson.OPT_INDENT_2) + b"\n")
            print(f"wrote {path.relative_to(SAMPLES.parent)}")


if __name__ == "__main__":
    main()
