"""`python -m bot package --out DIR`: the Teams app package (manifest.json and two icons, zipped) an admin uploads.

The manifest comes from appmanifest/manifest.template.json. Its `{{NAME}}` placeholders are filled in from the
configuration, inside JSON string values only, so a value can never change the manifest's structure:

    APP_ID           MicrosoftAppId (the Azure Bot's app id, a GUID): the app id, the bot id, webApplicationInfo
    VERSION          bot.__version__ (Teams needs a higher version each time an updated package is uploaded)
    PUBLIC_HOSTNAME  SAFESPACE_PUBLIC_HOSTNAME, the host the bot is reached at: validDomains
    WEBSITE_URL      SAFESPACE_WEBSITE_URL, PRIVACY_URL  SAFESPACE_PRIVACY_URL, TERMS_URL  SAFESPACE_TERMS_URL

Anything missing or malformed stops the build with one message listing every problem (exit status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any, Protocol

from bot import __version__

APPMANIFEST_DIR = Path(__file__).resolve().parents[2] / "appmanifest"
TEMPLATE_NAME = "manifest.template.json"
ICON_NAMES = ("color.png", "outline.png")
DEFAULT_OUT_DIR = Path("out")

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Zip entries get a fixed timestamp, so building the same configuration twice gives the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class PackageSettings(Protocol):
    """The part of bot.config.Settings the package needs."""

    @property
    def app_id(self) -> str: ...
    @property
    def public_hostname(self) -> str: ...
    @property
    def website_url(self) -> str: ...
    @property
    def privacy_url(self) -> str: ...
    @property
    def terms_url(self) -> str: ...


class PackageError(RuntimeError):
    """The configuration cannot make a package Teams would accept; the message says what to set."""


def _is_hostname(value: str) -> bool:
    labels = value.split(".")
    return len(value) <= 253 and len(labels) >= 2 and all(_HOST_LABEL.match(label) for label in labels)


def _values(settings: PackageSettings) -> dict[str, str]:
    """The placeholder values, checked. Raises PackageError naming every setting that is missing or wrong."""
    app_id = settings.app_id.strip()
    hostname = settings.public_hostname.strip().lower()
    urls = {
        "WEBSITE_URL": ("SAFESPACE_WEBSITE_URL", settings.website_url.strip()),
        "PRIVACY_URL": ("SAFESPACE_PRIVACY_URL", settings.privacy_url.strip()),
        "TERMS_URL": ("SAFESPACE_TERMS_URL", settings.terms_url.strip()),
    }
    problems: list[str] = []
    if not app_id:
        problems.append(
            "MicrosoftAppId is not set. The package needs the Azure Bot's app id (a GUID, from the bot's "
            "Configuration page in the Azure portal)."
        )
    elif not _GUID.match(app_id):
        problems.append(f"MicrosoftAppId {app_id!r} is not a GUID such as 00000000-0000-0000-0000-000000000000.")
    if not hostname:
        problems.append(
            "SAFESPACE_PUBLIC_HOSTNAME is not set. Set it to the host name the bot is reached at, the host in its "
            "messaging endpoint, for example safespace.qualitrain.co.uk."
        )
    elif not _is_hostname(hostname):
        problems.append(
            f"SAFESPACE_PUBLIC_HOSTNAME {hostname!r} is not a host name. Give only the host, for example "
            "safespace.qualitrain.co.uk, without https:// or a path."
        )
    for name, url in urls.values():
        if not url:
            problems.append(f"{name} is not set. Teams shows it on the app's details page; use an https:// address.")
        elif not re.match(r"^https://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$", url):
            problems.append(f"{name} {url!r} is not an https:// address.")
    if not _SEMVER.match(__version__):
        problems.append(f"bot.__version__ {__version__!r} is not a version Teams accepts (major.minor.patch).")
    if problems:
        raise PackageError(
            "cannot build the Teams app package:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )
    return {
        "APP_ID": app_id,
        "VERSION": __version__,
        "PUBLIC_HOSTNAME": hostname,
        **{key: url for key, (_, url) in urls.items()},
    }


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values) for value in node]
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if name not in values:
                raise PackageError(f"{TEMPLATE_NAME} uses {{{{{name}}}}}, which the package command does not fill in")
            return values[name]

        return _PLACEHOLDER.sub(replace, node)
    return node


def build_manifest(settings: PackageSettings, template_dir: Path = APPMANIFEST_DIR) -> dict[str, Any]:
    """The manifest as a dict, with every placeholder filled in. Raises PackageError."""
    values = _values(settings)
    template_path = template_dir / TEMPLATE_NAME
    try:
        template = json.loads(template_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PackageError(f"cannot read the manifest template {template_path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise PackageError(f"{template_path} is not valid JSON: {exc}") from exc
    manifest: dict[str, Any] = _fill(template, values)
    return manifest


def package_name() -> str:
    return f"safespace-{__version__}.zip"


def build_package(settings: PackageSettings, out_dir: Path, template_dir: Path = APPMANIFEST_DIR) -> Path:
    """Write out_dir/safespace-<version>.zip with manifest.json, color.png and outline.png at its root.

    Raises PackageError (nothing is written) when the configuration or the appmanifest folder is incomplete.
    """
    manifest = build_manifest(settings, template_dir)
    icons: dict[str, bytes] = {}
    for name in ICON_NAMES:
        try:
            icons[name] = (template_dir / name).read_bytes()
        except OSError as exc:
            raise PackageError(f"cannot read the icon {template_dir / name}: {exc.strerror}") from exc

    entries = {"manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(), **icons}
    target = out_dir / package_name()
    partial = target.with_name(target.name + ".partial")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries.items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        partial.replace(target)  # never leave a half-written package under the real name
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise PackageError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


# Command line ---------------------------------------------------------------------------------------------


def add_package_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `package [--out DIR]` to `python -m bot`'s sub-commands."""
    parser = commands.add_parser(
        "package",
        help="write the Teams app package (a zip to upload in the Teams admin centre) and exit",
        description="Build safespace-<version>.zip (manifest.json, color.png, outline.png) from appmanifest/ and "
        "the configuration: MicrosoftAppId, SAFESPACE_PUBLIC_HOSTNAME, SAFESPACE_WEBSITE_URL, "
        "SAFESPACE_PRIVACY_URL and SAFESPACE_TERMS_URL.",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT_DIR, metavar="DIR", help="folder to write the zip to (default: out)"
    )


def package_command(settings: PackageSettings, out_dir: Path) -> int:
    """Run `package`: print the zip's path and return 0, or print what to fix and return 2."""
    try:
        path = build_package(settings, out_dir)
    except PackageError as exc:
        print(f"safespace: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0
