-- Issue 11: each money rule written once, in SQL, and called by the app in one statement, so a
-- checkout is one network round trip (docs/performance.md). `ledger_repository.py` stays the one
-- place in Python that moves points: its functions are thin callers of these.
--
-- Every function is SECURITY INVOKER (the default, spelled out): it runs with the caller's
-- privileges, so `xanadu_app` can do through a function exactly what it could do statement by
-- statement (ledger_entries stays insert-only). Nothing here changes session state: no SET,
-- no temp tables, no advisory locks, no savepoints (no EXCEPTION blocks).
--
-- Business refusals raise with SQLSTATEs of our own class XR, mapped to domain errors in
-- chalicelib/platform/outcomes.py:
--   XR001 insufficient points (MESSAGE 'Insufficient points. Required: N', DETAIL = available or '')
--   XR002 out of stock (DETAIL = the product's name)
--   XR003 lots do not cover a debit (a bug: LedgerInvariantBroken)

-- Expire what is left in the lapsed lots (expires_at <= at) of members whose rows the caller has
-- locked; with a range, only lots whose (member_id, expires_at, id) lies in (after, through].
-- The daily job's statement and the on-spend expiry are this one statement.
CREATE FUNCTION ledger_expire_lapsed(
    p_members uuid[], p_at timestamptz, p_by text, p_request_id text,
    p_after_m uuid DEFAULT NULL, p_after_at timestamptz DEFAULT NULL, p_after_id uuid DEFAULT NULL,
    p_through_m uuid DEFAULT NULL, p_through_at timestamptz DEFAULT NULL, p_through_id uuid DEFAULT NULL,
    OUT points bigint, OUT lots integer, OUT members integer)
LANGUAGE plpgsql SECURITY INVOKER VOLATILE AS $fn$
BEGIN
    -- Dynamic, so every call is planned with its values (as the statement was when the app sent it):
    -- the job's range is then an index range on point_lots_member_open, not a filter.
    EXECUTE format($q$
WITH lapsed AS MATERIALIZED (
    SELECT l.id, l.ctid AS tid, l.member_id, l.points_remaining AS points, l.expiry_count + 1 AS seq, l.earned_at,
           gen_random_uuid() AS entry_id
    FROM point_lots l
    WHERE l.member_id = ANY($1)
      AND l.points_remaining > 0 AND l.expires_at <= $2
      %s
), entries AS (
    INSERT INTO ledger_entries (id, member_id, entry_type, points, description, external_ref, created_by)
    SELECT entry_id, member_id, 'EXPIRE', -points,
           'Points expired (earned ' || to_char(earned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ')',
           'expire:' || id || ':' || seq, $3
    FROM lapsed
), lots AS (
    UPDATE point_lots l SET points_remaining = 0, expiry_count = lapsed.seq
    FROM lapsed WHERE l.ctid = lapsed.tid  -- the row just read, under the member lock: no index probe
), allocations AS (
    INSERT INTO lot_allocations (ledger_entry_id, lot_id, points)
    SELECT entry_id, id, points FROM lapsed
), per_member AS (
    SELECT member_id, SUM(points)::bigint AS points, count(*)::int AS lots FROM lapsed GROUP BY member_id
), balances AS (
    UPDATE members m SET balance = m.balance - p.points, updated_at = now()
    FROM per_member p WHERE m.id = p.member_id
    RETURNING m.id, m.balance
), events AS (
    INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id)
    SELECT 'PointsExpired', p.member_id,
           jsonb_build_object('member_id', p.member_id, 'points', p.points, 'lots', p.lots,
                              'balance', b.balance, 'as_of', $2),
           $4
    FROM per_member p JOIN balances b ON b.id = p.member_id
)
SELECT COALESCE((SELECT SUM(points) FROM per_member), 0)::bigint,
       COALESCE((SELECT SUM(lots) FROM per_member), 0)::int,
       (SELECT count(*) FROM per_member)::int
$q$, CASE WHEN p_after_m IS NULL THEN '' ELSE
        'AND (l.member_id, l.expires_at, l.id) > ($5, $6, $7) AND (l.member_id, l.expires_at, l.id) <= ($8, $9, $10)' END)
    INTO points, lots, members
    USING p_members, p_at, p_by, p_request_id, p_after_m, p_after_at, p_after_id, p_through_m, p_through_at, p_through_id;
END
$fn$;

-- Post the pending credits due at `at` (vests_at <= at) of members whose rows the caller has
-- locked; with a range, only credits whose (member_id, vests_at, id) lies in (after, through].
CREATE FUNCTION ledger_vest_due(
    p_members uuid[], p_at timestamptz, p_by text, p_request_id text,
    p_after_m uuid DEFAULT NULL, p_after_at timestamptz DEFAULT NULL, p_after_id uuid DEFAULT NULL,
    p_through_m uuid DEFAULT NULL, p_through_at timestamptz DEFAULT NULL, p_through_id uuid DEFAULT NULL,
    OUT points bigint, OUT credits integer, OUT members uuid[])
LANGUAGE plpgsql SECURITY INVOKER VOLATILE AS $fn$
BEGIN
    -- Dynamic for the same reason as ledger_expire_lapsed: planned with its values, the range an index range.
    EXECUTE format($q$
WITH due AS MATERIALIZED (
    SELECT c.id, c.member_id, c.entry_type, c.points - c.points_cancelled AS points, c.description,
           c.external_ref, c.vests_at, c.lot_expires_at
    FROM purchase_credits c
    WHERE c.member_id = ANY($1)
      AND c.status = 'PENDING' AND c.vests_at <= $2
      %s
), posted AS (
    UPDATE purchase_credits c SET status = 'POSTED' FROM due WHERE c.id = due.id
), entries AS (
    -- stamped with the vesting instant, whenever the job runs: tiers and lots count from then
    INSERT INTO ledger_entries (id, member_id, entry_type, points, description, external_ref, created_by, created_at)
    SELECT id, member_id, entry_type, points, description, external_ref, $3, vests_at FROM due
), lots AS (
    INSERT INTO point_lots (member_id, ledger_entry_id, points_earned, points_remaining, earned_at, expires_at)
    SELECT member_id, id, points, points, vests_at, lot_expires_at FROM due
), per_member AS (
    SELECT member_id, SUM(points)::bigint AS points, count(*)::int AS credits FROM due GROUP BY member_id
), balances AS (
    UPDATE members m SET balance = m.balance + p.points, lifetime_earned = m.lifetime_earned + p.points,
           updated_at = now()
    FROM per_member p WHERE m.id = p.member_id
    RETURNING m.id, m.balance
), events AS (
    INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id)
    SELECT 'PointsVested', p.member_id,
           jsonb_build_object('member_id', p.member_id, 'points', p.points, 'credits', p.credits,
                              'balance', b.balance, 'as_of', $2),
           $4
    FROM per_member p JOIN balances b ON b.id = p.member_id
)
SELECT COALESCE((SELECT SUM(points) FROM per_member), 0)::bigint,
       COALESCE((SELECT SUM(credits) FROM per_member), 0)::int,
       ARRAY(SELECT member_id FROM per_member ORDER BY member_id)
$q$, CASE WHEN p_after_m IS NULL THEN '' ELSE
        'AND (c.member_id, c.vests_at, c.id) > ($5, $6, $7) AND (c.member_id, c.vests_at, c.id) <= ($8, $9, $10)' END)
    INTO points, credits, members
    USING p_members, p_at, p_by, p_request_id, p_after_m, p_after_at, p_after_id, p_through_m, p_through_at, p_through_id;
END
$fn$;

-- Lock the member row (the first lock of the ledger's order), then vest the member's due pending
-- credits and expire their lapsed lots as of `at` (default: the transaction's start). settled_at is
-- NULL when there is no such member; wrote_events says whether outbox rows were written.
CREATE FUNCTION ledger_settle(
    p_member uuid, p_at timestamptz, p_why text, p_request_id text,
    OUT settled_at timestamptz, OUT wrote_events boolean)
LANGUAGE plpgsql SECURITY INVOKER VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_lapsed boolean;
    v_due boolean;
    v_vested uuid[];
    v_expired integer;
BEGIN
    wrote_events := false;
    SELECT COALESCE(p_at, now()), EXISTS (
             SELECT 1 FROM point_lots l WHERE l.member_id = m.id AND l.points_remaining > 0
             AND l.expires_at <= COALESCE(p_at, now())), EXISTS (
             SELECT 1 FROM purchase_credits c WHERE c.member_id = m.id AND c.status = 'PENDING'
             AND c.vests_at <= COALESCE(p_at, now()))
    INTO settled_at, v_lapsed, v_due
    FROM members m WHERE m.id = p_member FOR NO KEY UPDATE OF m;
    IF NOT FOUND THEN
        settled_at := NULL;
        RETURN;
    END IF;
    IF v_due THEN
        SELECT v.members INTO v_vested
        FROM ledger_vest_due(ARRAY[p_member], settled_at, 'vesting-on-' || p_why, p_request_id) v;
        wrote_events := cardinality(v_vested) > 0;
    END IF;
    IF v_lapsed OR v_due THEN  -- a credit that vested long ago may have lapsed already
        SELECT e.members INTO v_expired
        FROM ledger_expire_lapsed(ARRAY[p_member], settled_at, 'expiry-on-' || p_why, p_request_id) e;
        wrote_events := wrote_events OR v_expired > 0;
    END IF;
END
$$;

-- FIFO by expiry: take `points` from the member's open lots, soonest-expiring first, with a
-- lot_allocations row each. What was taken (the caller checks it equals `points`).
CREATE FUNCTION ledger_consume_lots(p_member uuid, p_entry uuid, p_points bigint)
RETURNS bigint LANGUAGE sql SECURITY INVOKER VOLATILE AS $$
WITH open_lots AS (
    SELECT id, points_remaining,
           SUM(points_remaining) OVER (ORDER BY expires_at, id) - points_remaining AS before
    FROM point_lots
    WHERE member_id = p_member AND points_remaining > 0
), take AS (
    SELECT id, LEAST(points_remaining, p_points - before) AS points
    FROM open_lots WHERE before < p_points
), updated AS (
    UPDATE point_lots l SET points_remaining = l.points_remaining - take.points
    FROM take WHERE l.id = take.id
    RETURNING l.id, take.points
), allocated AS (
    INSERT INTO lot_allocations (ledger_entry_id, lot_id, points)
    SELECT p_entry, id, points FROM updated
    RETURNING points
)
SELECT COALESCE(SUM(points), 0)::bigint FROM allocated
$$;

-- The one spend path: lock and settle the member (vest due credits, expire lapsed lots as of `at`),
-- take the points from the balance (never below zero: XR001, nothing written that survives the
-- caller's rollback), one negative ledger row, lots consumed soonest-expiring first.
CREATE FUNCTION ledger_debit(
    p_member uuid, p_type text, p_points bigint, p_description text, p_order uuid, p_external_ref text,
    p_created_by text, p_at timestamptz, p_request_id text,
    OUT entry_id uuid, OUT created_at timestamptz, OUT balance bigint, OUT wrote_events boolean)
LANGUAGE plpgsql SECURITY INVOKER VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_at timestamptz;
    v_available bigint;
    v_taken bigint;
BEGIN
    IF p_points IS NULL OR p_points <= 0 THEN
        RAISE EXCEPTION 'debit needs a positive amount';
    END IF;
    SELECT s.settled_at, s.wrote_events INTO v_at, wrote_events FROM ledger_settle(p_member, p_at, 'spend', p_request_id) s;
    IF v_at IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'XR001', MESSAGE = 'Insufficient points. Required: ' || p_points, DETAIL = '';
    END IF;
    UPDATE members m SET balance = m.balance - p_points, updated_at = now()
    WHERE m.id = p_member AND m.balance >= p_points RETURNING m.balance INTO balance;
    IF NOT FOUND THEN
        SELECT m.balance INTO v_available FROM members m WHERE m.id = p_member;
        RAISE EXCEPTION USING ERRCODE = 'XR001', MESSAGE = 'Insufficient points. Required: ' || p_points,
            DETAIL = COALESCE(v_available::text, '');
    END IF;
    INSERT INTO ledger_entries (member_id, entry_type, points, description, order_id, external_ref, created_by, created_at)
    VALUES (p_member, p_type, -p_points, p_description, p_order, p_external_ref, p_created_by,
            COALESCE(p_at, clock_timestamp()))
    RETURNING id, ledger_entries.created_at INTO entry_id, created_at;
    v_taken := ledger_consume_lots(p_member, entry_id, p_points);
    IF v_taken <> p_points THEN
        RAISE EXCEPTION USING ERRCODE = 'XR003',
            MESSAGE = format('lots of member %s cover %s of %s points', p_member, v_taken, p_points);
    END IF;
END
$$;

-- An order's rows: the order PENDING (paid by p_payment_entry, or by a debit attached later), its
-- lines, its status history and OrderCreated in the outbox (items in product-id order). Used by
-- order_place and by a reservation's purchase (the hold's debit is the payment). The order's id.
CREATE FUNCTION order_create(p_member uuid, p_lines jsonb, p_source text, p_payment_entry uuid, p_request_id text)
RETURNS uuid LANGUAGE plpgsql SECURITY INVOKER VOLATILE AS $$
DECLARE
    v_order uuid;
    v_total bigint;
BEGIN
    SELECT SUM(l.quantity::bigint * l.unit_points_price) INTO v_total
    FROM jsonb_to_recordset(p_lines) AS l(quantity integer, unit_points_price integer);
    INSERT INTO orders (member_id, status, source, total_points, payment_entry_id)
    VALUES (p_member, 'PENDING', p_source, v_total, p_payment_entry) RETURNING id INTO v_order;
    INSERT INTO order_lines (order_id, product_id, product_name, description, image_url, quantity, unit_points_price)
    SELECT v_order, l.product_id, l.name, l.description, l.image_url, l.quantity, l.unit_points_price
    FROM jsonb_to_recordset(p_lines)
        AS l(product_id uuid, name text, description text, image_url text, quantity integer, unit_points_price integer);
    INSERT INTO order_status_history (order_id, status) VALUES (v_order, 'PENDING');
    INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id)
    SELECT 'OrderCreated', v_order,
           jsonb_build_object('order_id', v_order, 'member_id', p_member, 'total_points', v_total,
                              'items', jsonb_agg(jsonb_build_object('item_id', l.product_id, 'quantity', l.quantity)
                                                 ORDER BY l.product_id)),
           p_request_id
    FROM jsonb_to_recordset(p_lines) AS l(product_id uuid, quantity integer);
    RETURN v_order;
END
$$;

-- Placing an order (cart checkout, POST /prod/orders): stock taken line by line in product-id order
-- (conditional decrements: XR002 with the first failing line's name), the order's rows through
-- order_create, the points spent through ledger_debit, the debit attached as the order's payment. Lock order: products (id order) -> member -> lots.
-- p_lines: [{product_id, name, description, image_url, quantity, unit_points_price}, ...]
CREATE FUNCTION order_place(
    p_member uuid, p_lines jsonb, p_source text, p_request_id text,
    OUT order_id uuid, OUT entry_id uuid, OUT total_points bigint, OUT previous_balance bigint, OUT balance bigint)
LANGUAGE plpgsql SECURITY INVOKER VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_line record;
BEGIN
    total_points := 0;
    FOR v_line IN
        SELECT l.product_id, l.name, l.quantity, l.unit_points_price
        FROM jsonb_to_recordset(p_lines) AS l(product_id uuid, name text, quantity integer, unit_points_price integer)
        ORDER BY l.product_id
    LOOP
        UPDATE products p SET stock = p.stock - v_line.quantity, updated_at = now()
        WHERE p.id = v_line.product_id AND p.active AND p.stock >= v_line.quantity;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'XR002', MESSAGE = 'Out of stock: ' || v_line.name, DETAIL = v_line.name;
        END IF;
        total_points := total_points + v_line.quantity::bigint * v_line.unit_points_price;
    END LOOP;
    order_id := order_create(p_member, p_lines, p_source, NULL, p_request_id);
    SELECT d.entry_id, d.balance INTO entry_id, balance
    FROM ledger_debit(p_member, 'SPEND', total_points, 'Order ' || order_id, order_id, NULL, NULL, NULL, p_request_id) d;
    previous_balance := balance + total_points;
    UPDATE orders o SET payment_entry_id = entry_id WHERE o.id = order_id;
END
$$;

-- Cart checkout: claim the whole cart (DELETE ... RETURNING: of two concurrent checkouts of one
-- cart the second blocks on the row locks, then claims nothing), price it from the catalog now,
-- place the order. order_id NULL: the cart was empty. A refusal (XR001, XR002) rolls the claim back
-- with everything else; the service then empties the cart, as the contract says.
CREATE FUNCTION cart_checkout(
    p_member uuid, p_request_id text,
    OUT order_id uuid, OUT entry_id uuid, OUT total_points bigint, OUT previous_balance bigint, OUT balance bigint)
LANGUAGE plpgsql SECURITY INVOKER VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_lines jsonb;
BEGIN
    WITH claimed AS (DELETE FROM cart_items c WHERE c.member_id = p_member RETURNING c.product_id, c.quantity)
    SELECT jsonb_agg(jsonb_build_object('product_id', c.product_id, 'name', p.name, 'description', p.description,
                                        'image_url', p.image_url, 'quantity', c.quantity,
                                        'unit_points_price', p.points_price) ORDER BY c.product_id)
    INTO v_lines
    FROM claimed c JOIN products p ON p.id = c.product_id;
    IF v_lines IS NULL THEN
        RETURN;
    END IF;
    SELECT o.order_id, o.entry_id, o.total_points, o.previous_balance, o.balance
    INTO order_id, entry_id, total_points, previous_balance, balance
    FROM order_place(p_member, v_lines, 'CHECKOUT', p_request_id) o;
END
$$;
