"""What-if experiment (not part of run_all): the checkout benchmark with candidate fixes monkeypatched in.

Each patch approximates a change suggested in docs/benchmarks.md, without touching app code, to
estimate what it would buy before anyone writes it:

  stmtcache   cache pg8000.native.to_statement per SQL string (it re-parses the text on every call)
  onert       pg8000 execute_unnamed in one round trip (Parse, Bind, Describe portal, Execute, Sync in
              one flush, as libpq's PQexecParams) instead of three; the statement stays unnamed
  stocklast   place_order takes stock after the member debit, so hot product rows are locked briefly
              (the patched function mirrors commit 0c297cc's place_order; re-check it against yours)
  tokencache  cache verified ID tokens per process (verify mode only; deployed stages never verify)

  python -m bench.what_if_checkout none
  python -m bench.what_if_checkout stmtcache,onert --seconds 12
Compare runs made back to back: the machine drifts.
"""
from __future__ import annotations

import argparse
import functools
import sys


def apply(patches: list[str]) -> None:
    if "stmtcache" in patches:
        import pg8000.native as native

        native.to_statement = functools.lru_cache(maxsize=1024)(native.to_statement)
    if "onert" in patches:
        from pg8000 import core

        def execute_unnamed(self, statement, vals=(), oids=(), stream=None):  # type: ignore[no-untyped-def]
            context = core.Context(statement, stream=stream)
            self.send_PARSE(core.NULL_BYTE, statement, oids)
            self.send_BIND(core.NULL_BYTE, core.make_params(self.py_types, vals))
            self._send_message(core.DESCRIBE, core.PORTAL + core.NULL_BYTE)
            self.send_EXECUTE()
            core._write(self._sock, core.SYNC_MSG)
            core._flush(self._sock)
            self.handle_messages(context)
            return context

        core.CoreConnection.execute_unnamed = execute_unnamed
    if "stocklast" in patches:
        import chalicelib.services.checkout as checkout_module
        from chalicelib.platform.errors import OutOfStock
        from chalicelib.points import ledger_repository as ledger, orders, outbox, products
        from chalicelib.services import ordering

        def place_order(tx, member_id, lines, source):  # type: ignore[no-untyped-def]
            lines = sorted(lines, key=lambda l: str(l.product_id))
            order_id = orders.create(tx, member_id, lines, source)
            total = sum(l.quantity * l.unit_points_price for l in lines)
            posting = ledger.debit(tx, member_id, "SPEND", total, f"Order {order_id}", order_id=order_id)
            outbox.add(tx, "OrderCreated", order_id, {
                "order_id": str(order_id), "member_id": str(member_id), "total_points": total,
                "items": [{"item_id": str(l.product_id), "quantity": l.quantity} for l in lines],
            })
            for line in lines:  # the contended rows last: locked for one round trip before COMMIT
                if not products.take_stock(tx, line.product_id, line.quantity):
                    raise OutOfStock(line.name)
            return ordering.PlacedOrder(order_id, posting.entry.id, total, posting.previous_balance, posting.balance)

        ordering.place_order = place_order
        checkout_module.place_order = place_order
    if "tokencache" in patches:
        from chalicelib import auth

        verify = auth.TokenVerifier.verify
        cache: dict[str, dict] = {}

        def cached(self, token):  # type: ignore[no-untyped-def]
            claims = cache.get(token)
            if claims is None:
                claims = cache[token] = verify(self, token)
            return claims

        auth.TokenVerifier.verify = cached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("patches", help="comma-separated: none, stmtcache, onert, stocklast, tokencache")
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--pg-stats", action="store_true")
    args = parser.parse_args(argv)
    patches = [p for p in args.patches.split(",") if p and p != "none"]
    unknown = set(patches) - {"stmtcache", "onert", "stocklast", "tokencache"}
    if unknown:
        parser.error(f"unknown patch(es): {', '.join(sorted(unknown))}")
    from bench import checkout_throughput  # sets sys.path to the project root via bench.common
    from bench.common import finish

    apply(patches)
    print(f"[what_if_checkout] patches: {', '.join(patches) or 'none'}")
    return finish(checkout_throughput.run(args.seconds, 8, args.seconds, 4, args.pg_stats), None)


if __name__ == "__main__":
    sys.exit(main())
