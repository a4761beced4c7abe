import time

_T0 = time.perf_counter()  # the first line: everything below (imports included) is the cold start
_C0 = time.process_time()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

"""One cold start, in a fresh interpreter: import the app, serve GET /prod/products via the Lambda handler.

Usage: python bench/_cold_child.py project|baseline   (the event comes from $BENCH_EVENT as JSON)
Prints one JSON line: {"ms": wall ms from the first line to the response dict, "cpu_ms": this process's CPU
time over the same span, "status", "products"}.
Kept free of imports from bench.common so neither side pays for benchmark code.
"""


class _Context:
    function_name = "xanadu-rewards-dev"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:xanadu-rewards-dev"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/xanadu-rewards-dev"
    log_stream_name = "2025/11/22/[$LATEST]0123456789abcdef0123456789abcdef"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def main() -> None:
    kind = sys.argv[1]
    event = json.loads(os.environ["BENCH_EVENT"])
    if kind == "project":
        sys.path[0] = os.environ["BENCH_PROJECT_ROOT"]  # the project root instead of bench/, as in a Lambda package
        import app as module  # noqa: PLC0415
    elif kind == "baseline":
        import bare_app as module  # noqa: PLC0415  (bench/ is sys.path[0] for a script)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    response = module.app(event, _Context())
    elapsed_ms = (time.perf_counter() - _T0) * 1000
    cpu_ms = (time.process_time() - _C0) * 1000
    body = json.loads(response["body"])
    print(json.dumps({"ms": elapsed_ms, "cpu_ms": cpu_ms, "status": response["statusCode"],
                      "products": len(body.get("products", []))}))


main()
