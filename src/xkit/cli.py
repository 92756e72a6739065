"""The ``xkit`` command line: run the server, manage platforms, keys, admins and providers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from xkit import metrics
from xkit.errors import ConfigurationError, XkitError
from xkit.logs import configure_logging
from xkit.runtime import Runtime, start_runtime
from xkit.settings import Settings

if TYPE_CHECKING:
    from xkit.providers.registry import ProviderRegistry

T = TypeVar("T")
CLI_ACTOR = "cli"

app = typer.Typer(
    help="xkit: a self-hostable integration platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
platforms_app = typer.Typer(help="Create and list platforms.", no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys of a platform, and the encryption keys.", no_args_is_help=True
)
admin_app = typer.Typer(help="Dashboard administrators.", no_args_is_help=True)
providers_app = typer.Typer(help="Provider templates.", no_args_is_help=True)
app.add_typer(platforms_app, name="platforms")
app.add_typer(keys_app, name="keys")
app.add_typer(admin_app, name="admin")
app.add_typer(providers_app, name="providers")

PlatformOption = Annotated[str, typer.Option("--platform", "-p", help="Platform slug.")]


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        _fail("invalid configuration:\n" + "\n".join(_problems(exc)))
        raise


def _problems(exc: ValidationError) -> list[str]:
    """One line per refused setting, named as the variable the operator set — never with the
    value, which may be a key."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "_".join(str(part) for part in error["loc"][:1]).upper()
        variable = f"XKIT_{name}" if name else "configuration"
        lines.append(f"  {variable}: {error['msg']}")
    return lines


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _with_runtime(
    work: Callable[[Runtime], Awaitable[T]], *, settings: Settings | None = None
) -> T:
    """Start the runtime, run ``work``, close; domain and config errors become one clear line."""
    settings = settings or _settings()
    configure_logging(settings.log_level, settings.log_format)

    async def _run() -> T:
        runtime = await start_runtime(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(_run())
    except (ConfigurationError, XkitError) as exc:
        _fail(str(exc))
        raise


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (XKIT_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (XKIT_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Server processes sharing the port (XKIT_WORKERS); each has its own database "
             "pool.")] = None,
) -> None:
    """Run the server, with the worker inside it (and, on SQLite, migrate the database first).

    XKIT_WORKER_ENABLED=false leaves the worker out, for deployments that run `xkit worker`.
    With --workers N, N processes answer on one socket; the migrations, the keyring check
    and this banner happen once, before they start.
    """
    from xkit import serving

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items()
                 if v is not None}
    settings = _settings(**overrides)
    _metrics_directory(settings)

    async def _preflight(runtime: Runtime) -> str | None:
        """While no admin exists, a fresh one-time link to create the first one."""
        from xkit.services.admin import admins
        from xkit.services.admin import sessions as admin_sessions
        from xkit.services.connect import flow as authorizations

        async with runtime.sessions() as session:
            # Callbacks cut short when a server died (the worker loop sweeps them too).
            await authorizations.end_interrupted_callbacks(session)
            if await admins.count_admins(session):
                return None
            return await admin_sessions.issue_setup_token(session)

    setup_token = _with_runtime(_preflight, settings=settings)
    sock = None
    if settings.workers > 1:  # bound before the banner: a port in use is the one message
        try:
            sock = serving.listening_socket(settings.host, settings.port)
        except OSError as exc:
            _fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}")
    if settings.public_url_problem:
        typer.secho(f"warning: {settings.public_url_problem}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"xkit is running at {settings.public_url}")
    typer.echo(f"  dashboard: {settings.public_url}/admin")
    typer.echo(f"  API docs:  {settings.public_url}/docs")
    typer.echo(f"  data:      {settings.resolved_database_url.split('@')[-1]}")
    if sock is not None:
        typer.echo(f"  processes: {settings.workers}")
    if setup_token:
        typer.secho(
            "No admin exists yet. Create the first one with this one-time link (valid 24 hours):",
            fg=typer.colors.YELLOW,
        )
        typer.echo(f"  {settings.public_url}/admin/setup?token={setup_token}")
    if sock is None:
        serving.serve_one(settings)
        return
    configure_logging(settings.log_level, settings.log_format, with_pid=True)
    supervisor = serving.Supervisor(serving.prepare_children(settings), sock,
                                    processes=settings.workers)
    code = supervisor.run()
    if code:
        raise typer.Exit(code)


@app.command()
def worker() -> None:
    """Run the worker alone: webhook deliveries and token upkeep, until SIGTERM or Ctrl-C.

    Run as many as you like against one PostgreSQL; they share the work through row leases.
    """
    import signal

    from xkit.worker import Worker

    settings = _settings()
    _metrics_directory(settings)

    async def _work(runtime: Runtime) -> None:
        sampler = asyncio.create_task(
            metrics.sample_pool_forever(runtime.engine.sync_engine.pool))
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        typer.echo(f"xkit worker is running on {settings.resolved_database_url.split('@')[-1]}")
        working = asyncio.create_task(Worker(runtime).run(stopping))
        stopped = asyncio.create_task(stopping.wait())
        await asyncio.wait({working, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        try:  # what is in hand gets the shutdown grace; refreshes are then drained on close
            await asyncio.wait_for(working, timeout=settings.shutdown_grace_seconds)
        except TimeoutError:
            typer.echo("xkit worker: the shutdown grace ran out; unfinished leases will lapse",
                       err=True)
        sampler.cancel()

    try:
        _with_runtime(_work, settings=settings)
    finally:
        metrics.process_exiting()


def _metrics_directory(settings: Settings) -> None:
    """Count in XKIT_METRICS_DIR, where every process of this xkit writes (prometheus-client's
    multiprocess mode), so that one /metrics reports them all; child processes inherit it.

    Only when /metrics is on (XKIT_METRICS_TOKEN): the files are memory-mapped, and a process
    that touches a new page of one on a full disk dies of SIGBUS. Without metrics, a full disk
    must cost only the writes the database refuses (tests/test_sqlite_disk_full.py)."""
    if settings.metrics_token is None:
        return
    try:
        metrics.use_directory(settings.resolved_metrics_dir)
    except OSError as exc:
        _fail(f"XKIT_METRICS_DIR={settings.resolved_metrics_dir} cannot be used: {exc}")


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(
        help="Address both servers listen on. [default: XKIT_HOST, else 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(
        help="Port of the xkit server. [default: XKIT_PORT, else 8000]")] = None,
    app_port: Annotated[int | None, typer.Option(
        help="Port of the sample developer app. [default: the xkit port + 1]")] = None,
) -> None:
    """Try xkit in a minute: a sandbox provider, a demo platform and a sample app."""
    import uvicorn

    from xkit.app import create_app
    from xkit.demo import prepare, sample_app, serve_both

    base = _settings()
    host = host or base.host
    port = base.port if port is None else port
    app_port = port + 1 if app_port is None else app_port
    if not (0 < port < 65536 and 0 < app_port < 65536) or port == app_port:
        _fail("--port and --app-port must be two different ports from 1 to 65535")
    # Listening on every interface still leaves the URLs to print: this machine's loopback.
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    # The sandbox and the receivers a developer tries live on this machine, so the demo lets
    # provider calls, the proxy and webhooks reach loopback and private addresses — by the
    # documented settings (docs/security.md), as an operator would.
    settings = _settings(
        host=host,
        port=port,
        sandbox=True,
        provider_allow_private_networks=True,
        proxy_allow_private_networks=True,
        webhook_allow_private_networks=True,
        data_dir=str(base.data_dir / "demo"),
        public_url=f"http://{shown}:{port}",
        database_url="",
    )
    app_origin = f"http://{shown}:{app_port}"
    setup = _with_runtime(lambda runtime: prepare(runtime, app_origin), settings=settings)
    url = settings.public_url
    typer.echo(f"xkit demo: data in {settings.data_dir}")
    typer.echo(f"  xkit:       {url}  (dashboard {url}/admin)")
    typer.secho(f"  Open the sample app: {app_origin}", fg=typer.colors.GREEN, bold=True)
    typer.echo("  It embeds the catalog; connect the Sandbox connector and approve. It then")
    typer.echo("  shows its backend's code beside the result, and buttons that make the sandbox")
    typer.echo(f"  misbehave (revoke, fail, answer slowly): {app_origin}/#switches")
    if setup.admin_setup_token:
        typer.echo(
            "  Dashboard admin (one-time link): "
            f"{url}/admin/setup?token={setup.admin_setup_token}"
        )
    typer.echo("  API key of the demo platform (a demo key, made for this run; the one an")
    typer.echo("  earlier run printed is revoked):")
    typer.echo(f"    export XKIT_URL={url}")
    typer.echo(f"    export XKIT_PUBLISHABLE={setup.publishable_key}")
    typer.echo(f"    export XKIT_SECRET={setup.secret_key}")
    typer.echo('    curl -u "$XKIT_PUBLISHABLE:$XKIT_SECRET" '
               '"$XKIT_URL/api/platform/contexts/demo-user/connections"')
    typer.echo("  Provider calls, the proxy and webhooks may reach loopback and private addresses")
    typer.echo("  in this demo (XKIT_PROVIDER_/PROXY_/WEBHOOK_ALLOW_PRIVATE_NETWORKS=true), so a")
    typer.echo("  webhook receiver on this machine gets deliveries; `xkit serve` refuses them.")
    xkit_config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
    asyncio.run(serve_both(xkit_config, sample_app(url, setup), app_port, host))


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (the explicit step for PostgreSQL)."""
    from xkit.db import migrate as migrations
    from xkit.db.engine import create_engine, private_directory

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.is_sqlite:
        private_directory(settings.data_dir)

    async def _run() -> str | None:
        engine = create_engine(settings.resolved_database_url, hide_parameters=True)
        try:
            await migrations.upgrade(engine)
            return await migrations.current_revision(engine)
        finally:
            await engine.dispose()

    try:
        revision = asyncio.run(_run())
    except Exception as exc:
        _fail(f"migration failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    typer.echo(f"database is at revision {revision}")


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="File to write the copy to.")],
    force: Annotated[bool, typer.Option(help="Replace PATH if it exists.")] = False,
) -> None:
    """Copy the SQLite database to PATH (mode 0600) while the server keeps serving.

    The copy holds secrets encrypted with your encryption key, which it does not contain:
    back the key up separately. PostgreSQL: use pg_dump (docs/operations.md#backups).
    """
    from xkit.db.backup import BackupRefused, backup_sqlite, sqlite_path

    settings = _settings()
    try:
        size = backup_sqlite(sqlite_path(settings.resolved_database_url), path, force=force)
    except BackupRefused as exc:
        _fail(str(exc), code=1)
    typer.echo(f"wrote {path} ({size} bytes, mode 0600)")
    key = (
        "XKIT_ENCRYPTION_KEYS"
        if settings.encryption_keys is not None
        else f"the key file {settings.key_file}"
    )
    typer.secho(
        f"The copy is useless without the encryption key, which it does not contain ({key}): "
        "back the key up separately.",
        fg=typer.colors.YELLOW,
    )


@platforms_app.command("create")
def platforms_create(
    slug: str,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(help="Allowed web origin (repeatable), e.g. https://app.example.com."),
    ] = None,
) -> None:
    """Create a platform."""
    from xkit.services.configuration import platforms

    async def _work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            platform = await platforms.create_platform(
                session, slug=slug, name=name or slug, actor=CLI_ACTOR, allowed_origins=origin or []
            )
        typer.echo(f"created platform {platform.slug} ({platform.id})")

    _with_runtime(_work)


@platforms_app.command("list")
def platforms_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List platforms."""
    from xkit.services.configuration import platforms

    async def _work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            found = await platforms.list_platforms(session)
        if as_json:
            typer.echo(
                json.dumps(
                    [
                        {
                            "slug": p.slug,
                            "name": p.name,
                            "id": p.id,
                            "allowed_origins": p.allowed_origins,
                        }
                        for p in found
                    ]
                )
            )
            return
        for p in found:
            typer.echo(f"{p.slug:24} {p.name}")
        if not found:
            typer.echo("no platforms yet: xkit platforms create SLUG")

    _with_runtime(_work)


@keys_app.command("create")
def keys_create(
    platform: PlatformOption,
    label: Annotated[str, typer.Option(help="What the key is for.")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an API key pair; the secret is printed once and never again."""
    from xkit.services.configuration import api_keys, platforms

    async def _work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            found = await platforms.get_platform(session, platform)
            key, secret = await api_keys.create_api_key(
                session, found, actor=CLI_ACTOR, label=label
            )
        if as_json:
            typer.echo(json.dumps({"publishable_key": key.publishable_key, "secret_key": secret}))
            return
        typer.echo(f"publishable key: {key.publishable_key}")
        typer.echo(f"secret key:      {secret}")
        typer.secho(
            "Store the secret now: xkit keeps only a hash and cannot show it again.",
            fg=typer.colors.YELLOW,
        )

    _with_runtime(_work)


@keys_app.command("list")
def keys_list(platform: PlatformOption) -> None:
    """List a platform's API keys (never their secrets)."""
    from xkit.services.configuration import api_keys, platforms

    async def _work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            found = await platforms.get_platform(session, platform)
            keys = await api_keys.list_api_keys(session, found.id)
        for key in keys:
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            typer.echo(
                f"{key.publishable_key}  …{key.secret_hint}  {state:18} last used {used}"
                f"  {key.label}"
            )
        if not keys:
            typer.echo(f"no API keys yet: xkit keys create --platform {platform}")

    _with_runtime(_work)


@keys_app.command("revoke")
def keys_revoke(publishable_key: str, platform: PlatformOption) -> None:
    """Revoke an API key; requests with it are refused from now on."""
    from xkit.services.configuration import api_keys, platforms

    async def _work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            found = await platforms.get_platform(session, platform)
            await api_keys.revoke_api_key(session, found.id, publishable_key, actor=CLI_ACTOR)
        typer.echo(f"revoked {publishable_key}")

    _with_runtime(_work)


@keys_app.command("generate-encryption-key")
def keys_generate_encryption_key() -> None:
    """Print a new encryption key in the form XKIT_ENCRYPTION_KEYS expects."""
    from xkit.crypto import EncryptionKey

    typer.echo(EncryptionKey.generate().to_spec())


@keys_app.command("rotate-encryption")
def keys_rotate_encryption() -> None:
    """Re-encrypt every stored secret under the first key of XKIT_ENCRYPTION_KEYS."""
    from xkit.services.configuration.keyring import (
        RotationReport,
        RotationStopped,
        rotate_encryption,
    )

    def _print_counts(report: RotationReport) -> None:
        for column, count in report.re_encrypted.items():
            typer.echo(
                f"{column:36} re-encrypted {count:6}   already current "
                f"{report.already_current[column]:6}"
            )
        typer.echo(f"re-encrypted {sum(report.re_encrypted.values())} value(s)")

    async def _work(runtime: Runtime) -> None:
        typer.echo(f"primary key: {runtime.keyring.primary_key_id}")
        async with runtime.sessions() as session:
            try:
                report = await rotate_encryption(session, runtime.keyring)
            except RotationStopped as stopped:
                _print_counts(stopped.report)
                _fail(str(stopped), code=1)
                raise
        _print_counts(report)
        if report.retired_keys:
            where = (
                "XKIT_ENCRYPTION_KEYS"
                if runtime.settings.encryption_keys is not None
                else f"the key file {runtime.settings.key_file}"
            )
            typer.echo(
                f"no data uses key(s) {', '.join(report.retired_keys)} any more; "
                f"they may be removed from {where}"
            )

    _with_runtime(_work)


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    platform: Annotated[
        list[str] | None,
        typer.Option("--platform", "-p", help="Platform slug this admin may manage (repeatable)."),
    ] = None,
    superuser: Annotated[bool, typer.Option(help="May manage every platform.")] = False,
) -> None:
    """Create a dashboard administrator."""
    from xkit.services.admin import admins
    from xkit.services.configuration import platforms

    async def _work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            admin = await admins.create_admin(
                session, email=email, password=password, actor=CLI_ACTOR, superuser=superuser
            )
            for slug in platform or []:
                found = await platforms.get_platform(session, slug)
                await admins.grant_platform(session, admin, found.id, actor=CLI_ACTOR)
        typer.echo(f"created admin {admin.email}")

    _with_runtime(_work)


@providers_app.command("list")
def providers_list() -> None:
    """List the provider templates."""
    registry = _registry()
    for template in registry.all():
        typer.echo(f"{template.slug:24} {template.auth_type:22} {template.name}")


@providers_app.command("show")
def providers_show(slug: str) -> None:
    """Show one provider template as JSON."""
    from xkit.services.configuration.providers import describe_template

    registry = _registry()
    try:
        template = registry.get(slug)
    except KeyError:
        _fail(f"no provider template {slug!r}; see `xkit providers list`")
        raise
    typer.echo(json.dumps(describe_template(template), indent=2))


@providers_app.command("check")
def providers_check(
    files: Annotated[list[Path], typer.Argument(help="Template files (.yaml) to check.")],
) -> None:
    """Check template files before installing them: every problem with its file, line and
    field; exit status 1 if there is any."""
    from xkit.providers.check import check_files, report

    lines = report(check_files(files))
    for line, problem in lines:
        typer.echo(line, err=problem)
    raise typer.Exit(1 if any(problem for _, problem in lines) else 0)


@providers_app.command("table")
def providers_table(
    write: Annotated[Path | None, typer.Option(
        "--write", help="Replace the table between the catalog markers of this Markdown file "
                        "(docs/providers.md) instead of printing it.")] = None,
) -> None:
    """The built-in templates as the Markdown catalog table of docs/providers.md."""
    from xkit.providers import catalog_table
    from xkit.providers.registry import (
        BUILTIN_TEMPLATES_DIR,
        ProviderRegistry,
        TemplateError,
        load_template_dir,
    )

    try:
        registry = ProviderRegistry(t for _, t in load_template_dir(BUILTIN_TEMPLATES_DIR))
    except TemplateError as exc:
        _fail(f"invalid provider template: {exc}")
        raise
    table = catalog_table.render(registry.all())
    if write is None:
        typer.echo(table, nl=False)
        return
    try:
        document = write.read_text(encoding="utf-8")
        write.write_text(catalog_table.replace_between_markers(document, table), encoding="utf-8")
    except (OSError, ValueError) as exc:
        _fail(f"{write}: {exc}")
    typer.echo(f"{write}: catalog table of {len(registry)} templates written")


def _registry() -> ProviderRegistry:
    from xkit.providers.registry import ProviderRegistry, TemplateError

    try:
        return ProviderRegistry.load(_settings().providers_dirs)
    except TemplateError as exc:
        _fail(f"invalid provider template: {exc}")
        raise


def main() -> None:
    app()
