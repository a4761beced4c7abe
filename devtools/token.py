"""Print a Cognito ID token for any user of the running local stack (dev only).

    python -m devtools.token [EMAIL] [--password P]      (or: make -s token EMAIL=...)

Any email works: a user that does not exist in the local pool yet is created first (moto keeps the
pool in memory, so users other than the demo ones are re-created after a restart; their data in
PostgreSQL stays). Only the token goes to stdout, so `$(python -m devtools.token)` composes.
"""
from __future__ import annotations

import argparse
import sys

from devtools import localaws
from devtools.run import StackInfo

_DEMO_PASSWORDS = {user[0]: user[1] for user in (localaws.DEMO_MEMBER, localaws.DEMO_ADMIN)}


def token_for(info: StackInfo, email: str, password: str | None = None) -> str:
    """Sign in as `email` (creating the user with `password` if needed) and return the ID token."""
    password = password or _DEMO_PASSWORDS.get(email, localaws.DEFAULT_PASSWORD)
    localaws.ensure_user(info.aws.endpoint, info.aws.user_pool_id, email, password)
    return localaws.id_token(info.aws.endpoint, info.aws.client_id, email, password)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.token", description=__doc__.split("\n")[0])
    parser.add_argument("email", nargs="?", default=localaws.DEMO_MEMBER[0],
                        help=f"default: the demo member, {localaws.DEMO_MEMBER[0]}")
    parser.add_argument("--password", help="for a new user, the password to give it; for an existing one, its "
                                           f"password (default: the demo password, or {localaws.DEFAULT_PASSWORD})")
    args = parser.parse_args(argv)
    info = StackInfo.load()
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        print(token_for(info, args.email, args.password))
    except (BotoCoreError, ClientError) as error:
        print(f"could not sign in as {args.email}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
