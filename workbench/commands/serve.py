"""`workbench serve`: the leader cockpit and county pages in Voilà."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from workbench.cliargs import whole
from workbench.messages import t


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help=t("dash.cli.help"),
        description=t("dash.cli.description"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=whole(0, 65535), default=8866, help=t("dash.cli.port"))
    p.add_argument("--host", default="127.0.0.1", help=t("dash.cli.host"))
    p.add_argument("--warehouse", help=t("dash.cli.warehouse"))
    auth = p.add_mutually_exclusive_group()
    auth.add_argument("--token", help=t("dash.cli.token"))
    auth.add_argument("--password", nargs="?", const="", help=t("dash.cli.password"))
    p.add_argument("--base-url", default="/", metavar="/jianguan/", help=t("dash.cli.base_url"))
    p.add_argument("--geojson", help=t("dash.cli.geojson"))
    p.add_argument("--pool-size", type=whole(0), default=2, help=t("dash.cli.pool_size"))
    p.add_argument(
        "--cockpit-pool",
        type=whole(0),
        default=None,
        metavar="数量",
        help=t("serve.cli.cockpit_pool"),
    )
    p.add_argument("--max-kernels", type=whole(1), default=40, help=t("dash.cli.max_kernels"))
    p.add_argument(
        "--cull-idle", type=whole(0), default=900, metavar="秒", help=t("dash.cli.cull_idle")
    )
    p.add_argument(
        "--viewer-timeout",
        type=whole(5),
        default=45,
        metavar="秒",
        help=t("serve.cli.viewer_timeout"),
    )
    p.add_argument("--no-precompute", action="store_true", help=t("dash.cli.no_precompute"))
    p.add_argument("--indicators-dir", default=None, help=t("ind.cli.indicators_dir"))
    p.add_argument("--set", dest="sets", action="append", default=None, help=t("dash.cli.set"))
    p.set_defaults(func=run_with_sets)


def run(args: argparse.Namespace) -> int:
    from workbench.serve import ENV_PASSWORD, ENV_TOKEN, ServeError, ServeOptions, serve

    token = args.token or os.environ.get(ENV_TOKEN) or None
    password = args.password
    if password == "" and not os.environ.get(ENV_PASSWORD):
        if not sys.stdin.isatty():  # under systemd or cron: nobody to type it
            print(t("dash.cli.no_terminal", env=ENV_PASSWORD), file=sys.stderr)
            return 2
        password = getpass.getpass(t("dash.cli.password_prompt"))
    password = password or os.environ.get(ENV_PASSWORD) or None
    if args.geojson and not Path(args.geojson).is_file():
        print(t("dash.cli.no_geojson", path=args.geojson), file=sys.stderr)
        return 2
    opts = ServeOptions(
        port=args.port,
        host=args.host,
        token=token,
        password=password,
        warehouse=Path(args.warehouse) if args.warehouse else None,
        base_url=args.base_url,
        geojson=Path(args.geojson) if args.geojson else None,
        pool_size=args.pool_size,
        cockpit_pool=args.cockpit_pool,
        max_kernels=args.max_kernels,
        cull_idle_timeout=args.cull_idle,
        viewer_timeout=args.viewer_timeout,
        precompute=not args.no_precompute,
    )
    try:
        return serve(opts)
    except ServeError as exc:
        print(t("dash.serve.refused", reason=exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(t("dash.serve.stopped"), file=sys.stderr)
        return 0


def run_with_sets(args: argparse.Namespace) -> int:
    """The command with `--indicators-dir` and `--set` handed to its kernels first."""
    from workbench.config import use_indicators_dir, use_sets

    use_indicators_dir(args.indicators_dir)
    use_sets(args.sets)
    return run(args)
