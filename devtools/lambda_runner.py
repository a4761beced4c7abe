"""Runs handlers of an unzipped deployment package the way Lambda's Python runtime would (dev only).

    python -I -S devtools/lambda_runner.py <package dir> [<runtime libraries dir>] < events.jsonl

Isolated (-I: no environment variables for Python, no user site, no script dir on the path; -S: no
site-packages at all), so only the package (and, second, the directory standing in for the runtime's
own boto3, as /var/runtime does in Lambda) can be imported. Standard library only.
Each input line is {"handler": "app.<name>", "event": {...}, "timeout_ms": n}; each output line is
{"ok": true, "result": ..., "ms": t} or {"ok": false, "error": "...", "ms": t}.
"""
import json
import sys
import time
import traceback
import uuid


class Context:
    """The attributes of Lambda's context object that handlers and Chalice read."""

    function_name = "xanadu-rewards-offline"
    function_version = "1"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/xanadu-rewards-offline"
    log_stream_name = "offline"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:xanadu-rewards-offline:live"

    def __init__(self, timeout_ms):
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main():
    sys.path[:0] = [p for p in sys.argv[1:3] if p]
    handlers = {}
    out = sys.stdout
    sys.stdout = sys.stderr  # handler prints and logs never corrupt the protocol
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        started = time.monotonic()
        try:
            module_name, _, attr = request["handler"].partition(".")
            if request["handler"] not in handlers:
                module = __import__(module_name)
                handlers[request["handler"]] = getattr(module, attr)
            result = handlers[request["handler"]](request["event"], Context(request.get("timeout_ms", 30000)))
            reply = {"ok": True, "result": result}
        except Exception as exc:  # reported to the caller, like Lambda's errorMessage
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        reply["ms"] = round((time.monotonic() - started) * 1000, 1)
        reply["modules_outside_package"] = sorted(
            name for name, mod in sys.modules.items()
            if getattr(mod, "__file__", None) and not any(mod.__file__.startswith(p) for p in sys.argv[1:3])
            and "site-packages" in mod.__file__)
        out.write(json.dumps(reply, default=str) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
