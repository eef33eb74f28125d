"""Personal data that slips into a log line is masked before any handler writes it."""

from __future__ import annotations

import logging

from hub.logmask import MaskPersonalData, mask_text
from tests.support import id_number


def test_ids_and_phones_are_masked_but_other_numbers_stay() -> None:
    person = id_number()
    text = mask_text(f"visitor {person} phone 13812345678 order 20261122000001 qty 3")
    assert person not in text and "13812345678" not in text
    assert person[:4] in text and "20261122000001" in text


def test_the_filter_masks_messages_args_and_tracebacks(caplog: object) -> None:
    person = id_number("19700101", 7)
    logger = logging.getLogger("tickethub.test.mask")
    handler = logging.Handler()
    records: list[str] = []
    handler.emit = lambda record: records.append(  # type: ignore[method-assign]
        record.getMessage() + (record.exc_text or "")
    )
    handler.addFilter(MaskPersonalData())
    logger.addHandler(handler)
    try:
        logger.warning("refused %s", person)
        try:
            raise ValueError(f"duplicate key {person}")
        except ValueError:
            logger.exception("insert failed")
    finally:
        logger.removeHandler(handler)
    assert len(records) == 2
    assert all(person not in r for r in records)
    assert "ValueError" in records[1]
