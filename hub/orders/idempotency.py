"""The first answer to every keyed message from outside.

The row is inserted as *pending* at the START of the transaction that does the work, with
``ON CONFLICT DO NOTHING``. A concurrent duplicate (another process, another batch) then
either waits on the key (PostgreSQL blocks the second insert until the first commits) or
finds it committed, and reads the stored answer instead of doing the work twice.

The stored answer is the order as it was answered, visitors and ticket holders included:
their ID numbers (``id_number``, ``holder_id_number`` at any depth) are sealed like the
order's own rows (`hub.storage.sealed`, bound to the key) and opened for a replay.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain import DenialCode
from hub.sdk.outcome import Outcome
from hub.storage.sealed import IdNumbers
from hub.storage.tables import IdempotencyRow

IDEM = IdempotencyRow.__table__
K = IDEM.c


ID_FIELDS = frozenset({"id_number", "holder_id_number"})
SEALED = "sealed"


def make_key(channel: str, operation: str, partner_key: str) -> str:
    return f"{channel}\x1f{operation}\x1f{partner_key}"


def _label(key: str) -> str:
    return f"idempotency/{key}"


def seal_ids(doc: Any, ids: IdNumbers, key: str) -> Any:
    """``doc`` with every ID number replaced by ``{"sealed": base64}`` (a copy).

    Runs once per order on the writer's hot path over the whole answered order: leaves
    (most of the document) are copied inline instead of by a call each."""
    t = type(doc)
    if t is dict:
        out: dict[str, Any] = {}
        for k, v in doc.items():
            tv = type(v)
            if tv is dict or tv is list or isinstance(v, dict | list):
                out[k] = seal_ids(v, ids, key)
            elif k in ID_FIELDS and isinstance(v, str) and v:
                out[k] = {SEALED: base64.b64encode(ids.seal(_label(key), v) or b"").decode()}
            else:
                out[k] = v
        return out
    if t is list or isinstance(doc, list):
        return [seal_ids(v, ids, key) if isinstance(v, dict | list) else v for v in doc]
    if isinstance(doc, dict):
        return seal_ids(dict(doc), ids, key)
    return doc


def open_ids(doc: Any, ids: IdNumbers, key: str) -> Any:
    """The inverse of `seal_ids` (an answer stored in clear before sealing reads as is).

    :raises hub.storage.sealed.SealOpenError: sealed under another key or for another row."""
    if isinstance(doc, dict):
        return {
            k: ids.open(_label(key), base64.b64decode(v[SEALED]))
            if k in ID_FIELDS and isinstance(v, dict) and set(v) == {SEALED}
            else open_ids(v, ids, key)
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [open_ids(v, ids, key) for v in doc]
    return doc


def _insert(conn: AsyncConnection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(IDEM)


# The writer's statements, built once: building them anew for every batch cost more
# CPU than SQLAlchemy's compiled cache saves (the cache still hits; construction and
# the cache key are per call).
_RESERVE = {
    name: dialect.insert(IDEM).on_conflict_do_nothing(index_elements=["key"]).returning(K.key)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_COMPLETE = (
    update(IDEM)
    .where(K.key == bindparam("p_key"))
    .values(status=bindparam("p_status"), response=bindparam("p_body"), order_id=bindparam("p_oid"))
)


async def reserve(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]], now: datetime
) -> set[str]:
    """Insert pending rows for (key, fingerprint) pairs; return the keys that are NEW.
    Keys are inserted in sorted order so two batches never wait on each other in a cycle."""
    rows = [
        {"key": k, "fingerprint": f, "status": 0, "response": {}, "created_at": now}
        for k, f in sorted(set(keys))
    ]
    if not rows:
        return set()
    # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs itself and
    # caches the statement (a `.values(list)` would be compiled anew for every batch).
    stmt = _RESERVE["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    res = await conn.execute(stmt, rows)
    return set(res.scalars().all())


async def complete(
    conn: AsyncConnection, answers: Sequence[tuple[str, Outcome]], ids: IdNumbers
) -> None:
    if not answers:
        return
    await conn.execute(
        _COMPLETE,
        [
            {
                "p_key": k,
                "p_status": o.status,
                "p_body": seal_ids(o.body, ids, k),
                "p_oid": o.order_id,
            }
            for k, o in answers
        ],
    )


async def first_answers(
    conn: AsyncConnection, wanted: Sequence[tuple[str, str]], ids: IdNumbers
) -> dict[str, Outcome]:
    """The stored answers for (key, fingerprint): a replay of the same request gets the
    first answer; the same key with another body is refused as a conflict."""
    keys = sorted({k for k, _ in wanted})
    rows = {r.key: r for r in (await conn.execute(select(IDEM).where(K.key.in_(keys)))).all()}
    out: dict[str, Outcome] = {}
    for key, fingerprint in wanted:
        row = rows.get(key)
        if row is None or row.status == 0:
            # Cannot happen after the first transaction committed; answer retryably.
            out[key] = Outcome(
                503, {"code": "IN_PROGRESS", "message": "Request in progress; retry"}
            )
        elif row.fingerprint != fingerprint:
            out[key] = Outcome(
                409,
                {
                    "code": DenialCode.IDEMPOTENCY_CONFLICT.value,
                    "message": "Same key, different request",
                },
            )
        else:
            body = open_ids(row.response, ids, key)
            out[key] = Outcome(row.status, body, replay=True, order_id=row.order_id)
    return out
