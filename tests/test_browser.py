"""Browser check: the explorer notebook served by Voila on 127.0.0.1, driven in headless Debian
Chromium through Selenium and Debian's chromedriver (scripts/install_browser.sh; nothing is
downloaded). Picks a user, asserts the user's interest labels and the top-K list appear (the
list: K items, none the user trained on, test hits marked exactly), and saves a screenshot under
reports/browser/.

Skipped when chromium / chromedriver are missing, except under CI (``CI`` set), where it fails.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
K = 20
pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]


def _browser_paths() -> tuple[str, str]:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not chromium or not driver:
        msg = "headless Chromium and chromedriver not found (run scripts/install_browser.sh)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    """Wait until the server accepts connections (a request to / would start the notebook)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"voila did not listen on 127.0.0.1:{port} within {timeout} s")


@pytest.fixture()
def voila_url(tmp_path):
    env = {**os.environ, "CIKGWB_REPORTS_DIR": str(tmp_path / "reports"), "CIKGWB_DATA_DIR": str(tmp_path / "data"),
           "CIKGWB_ROOT": str(REPO), "OMP_NUM_THREADS": "1"}
    port = _free_port()
    log = open(tmp_path / "voila.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(REPO / "notebooks" / "explorer.ipynb"), "--no-browser",
         f"--port={port}", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0",
         "--VoilaConfiguration.show_tracebacks=True", "--VoilaExecutor.timeout=300"],
        cwd=str(REPO / "notebooks"), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, proc, 90)
        yield f"http://127.0.0.1:{port}/", env, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _driver(chromium: str, driver_path: str, profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,2200"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)


def test_explorer_shows_a_users_interests_and_top_k(voila_url):
    chromium, driver_path = _browser_paths()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    url, env, tmp = voila_url
    from cikgwb.data import load_dataset
    from cikgwb.inspect_graph import interest_label, user_interests

    ds = load_dataset("synthetic", data_dir=tmp / "data")
    n_int = [len(user_interests(ds, u)) for u in range(ds.n_users)]

    profile = tempfile.mkdtemp(prefix="cikgwb-chromium-")
    drv = _driver(chromium, driver_path, profile)
    try:
        drv.get(url)
        wait = WebDriverWait(drv, 300)
        first = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".cikgwb-user[data-user]")))
        # the user shown first has a test hit in their top-K (UserExplorer.default_user): marked and right
        u0 = int(first.get_attribute("data-user"))
        test0 = set(ds.user_items("test")[u0].tolist())
        marks = {int(e.get_attribute("data-item")): e.get_attribute("data-hit")
                 for e in drv.find_elements(By.CSS_SELECTOR, ".cikgwb-topk li")}
        assert "1" in marks.values(), f"user {u0}: no test hit marked in the first list"
        assert all((m == "1") == (i in test0) for i, m in marks.items())

        user = next(u for u in range(50, ds.n_users) if n_int[u] >= 2 and u != u0)
        want_labels = {interest_label(ds, int(j)) for j in user_interests(ds, user)}
        seen = set(ds.user_items("train_full")[user].tolist())
        test = set(ds.user_items("test")[user].tolist())
        box = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, ".cikgwb-user-input input")))
        box.clear()
        box.send_keys(str(user))
        box.send_keys(Keys.ENTER)
        drv.find_element(By.CSS_SELECTOR, ".cikgwb-show button, button.cikgwb-show").click()
        WebDriverWait(drv, 60).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, f'.cikgwb-user[data-user="{user}"]')))

        labels = {e.text.strip() for e in drv.find_elements(By.CSS_SELECTOR, ".cikgwb-interests .cikgwb-interest-label")}
        assert labels == want_labels, f"interest labels shown {labels}, expected {want_labels}"
        items = drv.find_elements(By.CSS_SELECTOR, ".cikgwb-topk li")
        assert len(items) == K, f"expected a top-{K} list, got {len(items)} items"
        ids = [int(e.get_attribute("data-item")) for e in items]
        assert len(set(ids)) == K and not set(ids) & seen, "the top-K repeats an item or holds a training item"
        for e, i in zip(items, ids):
            assert e.get_attribute("data-hit") == str(int(i in test)), f"item {i}: test hit marked wrongly"
        assert drv.find_element(By.CSS_SELECTOR, ".cikgwb-titles li").text.strip()

        out = REPO / "reports" / "browser"
        out.mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(out / "explorer.png"))
        assert (out / "explorer.png").stat().st_size > 10_000
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)
