"""The console in a real browser: `streamlit run app.py` served on 127.0.0.1, read by headless Chromium."""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import chat, write_jsonl
from tools.importer import Importer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def console(config, store, tmp_path):
    Importer(store, tmp_path / "r").ingest_file(write_jsonl(tmp_path / "p.jsonl", [chat("a"), chat("b"), chat("c")]))
    from state import decisions, rounds
    from state.decisions import Action, Node
    decisions.record_one(store, rounds.start_round(store, "t"), Node.INGEST, "file:p.jsonl", Action.INGEST,
                         "3 of 3 kept")
    port = free_port()
    env = {**os.environ, "ILOOP_HOME": str(config.home), "ILOOP_ASSETS": str(config.assets_path)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(Path(__file__).parents[1] / "app.py"),
                             "--server.headless", "true", "--server.port", str(port), "--server.address",
                             "127.0.0.1", "--browser.gatherUsageStats", "false"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_console_renders_in_chromium(console, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=1400,1000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        driver.get(console)
        WebDriverWait(driver, 60).until(lambda d: "instruct-loop console" in d.find_element(By.TAG_NAME, "body").text)
        WebDriverWait(driver, 30).until(lambda d: "conversations" in d.find_element(By.TAG_NAME, "body").text)
        body = driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(str(tmp_path / "console.png"))
    finally:
        driver.quit()
    assert "Rounds and metrics" in body and "Steering" in body
    assert "pool 3" in body  # the caption with counts by origin, read from the real store
    assert (tmp_path / "console.png").stat().st_size > 10_000
