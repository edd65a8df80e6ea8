"""The package as deployed: the wheel built from the sources, installed (not editable) into a virtualenv
that cannot see the checkout, starts and greets a teacher. So whatever the bot reads at run time
(catalogues, crisis rules, content, migrations) is in the wheel, and is found in site-packages."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import TEST_HMAC, TEST_KEYS

ROOT = Path(__file__).resolve().parent.parent
# What the Dockerfile's build stage copies: enough to build the wheel, nothing else.
SOURCES = ["pyproject.toml", "README.md", "bot", "handlers", "storage", "locales"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv with the wheel installed and the test run's dependencies visible."""
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources it builds.
    source = work / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(work / "dist"), str(source)], check=True)
    (wheel,) = (work / "dist").glob("demeu-*.whl")

    environment = work / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], check=True
    )
    # The dependencies come from this run's environment (installed from the lock in CI), as plain
    # paths after the venv's own: the editable install of the checkout there (a .pth) is not processed,
    # and the venv's copy of the project comes first anyway.
    (purelib,) = (environment / "lib").glob("python*/site-packages")
    (purelib / "test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def clean_environment(**settings: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DEMEU_", "PYTHON", "BOT_"))}
    return {**environ, **settings}


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    # Found, not imported: importing aiogram alone takes seconds.
    where = "from importlib.util import find_spec; print(*(find_spec(p).origin for p in ('bot', 'handlers', 'storage')))"
    shown = subprocess.run(
        [str(installed), "-c", where],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    environment = installed.parent.parent
    for module_file in shown.stdout.split():
        assert Path(module_file).is_relative_to(environment), shown.stdout


async def test_the_installed_wheel_answers_start_with_the_language_screen(installed, fake_api, tmp_path):
    env = clean_environment(
        BOT_TOKEN=fake_api.token,
        DEMEU_TELEGRAM_API_SERVER=fake_api.base_url,
        DEMEU_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'data' / 'demeu.db'}",
        DEMEU_ENCRYPTION_KEYS=",".join(TEST_KEYS),
        DEMEU_HMAC_KEY=TEST_HMAC,
        DEMEU_BOT_DATA_DIR=str(tmp_path / "data"),
    )
    log_path = tmp_path / "bot.log"
    with log_path.open("w") as log:
        # From an empty folder: `python -m` puts the working directory first on sys.path.
        process = subprocess.Popen(
            [str(installed), "-m", "bot"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        # A few seconds on an idle machine; the ceiling is for a loaded one (importing aiogram is CPU-bound).
        deadline = asyncio.get_running_loop().time() + 120
        while not any(call.method == "getUpdates" for call in fake_api.calls):
            assert process.poll() is None, "the bot exited at start:\n" + log_path.read_text()[-3000:]
            assert asyncio.get_running_loop().time() < deadline, (
                "never polled:\n" + log_path.read_text()[-3000:]
            )
            await asyncio.sleep(0.1)

        # The shipped bot reports nothing to the fake server: wait for the reply itself.
        teacher = fake_api.user(user_id=880_101, language_code="ru")
        message = fake_api.store_message(
            teacher.id,
            teacher.as_user,
            kind="text",
            text="/start",
            entities=[{"type": "bot_command", "offset": 0, "length": 6}],
        )
        fake_api.feed({"message": message.to_api()})
        deadline = asyncio.get_running_loop().time() + 60
        while not any("Выберите язык" in (m.text or "") for m in teacher.messages):
            assert asyncio.get_running_loop().time() < deadline, (
                "no language screen:\n" + log_path.read_text()[-3000:]
            )
            await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log_path.read_text()[-3000:]
