"""The console in a real browser: `iloop console --port P` serving 127.0.0.1, read by Debian's headless Chromium.
Every page is loaded and its key texts asserted, a steering weight is saved through the Steering page, and each
page's screenshot is kept under test-artifacts/console/ (ILOOP_TEST_ARTIFACTS overrides) for a person to look at."""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import chat, write_jsonl
from tools.importer import Importer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("ILOOP_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))


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
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO domains (name, description, round_created) VALUES ('software', 'code', 1)"))
    port = free_port()
    env = {**os.environ, "ILOOP_ASSETS": str(config.assets_path)}
    iloop = str(Path(sys.executable).with_name("iloop"))
    proc = subprocess.Popen([iloop, "--home", str(config.home), "console", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    yield f"http://127.0.0.1:{port}", listening
    os.killpg(proc.pid, 15)
    proc.wait(timeout=10)


def test_every_page_renders_in_chromium_and_a_steering_edit_is_saved(console, store):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    url, listening = console
    local = {line.split()[3] for line in listening.splitlines() if line.strip()}  # the local address column
    assert local and all(a.startswith("127.0.0.1:") for a in local), listening  # loopback only, never *:PORT
    out = ARTIFACTS / "console"
    out.mkdir(parents=True, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={out.parent / 'chrome-profile'}", "--window-size=1400,1000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    body = lambda: driver.find_element(By.TAG_NAME, "body").text
    expect = {"": ["instruct-loop console", "start a new run", "pause after this node", "rounds of this thread"],
              "steering": ["Steering", "kind", "preview", "Nothing steered yet"],
              "rounds": ["Rounds", "Decisions", "Evolutions", "Leakage"],
              "data": ["Data", "conversations match", "Semantic map"],
              "taxonomy": ["Taxonomy", "No tags yet"]}
    try:
        for path, texts in expect.items():
            driver.get(f"{url}/{path}")
            try:
                WebDriverWait(driver, 60).until(lambda d: all(t in body() for t in texts))
            finally:  # kept also when a text is missing: the screenshot shows what the page showed instead
                driver.save_screenshot(str(out / f"{path or 'run'}.png"))
        # a steering edit through the page: the first domain, a note, save
        driver.get(f"{url}/steering")
        WebDriverWait(driver, 60).until(lambda d: "note (why)" in body())
        note = driver.find_element(By.CSS_SELECTOR, "input[aria-label='note (why)']")
        note.send_keys("more code, please", Keys.ENTER)
        time.sleep(1)
        next(b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == "save").click()
        WebDriverWait(driver, 60).until(lambda d: "saved domain:software" in body())
        driver.save_screenshot(str(out / "steering-saved.png"))
    finally:
        driver.quit()
    with store.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT kind, key, weight, set_by, note FROM steering")).one()
    assert tuple(row) == ("domain", "software", 1.0, "user", "more code, please")
    assert all((out / f"{p}.png").stat().st_size > 10_000 for p in ("run", "steering", "rounds", "data", "taxonomy"))
