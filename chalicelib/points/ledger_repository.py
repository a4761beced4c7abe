"""The points ledger, member balances and lots: the only code that moves points.

Invariants (checked by tests and by the reconciliation job):
  members.balance == SUM(ledger_entries.points) == SUM(point_lots.points_remaining)
Locking rule: a lot is only ever mutated while its member's row is locked, and the member row is
always locked first (the conditional balance UPDATE does it). That serialises every movement of one
member's points without advisory locks, and keeps lock order fixed (member -> lots), so no deadlocks.
Code that locks several members (the expiry job) locks them in id order, or with SKIP LOCKED.

Operator tools: `forfeit_all` takes an erased member's whole balance (one FORFEIT row, every lot);
`open_imported_accounts` writes members moved in from the old program together with their opening
balance, IMPORT row and lot, in one statement per batch.

Expiry: a lot lapses at `expires_at` (inclusive: at that very instant it is no longer spendable).
`expire_lapsed` turns what is left in lapsed lots into EXPIRE rows, one per lot, keyed
'expire:<lot>:<n>' where n counts the lot's expiries (a refund can refill a lapsed lot; its points
then expire again, once, under a new key). `debit` expires the member's lapsed lots first, in the
same transaction and through the same statement as the daily job, so no spend ever uses them.

Pending points (purchase_credits with status PENDING) are outside all three sums until they vest
at `vests_at` (inclusive). `vest_due` posts them: per credit a ledger row with the credit's own id
and natural key, and a lot. `debit` and `take_back` (returns) vest the member's due credits first,
like they expire lapsed lots, so a member can spend points from their vesting instant on and a
return at that instant finds them posted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from ..events import outbox
from ..platform import paging
from ..platform.db import UNIQUE_VIOLATION, Tx, sqlstate
from ..platform.errors import Conflict
from ..platform.logs import request_id_var
from ..platform.outcomes import LedgerInvariantBroken, money_outcomes
from .models import CreditPart, ImportedAccount, LedgerEntry, LedgerType, OpenedAccounts, OrderedItem, Posting, Tier

_ENTRY_COLUMNS = "id, member_id, entry_type, points, description, order_id, created_at"
# Credits that count as "earned" (lifetime_earned); refunds and adjustments do not. RETURN rows
# subtract from lifetime_earned what they take back.
EARNING_TYPES = ("EARN", "BONUS", "PROMOTION")


__all__ = ["LedgerInvariantBroken"]  # raised here and by the SQL functions (platform/outcomes.py)


def _insert_entry(
    tx: Tx,
    member_id: UUID,
    entry_type: LedgerType,
    points: int,
    description: str,
    order_id: UUID | None,
    external_ref: str | None,
    created_by: str | None,
    created_at: datetime | None = None,
) -> LedgerEntry:
    """`created_at` defaults to the clock at the insert; a caller that says when (`now=`) stamps that."""
    entry = tx.row(
        LedgerEntry,
        "INSERT INTO ledger_entries (member_id, entry_type, points, description, order_id, external_ref, created_by, "
        "created_at) VALUES (:m, :t, :p, :d, :o, :x, :by, COALESCE(CAST(:at AS timestamptz), clock_timestamp())) "
        f"RETURNING {_ENTRY_COLUMNS}",
        m=member_id,
        t=entry_type,
        p=points,
        d=description,
        o=order_id,
        x=external_ref,
        by=created_by,
        at=created_at,
    )
    assert entry is not None
    return entry


def credit(
    tx: Tx,
    member_id: UUID,
    entry_type: LedgerType,
    points: int,
    description: str,
    *,
    lot_lifetime: timedelta,
    order_id: UUID | None = None,
    external_ref: str | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Posting:
    """Add points: one ledger row, one new lot expiring after `lot_lifetime`, the cached balance.

    `now` (default: the clock) is when the credit happens: the ledger row's created_at and the lot's earned_at.
    """
    if points <= 0:
        raise ValueError("credit needs a positive amount")
    earned = points if entry_type in EARNING_TYPES else 0
    balance = tx.fetch_value(
        "UPDATE members SET balance = balance + :p, lifetime_earned = lifetime_earned + :e, updated_at = now() "
        "WHERE id = :m RETURNING balance",
        m=member_id,
        p=points,
        e=earned,
    )
    if balance is None:
        raise LookupError(f"member {member_id} does not exist")
    entry = _insert_entry(tx, member_id, entry_type, points, description, order_id, external_ref, created_by, now)
    tx.execute(
        "INSERT INTO point_lots (member_id, ledger_entry_id, points_earned, points_remaining, earned_at, expires_at) "
        "VALUES (:m, :e, :p, :p, CAST(:at AS timestamptz), "
        "CAST(:at AS timestamptz) + make_interval(secs => CAST(:life AS float8)))",
        m=member_id,
        e=entry.id,
        p=points,
        at=now or entry.created_at,
        life=lot_lifetime.total_seconds(),
    )
    return Posting(entry, balance - points, balance)


def debit(
    tx: Tx,
    member_id: UUID,
    entry_type: LedgerType,
    points: int,
    description: str,
    *,
    order_id: UUID | None = None,
    external_ref: str | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Posting:
    """Take points, soonest-expiring lots first. Raises InsufficientPoints if short (the caller's
    transaction then rolls back, so nothing is written).

    The one shared spend path: checkout and orders (inside the SQL function `order_place`),
    reservations and negative adjustments all come through `ledger_debit` (migration 0011). It first
    locks the member row, vests due credits and expires the member's lapsed lots (as of `now`,
    default: the transaction's start), so points are never spent after their expiry instant.
    """
    if points <= 0:
        raise ValueError("debit needs a positive amount")
    with money_outcomes():
        row = tx.fetch_one(
            "SELECT entry_id, created_at, balance, wrote_events "
            "FROM ledger_debit(:m, :t, :p, :d, :o, :x, :by, CAST(:at AS timestamptz), :r)",
            m=member_id,
            t=entry_type,
            p=points,
            d=description,
            o=order_id,
            x=external_ref,
            by=created_by,
            at=now,
            r=request_id_var.get(),
        )
    assert row is not None
    if row["wrote_events"]:
        outbox.written(tx)  # lapsed lots expired or due credits vested on the way
    balance = int(row["balance"])
    entry = LedgerEntry(row["entry_id"], member_id, entry_type, -points, description, order_id, row["created_at"])
    return Posting(entry, balance + points, balance)


def lock_and_settle(tx: Tx, member_id: UUID, now: datetime | None, *, why: str) -> datetime | None:
    """Lock the member row (the first lock of the ledger's order), then vest the member's due pending
    credits and expire their lapsed lots as of `now` (default: the transaction's start), so what
    follows sees exactly the points spendable at that instant. The instant, or None: no such member.

    One statement (`ledger_settle`, migration 0011, which `ledger_debit` calls too)."""
    state = tx.fetch_one(
        "SELECT settled_at, wrote_events FROM ledger_settle(:m, CAST(:now AS timestamptz), :why, :r)",
        m=member_id,
        now=now,
        why=why,
        r=request_id_var.get(),
    )
    assert state is not None
    if state["wrote_events"]:
        outbox.written(tx)
    at: datetime | None = state["settled_at"]
    return at


def credit_parts(
    tx: Tx,
    member_id: UUID,
    parts: list[CreditPart],
    *,
    at: datetime,
    lot_lifetime: timedelta,
    created_by: str,
    tier: Tier | None = None,
) -> tuple[list[LedgerEntry], int]:
    """Credit several parts at once (a purchase's base points and its promotions' points): per part
    a ledger row with the part's id and natural key, and a lot; the balance, lifetime_earned and
    (when given) the tier in the same statement. The caller holds the member lock. (entries, balance)."""
    if not parts or any(p.points <= 0 for p in parts):
        raise ValueError("credit needs positive parts")
    earned = sum(p.points for p in parts if p.entry_type in EARNING_TYPES)
    rows = tx.fetch(
        """
        WITH parts AS MATERIALIZED (
            SELECT * FROM jsonb_to_recordset(CAST(:parts AS jsonb))
                AS p(id uuid, entry_type text, points bigint, description text, external_ref text)
        ), balance AS (
            UPDATE members SET balance = balance + (SELECT SUM(points) FROM parts),
                   lifetime_earned = lifetime_earned + :earned, tier = COALESCE(CAST(:tier AS text), tier),
                   updated_at = now()
            WHERE id = :m RETURNING balance
        ), entries AS (
            INSERT INTO ledger_entries (id, member_id, entry_type, points, description, external_ref, created_by,
                                        created_at)
            SELECT id, :m, entry_type, points, description, external_ref, :by, CAST(:at AS timestamptz) FROM parts
            RETURNING id, member_id, entry_type, points, description, order_id, created_at
        ), lots AS (
            INSERT INTO point_lots (member_id, ledger_entry_id, points_earned, points_remaining, earned_at, expires_at)
            SELECT :m, id, points, points, CAST(:at AS timestamptz),
                   CAST(:at AS timestamptz) + make_interval(secs => CAST(:life AS float8))
            FROM parts
        )
        SELECT e.*, (SELECT balance FROM balance) AS balance FROM entries e
        """,
        parts=json.dumps(
            [
                {
                    "id": str(p.id),
                    "entry_type": p.entry_type,
                    "points": p.points,
                    "description": p.description,
                    "external_ref": p.external_ref,
                }
                for p in parts
            ]
        ),
        m=member_id,
        earned=earned,
        tier=tier,
        by=created_by,
        at=at,
        life=lot_lifetime.total_seconds(),
    )
    if not rows or rows[0]["balance"] is None:
        raise LookupError(f"member {member_id} does not exist")
    balance = int(rows[0]["balance"])
    order = {p.id: i for i, p in enumerate(parts)}
    entries = sorted(
        (LedgerEntry(**{k: v for k, v in r.items() if k != "balance"}) for r in rows), key=lambda e: order[e.id]
    )
    return entries, balance


def take_back(
    tx: Tx,
    member_id: UUID,
    points: int,
    description: str,
    *,
    own_entries: list[UUID],
    external_ref: str,
    created_by: str,
    at: datetime,
) -> tuple[LedgerEntry | None, int, int]:
    """A return takes back up to `points` from the member's lots: first the lots of `own_entries`
    (the returned purchase's own credits), then the others soonest-expiring first, never more than
    the balance. One RETURN ledger row (negative) with its lot allocations; the balance and
    lifetime_earned go down by what was taken. The caller holds the member lock and has settled the
    member (`lock_and_settle`). (entry or None when nothing was taken, points taken, balance)."""
    if points <= 0:
        raise ValueError("take_back needs a positive amount")
    entry_id = uuid4()
    row = tx.fetch_one(
        """
        WITH want AS MATERIALIZED (
            SELECT LEAST(CAST(:p AS bigint), balance) AS points, balance FROM members WHERE id = :m
        ), balance AS (
            UPDATE members m SET balance = m.balance - w.points, lifetime_earned = m.lifetime_earned - w.points,
                   updated_at = now()
            FROM want w WHERE m.id = :m AND w.points > 0
            RETURNING m.balance
        ), entry AS (
            INSERT INTO ledger_entries (id, member_id, entry_type, points, description, external_ref, created_by,
                                        created_at)
            SELECT :e, :m, 'RETURN', -w.points, :d, :x, :by, CAST(:at AS timestamptz) FROM want w WHERE w.points > 0
            RETURNING id, member_id, entry_type, points, description, order_id, created_at
        ), open_lots AS (
            SELECT id, points_remaining,
                   SUM(points_remaining) OVER (
                       ORDER BY (ledger_entry_id = ANY(CAST(:own AS uuid[]))) DESC, expires_at, id
                   ) - points_remaining AS before
            FROM point_lots WHERE member_id = :m AND points_remaining > 0
        ), take AS (
            SELECT o.id, LEAST(o.points_remaining, w.points - o.before) AS points
            FROM open_lots o, want w WHERE o.before < w.points
        ), updated AS (
            UPDATE point_lots l SET points_remaining = l.points_remaining - take.points
            FROM take WHERE l.id = take.id
            RETURNING l.id, take.points
        ), allocated AS (
            INSERT INTO lot_allocations (ledger_entry_id, lot_id, points)
            SELECT :e, id, points FROM updated
            RETURNING points
        )
        SELECT w.points AS taken, COALESCE((SELECT balance FROM balance), w.balance) AS balance,
               (SELECT COALESCE(SUM(points), 0) FROM allocated)::bigint AS allocated,
               (SELECT created_at FROM entry) AS created_at, (SELECT description FROM entry) AS description
        FROM want w
        """,
        p=points,
        m=member_id,
        e=entry_id,
        d=description,
        x=external_ref,
        by=created_by,
        at=at,
        own=[str(e) for e in own_entries],
    )
    if row is None:
        raise LookupError(f"member {member_id} does not exist")
    taken, allocated = int(row["taken"]), int(row["allocated"])
    if allocated != taken:
        raise LedgerInvariantBroken(f"lots of member {member_id} cover {allocated} of {taken} points")
    if not taken:
        return None, 0, int(row["balance"])
    entry = LedgerEntry(entry_id, member_id, "RETURN", -taken, row["description"], None, row["created_at"])
    return entry, taken, int(row["balance"])


def consume_lots(tx: Tx, member_id: UUID, entry_id: UUID, points: int) -> int:
    """FIFO by expiry in one statement (`ledger_consume_lots`); the caller holds the member row lock."""
    taken = tx.fetch_value("SELECT ledger_consume_lots(:m, :e, :p)", m=member_id, p=points, e=entry_id)
    return int(taken or 0)


def refund(
    tx: Tx,
    debit_entry_id: UUID,
    description: str,
    *,
    order_id: UUID | None = None,
    external_ref: str | None = None,
    created_by: str | None = None,
) -> Posting:
    """Give back a whole debit: the points return to the very lots they came from.

    A lot keeps its original expiry, so refunded points that lapsed in the meantime are expired by
    the next expiry run (documented in the README: refunds never extend a lot's life).
    `external_ref` makes a refund happen at most once (unique per entry type).
    """
    original = tx.fetch_one(
        "SELECT member_id, points FROM ledger_entries WHERE id = :id AND points < 0", id=debit_entry_id
    )
    if original is None:
        raise LookupError(f"no debit {debit_entry_id}")
    member_id, points = original["member_id"], -int(original["points"])
    balance = tx.fetch_value(
        "UPDATE members SET balance = balance + :p, updated_at = now() WHERE id = :m RETURNING balance",
        m=member_id,
        p=points,
    )
    try:
        entry = _insert_entry(
            tx, member_id, "REFUND", points, description, order_id, external_ref or str(debit_entry_id), created_by
        )
    except Exception as exc:
        if sqlstate(exc) == UNIQUE_VIOLATION:
            raise Conflict("This debit was already refunded.", code="ALREADY_REFUNDED") from exc
        raise
    restored = tx.fetch_value(
        """
        WITH restored AS (
            UPDATE point_lots l SET points_remaining = l.points_remaining + a.points
            FROM lot_allocations a WHERE a.ledger_entry_id = :d AND a.lot_id = l.id
            RETURNING a.points
        ) SELECT COALESCE(SUM(points), 0)::bigint FROM restored
        """,
        d=debit_entry_id,
    )
    if int(restored or 0) != points:
        raise LedgerInvariantBroken(f"refund of {debit_entry_id} restored {restored} of {points} points")
    return Posting(entry, balance - points, balance)


# -- operator tools: forfeits and imported balances ---------------------------------------------
def forfeit_all(
    tx: Tx, member_id: UUID, description: str, *, external_ref: str, created_by: str | None = None
) -> Posting | None:
    """Take everything the member holds (an erased member's points): one FORFEIT row for the whole
    balance, consuming every open lot, lapsed ones included, so the liability drops by exactly that.
    None when nothing is left. `external_ref` makes it happen at most once (unique per entry type)."""
    balance = tx.fetch_value("SELECT balance FROM members WHERE id = :m FOR UPDATE", m=member_id)
    if balance is None:
        raise LookupError(f"member {member_id} does not exist")
    if balance == 0:
        return None
    tx.execute("UPDATE members SET balance = 0, updated_at = now() WHERE id = :m", m=member_id)
    entry = _insert_entry(tx, member_id, "FORFEIT", -balance, description, None, external_ref, created_by)
    taken = consume_lots(tx, member_id, entry.id, balance)
    if taken != balance:
        raise LedgerInvariantBroken(f"lots of member {member_id} cover {taken} of {balance} points")
    return Posting(entry, balance, 0)


_OPEN_ACCOUNTS_SQL = """
WITH input AS MATERIALIZED (
    SELECT * FROM json_to_recordset(CAST(:accounts AS json)) AS a(
        member_id uuid, external_member_id text, email text, first_name text, last_name text, phone text,
        points bigint, expires_at timestamptz, line bigint)
), claimed AS (
    INSERT INTO imported_members (external_member_id, member_id, import_id, line)
    SELECT external_member_id, member_id, CAST(:import_id AS uuid), line FROM input
    ON CONFLICT (external_member_id) DO NOTHING
    RETURNING member_id
), opened AS (
    -- The member row is written with its opening balance: the IMPORT row and the lot below make it true.
    INSERT INTO members (id, email, first_name, last_name, phone, balance)
    SELECT i.member_id, i.email, i.first_name, i.last_name, i.phone, i.points
    FROM input i JOIN claimed c ON c.member_id = i.member_id
    RETURNING id, balance
), entries AS (
    INSERT INTO ledger_entries (member_id, entry_type, points, description, external_ref, created_by)
    SELECT id, 'IMPORT', balance, :description, 'import:' || id, :by FROM opened WHERE balance > 0
    RETURNING id, member_id, points, created_at
), lots AS (
    INSERT INTO point_lots (member_id, ledger_entry_id, points_earned, points_remaining, earned_at, expires_at)
    SELECT e.member_id, e.id, e.points, e.points, e.created_at, i.expires_at
    FROM entries e JOIN input i ON i.member_id = e.member_id
), events AS (
    -- For the archive only (no consumer reads them from SQS): written as settled, never relayed.
    INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id, published_at)
    SELECT 'MemberImported', o.id,
           jsonb_build_object('member_id', o.id, 'import_id', CAST(:import_id AS uuid), 'line', i.line,
                              'points', o.balance, 'expires_at', CASE WHEN o.balance > 0 THEN i.expires_at END,
                              'ledger_entry_id', e.id),
           CAST(:request_id AS text), clock_timestamp()
    FROM opened o JOIN input i ON i.member_id = o.id LEFT JOIN entries e ON e.member_id = o.id
)
SELECT (SELECT count(*) FROM opened)::int AS opened,
       (SELECT COALESCE(SUM(balance), 0) FROM opened)::bigint AS points,
       ARRAY(SELECT i.member_id FROM input i WHERE NOT EXISTS (SELECT 1 FROM claimed c WHERE c.member_id = i.member_id))
         AS elsewhere
"""


def open_imported_accounts(
    tx: Tx, import_id: UUID, accounts: list[ImportedAccount], *, description: str, created_by: str
) -> OpenedAccounts:
    """Members moved in from the old program, with their opening balances, in one statement: each claims
    its external id (imported_members: a second import of that id opens nothing), and is written with
    its balance together with the IMPORT row (external_ref 'import:<member>') and the lot (expiring at
    `expires_at`) that make it true; a MemberImported event each. The batch travels as one JSON text
    (a million rows as typed arrays would spend most of their time escaping array elements)."""
    if not accounts:
        return OpenedAccounts(0, 0, frozenset())
    payload = json.dumps(
        [
            {
                "member_id": str(a.member_id),
                "external_member_id": a.external_member_id,
                "email": a.email,
                "first_name": a.first_name,
                "last_name": a.last_name,
                "phone": a.phone,
                "points": a.points,
                "expires_at": a.expires_at.isoformat(),
                "line": a.line,
            }
            for a in accounts
        ],
        separators=(",", ":"),
    )
    row = tx.fetch_one(
        _OPEN_ACCOUNTS_SQL,
        accounts=payload,
        import_id=import_id,
        description=description,
        by=created_by,
        request_id=request_id_var.get(),
    )
    assert row is not None
    return OpenedAccounts(int(row["opened"]), int(row["points"]), frozenset(row["elsewhere"] or ()))


# -- expiry ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expired:
    lots: int
    points: int
    members: int


LotKey = tuple[UUID, datetime, UUID]  # (member_id, expires_at, lot id): the expiry job's batch order

_EXPIRE_SQL = (
    "SELECT points, lots, members FROM ledger_expire_lapsed(CAST(:members AS uuid[]), CAST(:now AS timestamptz), "
    ":by, :request_id, CAST(:a_m AS uuid), CAST(:a_at AS timestamptz), CAST(:a_id AS uuid), "
    "CAST(:z_m AS uuid), CAST(:z_at AS timestamptz), CAST(:z_id AS uuid))"
)


def expire_lapsed(
    tx: Tx,
    member_ids: list[UUID],
    now: datetime,
    *,
    after: LotKey | None = None,
    through: LotKey | None = None,
    created_by: str = "expiry-job",
) -> Expired:
    """Expire what is left in the lapsed lots (expires_at <= now) of members whose rows the caller
    has locked; with `after`/`through`, only lots whose (member_id, expires_at, id) is in that range.

    One set-based statement: per lot an EXPIRE ledger row and a lot_allocations row, the lot set
    to 0; per member the balance and one PointsExpired outbox event. The unique external_ref
    'expire:<lot>:<n>' is the last line of defence against expiring the same points twice.
    """
    if not member_ids:
        return Expired(0, 0, 0)
    params: dict[str, Any] = {
        "members": [str(m) for m in member_ids],
        "now": now,
        "by": created_by,
        "request_id": request_id_var.get(),
    }
    params.update(_range(after, through))
    row = tx.fetch_one(_EXPIRE_SQL, **params)
    assert row is not None
    if row["members"]:
        outbox.written(tx)  # the statement wrote PointsExpired events
    return Expired(lots=int(row["lots"]), points=int(row["points"]), members=int(row["members"]))


# -- vesting -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Vested:
    credits: int
    points: int
    members: int
    member_ids: list[UUID]


CreditKey = tuple[UUID, datetime, UUID]  # (member_id, vests_at, credit id): the vesting job's batch order

_VEST_SQL = (
    "SELECT points, credits, members FROM ledger_vest_due(CAST(:members AS uuid[]), CAST(:now AS timestamptz), "
    ":by, :request_id, CAST(:a_m AS uuid), CAST(:a_at AS timestamptz), CAST(:a_id AS uuid), "
    "CAST(:z_m AS uuid), CAST(:z_at AS timestamptz), CAST(:z_id AS uuid))"
)


def _range(after: tuple[UUID, datetime, UUID] | None, through: tuple[UUID, datetime, UUID] | None) -> dict[str, Any]:
    """The batch range of a job as the functions' parameters (all None: no range)."""
    if after is None and through is None:
        return dict.fromkeys(("a_m", "a_at", "a_id", "z_m", "z_at", "z_id"))
    assert after is not None, "a range needs both ends"
    assert through is not None, "a range needs both ends"
    return {
        "a_m": after[0],
        "a_at": after[1],
        "a_id": after[2],
        "z_m": through[0],
        "z_at": through[1],
        "z_id": through[2],
    }


def vest_due(
    tx: Tx,
    member_ids: list[UUID],
    now: datetime,
    *,
    after: CreditKey | None = None,
    through: CreditKey | None = None,
    created_by: str = "vesting-job",
) -> Vested:
    """Post the pending credits due at `now` (vests_at <= now) of members whose rows the caller has
    locked; with `after`/`through`, only credits whose (member_id, vests_at, id) is in that range.

    One set-based statement: per credit its ledger row (the credit's id, its natural key, stamped
    with vests_at) and its lot (earned at vests_at, expiring at the lot_expires_at fixed at the
    purchase), the credit POSTED; per member the balance, lifetime_earned and one PointsVested event.
    The unique natural key of the ledger row is the last line of defence against vesting twice."""
    if not member_ids:
        return Vested(0, 0, 0, [])
    params: dict[str, Any] = {
        "members": [str(m) for m in member_ids],
        "now": now,
        "by": created_by,
        "request_id": request_id_var.get(),
    }
    params.update(_range(after, through))
    row = tx.fetch_one(_VEST_SQL, **params)
    assert row is not None
    vested = list(row["members"] or [])
    if vested:
        outbox.written(tx)  # the statement wrote PointsVested events
    return Vested(credits=int(row["credits"]), points=int(row["points"]), members=len(vested), member_ids=vested)


# -- reads -------------------------------------------------------------------------------------
# A member's history: ledger rows (POSTED) and purchase credits that have not vested yet (PENDING,
# with what is left of them after returns). A credit keeps its id when it vests and becomes a row.
_POSTED_COLUMNS = f"{_ENTRY_COLUMNS}, 'POSTED' AS status, CAST(NULL AS timestamptz) AS vests_at"
_PENDING_COLUMNS = (
    "id, member_id, entry_type, points - points_cancelled AS points, description, CAST(NULL AS uuid) AS order_id, "
    "created_at, 'PENDING' AS status, vests_at"
)


def list_for_member(tx: Tx, member_id: UUID, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
    rows = tx.rows(
        LedgerEntry,
        f"(SELECT {_POSTED_COLUMNS} FROM ledger_entries WHERE member_id = :m AND {paging.AFTER_CURSOR} "
        f"{paging.NEWEST_FIRST}) UNION ALL "
        f"(SELECT {_PENDING_COLUMNS} FROM purchase_credits WHERE member_id = :m AND status = 'PENDING' "
        f"AND {paging.AFTER_CURSOR} {paging.NEWEST_FIRST}) {paging.NEWEST_FIRST}",
        m=member_id,
        **paging.params(cursor, limit),
    )
    return paging.page(rows, limit, lambda e: (e.created_at, e.id))


def get_for_member(tx: Tx, member_id: UUID, entry_id: UUID) -> LedgerEntry | None:
    """A ledger row, or a pending credit, of this member."""
    return tx.row(
        LedgerEntry,
        f"SELECT {_POSTED_COLUMNS} FROM ledger_entries WHERE id = :id AND member_id = :m UNION ALL "
        f"SELECT {_PENDING_COLUMNS} FROM purchase_credits WHERE id = :id AND member_id = :m AND status = 'PENDING'",
        id=entry_id,
        m=member_id,
    )


def items_of_order(tx: Tx, order_id: UUID) -> list[OrderedItem]:
    return tx.rows(
        OrderedItem,
        "SELECT product_id AS cat_item_id, product_name, description, image_url, quantity AS unit_cnt, "
        "unit_points_price FROM order_lines WHERE order_id = :o ORDER BY product_name, product_id",
        o=order_id,
    )


def balance_of(tx: Tx, member_id: UUID) -> dict[str, Any] | None:
    """balance, lifetime_earned and tier of one member (no lock)."""
    return tx.fetch_one("SELECT balance, lifetime_earned, tier FROM members WHERE id = :m", m=member_id)


def sums(tx: Tx, member_id: UUID) -> dict[str, int]:
    """balance, ledger sum and lot sum of one member: equal unless something is broken."""
    row = tx.fetch_one(
        "SELECT m.balance, "
        " (SELECT COALESCE(SUM(points), 0) FROM ledger_entries WHERE member_id = m.id)::bigint AS ledger, "
        " (SELECT COALESCE(SUM(points_remaining), 0) FROM point_lots WHERE member_id = m.id)::bigint AS lots "
        "FROM members m WHERE m.id = :m",
        m=member_id,
    )
    return {k: int(v) for k, v in (row or {}).items()}


def sums_batch(tx: Tx, after: UUID, limit: int) -> list[dict[str, Any]]:
    """balance, ledger sum and lot sum of the next `limit` members after `after` (id order), from one
    statement, so one consistent snapshot: a member mid-transaction is seen before or after, never half."""
    rows = tx.fetch(
        "WITH batch AS (SELECT id, balance FROM members WHERE id > :after ORDER BY id LIMIT :n) "
        "SELECT b.id, b.balance, "
        " COALESCE((SELECT SUM(points) FROM ledger_entries l WHERE l.member_id = b.id), 0)::bigint AS ledger, "
        " COALESCE((SELECT SUM(points_remaining) FROM point_lots p WHERE p.member_id = b.id), 0)::bigint AS lots, "
        " (SELECT count(*) FROM point_lots p WHERE p.member_id = b.id "
        "   AND (p.points_remaining < 0 OR p.points_remaining > p.points_earned))::int AS bad_lots "
        "FROM batch b ORDER BY b.id",
        after=after,
        n=limit,
    )
    return [{**r, "balance": int(r["balance"]), "ledger": int(r["ledger"]), "lots": int(r["lots"])} for r in rows]
