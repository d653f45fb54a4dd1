"""`python -m ssmctl.sandbox [--fleet FILE] [--port N] [--user NAME]`: run a sandbox in the
foreground; prints export lines, stops on Ctrl-C or SIGTERM (exit 0)."""

from __future__ import annotations

import argparse
import sys

from ssmctl.errors import SsmctlError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ssmctl.sandbox",
        description="Run a local emulated Session Manager region on 127.0.0.1.",
    )
    parser.add_argument("--fleet", metavar="FILE", help="fleet file (default: the built-in fleet)")
    parser.add_argument(
        "--port", type=int, default=0, help="port to listen on (default 0: a free one)"
    )
    parser.add_argument(
        "--user", help="IAM user the export lines sign in as (default: the fleet's)"
    )
    args = parser.parse_args(argv)
    from ssmctl.sandbox.serve import serve_forever

    try:
        serve_forever(args.fleet, args.port, args.user, sys.stdout)
    except SsmctlError as exc:
        print(f"ssmctl sandbox: {exc}", file=sys.stderr)
        return int(exc.exit_status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
