"""The Teams app package: `python -m bot package` writes a zip Teams accepts, whose commands the bot understands.

* the manifest validates against Microsoft's official schema (ajv under Node, tests/manifestcheck);
* the icons are what Teams asks for (parsed here in pure Python: no imaging library);
* every command offered in each scope, sent as Teams sends it, gets a real answer from the real bot;
* the zip holds manifest.json and the two icons at its root;
* missing or malformed configuration is refused with a message naming the setting (exit status 2).
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot import __version__
from bot.commands.package import APPMANIFEST_DIR, TEMPLATE_NAME, PackageError, build_manifest, build_package
from content.texts import Texts
from tests.conftest import Rig
from tests.manifest_validator import assert_valid_manifest, validate_manifest
from tests.rig.safeguarding import CHANNEL_ID, TEAM_ID, member, services
from tests.rig.teams import Chat

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "6c1e2a4b-8f3d-4e5a-9b7c-0d1e2f3a4b5c"


@dataclass(frozen=True)
class Config:
    """What bot.commands.package reads from bot.config.Settings."""

    app_id: str = APP_ID
    public_hostname: str = "safespace.qualitrain.example"
    website_url: str = "https://www.qualitrain.example/safe-space"
    privacy_url: str = "https://www.qualitrain.example/privacy"
    terms_url: str = "https://www.qualitrain.example/terms"


CONFIG = Config()


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return build_package(CONFIG, tmp_path / "out")


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


# The manifest ---------------------------------------------------------------------------------------------


def test_the_package_manifest_validates_against_the_official_schema(package: Path) -> None:
    manifest_bytes = read_zip(package)["manifest.json"]
    result = assert_valid_manifest(manifest_bytes)

    manifest = json.loads(manifest_bytes)
    version = tuple(int(part) for part in manifest["manifestVersion"].split("."))
    assert version >= (1, 19)
    assert result.schema == f"teams/v{manifest['manifestVersion']}"
    assert manifest["$schema"].endswith(f"/teams/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json")


def test_the_validator_really_rejects_what_teams_would() -> None:
    """Guards the test above from passing vacuously: a broken manifest must fail, naming what is wrong."""
    manifest = build_manifest(CONFIG)
    manifest["accentColor"] = "teal"
    del manifest["developer"]["privacyUrl"]
    manifest["bots"][0]["scopes"].append("everywhere")

    result = validate_manifest(manifest)

    assert not result.ok
    errors = "\n".join(result.errors)
    assert "/accentColor" in errors
    assert "privacyUrl" in errors
    assert "/bots/0/scopes/3" in errors


def test_the_manifest_is_filled_in_from_the_configuration() -> None:
    manifest = build_manifest(CONFIG)

    assert manifest["id"] == APP_ID
    assert manifest["version"] == __version__
    assert manifest["developer"] == {
        "name": "Qualitrain",
        "websiteUrl": CONFIG.website_url,
        "privacyUrl": CONFIG.privacy_url,
        "termsOfUseUrl": CONFIG.terms_url,
    }
    assert manifest["validDomains"] == [CONFIG.public_hostname]
    assert manifest["webApplicationInfo"] == {"id": APP_ID, "resource": f"api://botid-{APP_ID}"}
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    assert "{{" not in json.dumps(manifest)


def test_the_descriptions_say_plainly_what_happens_to_what_people_write() -> None:
    description = build_manifest(CONFIG)["description"]
    full = description["full"]

    assert "not secret" in description["short"]
    assert "kept in Qualitrain's records" in full
    assert "Designated Safeguarding Officer" in full and "deputy" in full
    assert "share it with other services" in full
    assert "never keeps secrets" in full
    assert "999" in full


def commands_by_scope() -> dict[str, list[str]]:
    template = json.loads((APPMANIFEST_DIR / TEMPLATE_NAME).read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for command_list in template["bots"][0]["commandLists"]:
        for scope in command_list["scopes"]:
            found.setdefault(scope, []).extend(command["title"] for command in command_list["commands"])
    return found


def test_every_scope_has_its_commands() -> None:
    commands = commands_by_scope()

    assert commands["personal"] == ["report", "online safety", "quiz", "who can I talk to", "my reports", "help"]
    assert commands["team"] == ["register safeguarding channel", "start quiz", "end quiz", "help"]
    assert commands["groupChat"] == ["start quiz", "end quiz", "register safeguarding channel", "help"]


# The commands: each one, sent the way Teams sends a command picked from the list, gets a real answer -------


COMMANDS = [(scope, title) for scope, titles in commands_by_scope().items() for title in titles]


def conversation_for(rig: Rig, scope: str, title: str) -> Chat:
    cast = rig.cast
    if scope == "personal":
        return rig.personal(cast.learner)
    # Staff commands are tried by the people they are for; "help" by a learner, who may use it anywhere.
    person = {"start quiz": cast.trainer, "end quiz": cast.trainer, "register safeguarding channel": cast.dso}.get(
        title, cast.learner
    )
    if scope == "groupChat":
        return rig.group_chat(person)
    rig.connector.set_members(TEAM_ID, [member(p) for p in (cast.dso, cast.deputy, cast.director)], CHANNEL_ID)
    return rig.channel(person, team_id=TEAM_ID, channel_id=CHANNEL_ID)


@pytest.mark.parametrize(("scope", "title"), COMMANDS, ids=[f"{scope}:{title}" for scope, title in COMMANDS])
async def test_the_bot_understands_each_command_in_its_scope(rig: Rig, scope: str, title: str) -> None:
    fallback = Texts.load(services(rig).settings.content_dir).get("fallback.unknown")
    chat = conversation_for(rig, scope, title)

    assert await chat.say(title) in (200, 201, 202)
    await chat.replies(1)

    said = [sent.text for sent in chat.replies_so_far() if sent.text]
    assert fallback not in said, f"{title!r} in {scope} got the fallback: {said}"


# Icons ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    colour_type: int  # 2 RGB, 6 RGBA
    pixels: list[tuple[int, int, int, int]]  # RGBA, row by row; alpha 255 for RGB images

    def at(self, x: int, y: int) -> tuple[int, int, int, int]:
        return self.pixels[y * self.width + x]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data: bytes) -> Png:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG, checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r} chunk"
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, (
        f"expected an 8-bit RGB/RGBA non-interlaced PNG, got depth {depth}, colour type {colour_type}, "
        f"interlace {interlace}: redraw it with scripts/draw_icons.py"
    )
    channels = 4 if colour_type == 6 else 3
    stride = width * channels
    raw = zlib.decompress(idat)
    assert len(raw) == height * (stride + 1), "image data has the wrong length"
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int, int]] = []
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            predictor = (0, left, up, (left + up) // 2, _paeth(left, up, upper_left))[kind]
            line[i] = (line[i] + predictor) & 0xFF
        for x in range(width):
            px = line[x * channels : (x + 1) * channels]
            pixels.append((px[0], px[1], px[2], px[3] if channels == 4 else 255))
        previous = line
    return Png(width, height, colour_type, pixels)


def test_the_colour_icon_is_192_square_with_the_symbol_inside_teams_padding(package: Path) -> None:
    icon = read_png(read_zip(package)["color.png"])

    assert (icon.width, icon.height) == (192, 192)
    background = icon.at(0, 0)
    # A solid, fully opaque square background (Teams rounds the corners itself) ...
    assert background[3] == 255
    assert {icon.at(x, y) for x in (0, 191) for y in (0, 191)} == {background}
    # ... the symbol inside the middle 96x96, leaving the 48 px Teams may crop away (to a hexagon for bots) ...
    outside = [(x, y) for y in range(192) for x in range(192) if not (48 <= x < 144 and 48 <= y < 144)]
    assert all(icon.at(x, y) == background for x, y in outside)
    # ... and a real drawing, not an empty square, in the manifest's accent colour.
    assert len(set(icon.pixels)) > 50
    accent = build_manifest(CONFIG)["accentColor"]
    assert accent.lower() == "#{:02x}{:02x}{:02x}".format(*background[:3])


def test_the_outline_icon_is_32_square_white_on_transparent(package: Path) -> None:
    icon = read_png(read_zip(package)["outline.png"])

    assert (icon.width, icon.height) == (32, 32)
    assert icon.colour_type == 6, "the outline icon needs an alpha channel"
    drawn = [p for p in icon.pixels if p[3] > 0]
    assert all(p[:3] == (255, 255, 255) for p in drawn), "only white may be drawn on the outline icon"
    alphas = {p[3] for p in icon.pixels}
    assert 0 in alphas and 255 in alphas, "needs fully transparent background and solid white strokes"
    assert 0.15 < len(drawn) / len(icon.pixels) < 0.7, "an outline, not an empty or filled square"
    # No padding around the symbol: it reaches the top and bottom edges.
    rows = [y for y in range(32) if any(icon.at(x, y)[3] >= 128 for x in range(32))]
    assert rows[0] <= 1 and rows[-1] >= 30


# The zip --------------------------------------------------------------------------------------------------


def test_the_zip_holds_the_manifest_and_icons_at_its_root(package: Path) -> None:
    assert package.name == f"safespace-{__version__}.zip"
    entries = read_zip(package)

    assert set(entries) == {"manifest.json", "color.png", "outline.png"}
    for icon in ("color.png", "outline.png"):
        assert entries[icon] == (APPMANIFEST_DIR / icon).read_bytes()
    manifest_bytes = entries["manifest.json"]
    assert not manifest_bytes.startswith(b"\xef\xbb\xbf"), "manifest.json must be UTF-8 without a byte-order mark"
    manifest = json.loads(manifest_bytes.decode("utf-8"))
    assert set(manifest["icons"].values()) == {"color.png", "outline.png"}
    assert manifest == build_manifest(CONFIG)
    assert [p.name for p in package.parent.iterdir()] == [package.name], "no partial files left behind"


def test_building_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    first = build_package(CONFIG, tmp_path / "a").read_bytes()
    second = build_package(CONFIG, tmp_path / "b").read_bytes()

    assert first == second


# Refusals -------------------------------------------------------------------------------------------------


def test_no_app_id_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"MicrosoftAppId is not set") as refused:
        build_package(replace(CONFIG, app_id=""), tmp_path / "out")

    assert "Azure Bot's app id" in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_every_missing_setting_is_named_at_once() -> None:
    with pytest.raises(PackageError) as refused:
        build_manifest(Config(app_id="", public_hostname="", website_url="", privacy_url="", terms_url=""))

    message = str(refused.value)
    for name in (
        "MicrosoftAppId",
        "SAFESPACE_PUBLIC_HOSTNAME",
        "SAFESPACE_WEBSITE_URL",
        "SAFESPACE_PRIVACY_URL",
        "SAFESPACE_TERMS_URL",
    ):
        assert f"{name} is not set" in message


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"app_id": "safe-space-bot"}, r"MicrosoftAppId 'safe-space-bot' is not a GUID"),
        ({"public_hostname": "https://safespace.qualitrain.example/"}, r"SAFESPACE_PUBLIC_HOSTNAME .* is not a host"),
        ({"public_hostname": "localhost"}, r"SAFESPACE_PUBLIC_HOSTNAME 'localhost' is not a host name"),
        ({"privacy_url": "http://www.qualitrain.example/privacy"}, r"SAFESPACE_PRIVACY_URL .* is not an https://"),
        ({"terms_url": "www.qualitrain.example/terms"}, r"SAFESPACE_TERMS_URL .* is not an https://"),
    ],
)
def test_malformed_settings_are_refused(change: dict[str, str], complaint: str) -> None:
    with pytest.raises(PackageError, match=complaint):
        build_manifest(replace(CONFIG, **change))


def test_an_unknown_placeholder_in_the_template_is_refused(tmp_path: Path) -> None:
    template = json.loads((APPMANIFEST_DIR / TEMPLATE_NAME).read_text(encoding="utf-8"))
    template["developer"]["mpnId"] = "{{MPN_ID}}"
    (tmp_path / TEMPLATE_NAME).write_text(json.dumps(template), encoding="utf-8")

    with pytest.raises(PackageError, match=r"\{\{MPN_ID\}\}"):
        build_manifest(CONFIG, tmp_path)


# `python -m bot package`, as an admin runs it --------------------------------------------------------------


def run_cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ...` with only the given settings: none inherited from this environment or a .env file."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not re.match(r"(?i)^(microsoftapp|safespace_|database_url$|host$|port$)", key)
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,  # a folder with no .env in it
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def cli_env(config: Config) -> dict[str, str]:
    return {
        "MicrosoftAppId": config.app_id,
        "SAFESPACE_PUBLIC_HOSTNAME": config.public_hostname,
        "SAFESPACE_WEBSITE_URL": config.website_url,
        "SAFESPACE_PRIVACY_URL": config.privacy_url,
        "SAFESPACE_TERMS_URL": config.terms_url,
    }


def test_the_package_command_writes_a_valid_package(tmp_path: Path) -> None:
    done = run_cli(["package", "--out", str(tmp_path / "out")], tmp_path, **cli_env(CONFIG))

    assert done.returncode == 0, done.stderr
    written = tmp_path / "out" / f"safespace-{__version__}.zip"
    assert done.stdout.strip() == str(written)
    entries = read_zip(written)
    assert set(entries) == {"manifest.json", "color.png", "outline.png"}
    assert json.loads(entries["manifest.json"]) == build_manifest(CONFIG)
    assert_valid_manifest(entries["manifest.json"])


def test_the_package_command_refuses_without_an_app_id(tmp_path: Path) -> None:
    done = run_cli(["package", "--out", str(tmp_path / "out")], tmp_path, **cli_env(replace(CONFIG, app_id="")))

    assert done.returncode == 2
    assert "MicrosoftAppId is not set" in done.stderr
    assert not (tmp_path / "out").exists()


def test_the_package_command_defaults_to_an_out_folder(tmp_path: Path) -> None:
    done = run_cli(["package"], tmp_path, **cli_env(CONFIG))

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / f"safespace-{__version__}.zip").is_file()
