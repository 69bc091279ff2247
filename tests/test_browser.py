"""Browser check: the explorer served as the README says (``scripts/explorer.sh``: Voila on
127.0.0.1 from the repository root, reading ./voila.json and the repository's page template),
driven in headless Debian Chromium through Selenium and Debian's chromedriver
(scripts/install_browser.sh; nothing is downloaded).

It opens the README's URL (``http://127.0.0.1:8866/?run=...&user=...&k=...`` on the test's port):
its run when the repository has that run's artefact (book-crossing CIKGRec, user 2362, the paper's
Figure 4 user), else a 3-epoch synthetic run made here, at the same URL with that run and a user
of it. On that page it asserts (issue 36 items 1-6): the user's interest labels, the top-K list
(the run's stored list: K items, none the user trained on, test hits marked exactly, scores and
item ids shown), the neighbours who share each interest, the missed test items (the
``MAX_MISSED`` ranked highest), the User box showing the user, which set the training count
counts; another user picked through the box; a run without an artefact picked in the list says
why and clears the previous run's status line; every request the page makes goes to the test's
server (no CDN) and the console holds no error (no extension that does not belong in Voila);
leaving the page shuts its kernel down (the shutdown beacon is not refused). Then ``?run=`` of
an unknown run shows one line and opens none, and the bare URL opens the best real run
(:func:`cikgwb.widgets.explorer_preference`). Saves a screenshot (``$CIKGWB_SCREENSHOT`` or the
test's tmp folder).

Skipped when chromium / chromedriver are missing, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import json
import os
import re
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
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


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


def readme_url() -> tuple[str, str, dict[str, str]]:
    """The explorer URL the README tells a user to open: ``(url, run, query)``."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## The explorer") :]
    m = re.search(r"`(http://127\.0\.0\.1:8866/\?([^`\s]+))`", section)
    assert m, "the README's explorer section gives no http://127.0.0.1:8866/?run=... URL"
    query = dict(kv.split("=", 1) for kv in m.group(2).split("&"))
    assert "run" in query, f"the README's explorer URL names no run: {m.group(1)}"
    return m.group(1), query["run"], query


def _artefact_run(tmp_path: Path, name: str) -> tuple[Path, dict[str, str]]:
    """The run the README's URL names when the repository has its artefact, else a 3-epoch
    synthetic CIKGRec run trained here with its artefact made by ``cikgwb artefact`` (seconds)."""
    committed = REPO / "reports" / "runs" / name
    if (committed / "explorer.npz").is_file():
        return committed, {}
    reports = tmp_path / "reports"
    env = {
        **os.environ,
        "CIKGWB_REPORTS_DIR": str(reports),
        "CIKGWB_DATA_DIR": str(tmp_path / "data"),
        "CIKGWB_CHECKPOINT_DIR": str(tmp_path / "ck"),
        "OMP_NUM_THREADS": "1",
    }
    name = "synthetic-cikgrec-valid-s0"  # cikgwb train adds the seed to --name
    # both commands in one interpreter (torch imported once): `cikgwb train` then `cikgwb artefact`
    code = (
        "import sys; from cikgwb.cli import main; "
        f"rc = main(['train', '--dataset', 'synthetic', '--name', {name[:-3]!r}, '--seeds', '0', "
        "'--set', 'max_epochs=3', '--quiet']); "
        f"sys.exit(rc or main(['artefact', {str(reports / 'runs' / name)!r}]))"
    )
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240, check=False)
    assert r.returncode == 0, f"cikgwb train / artefact failed: {r.stdout[-2000:]} {r.stderr[-2000:]}"
    return reports / "runs" / name, {"CIKGWB_REPORTS_DIR": str(reports)}


@pytest.fixture()
def voila_url(tmp_path):
    url, name, _ = readme_url()
    run, extra = _artefact_run(tmp_path, name)
    env = {**os.environ, "CIKGWB_ROOT": str(REPO), "OMP_NUM_THREADS": "1", **extra}
    voila = Path(sys.executable).parent / "voila"
    if voila.exists():
        env["VOILA"] = str(voila)
    port = _free_port()
    log_path = tmp_path / "voila.log"
    log = open(log_path, "w")
    # the README's command, from the repository root: voila reads ./voila.json, the script adds the template
    proc = subprocess.Popen(
        ["bash", "scripts/explorer.sh", f"--port={port}", "--Voila.port_retries=0", "--VoilaExecutor.timeout=120"],
        cwd=str(REPO),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_port(port, proc, 60)
        yield port, url.replace(":8866/", f":{port}/"), run, log_path, extra
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
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,2200",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)


def _leave_and_check_shutdown(drv, log_path: Path, port: int) -> None:
    """The page's own requests went to the test's server only and its console holds no error;
    leaving it shuts its kernel down (Voila's shutdown beacon, not refused)."""
    kid = drv.execute_script("return JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
    urls = set()
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.add(msg["params"]["request"]["url"])
    outside = sorted(u for u in urls if u.startswith(("http:", "https:", "ws:")) and f"127.0.0.1:{port}/" not in u)
    assert not outside, f"the page fetched from outside the machine: {outside}"
    console = drv.get_log("browser")
    bad = [e["message"][:300] for e in console if e["level"] == "SEVERE" or "Failed to create module" in e["message"]]
    assert not bad, f"console errors: {bad}"
    drv.get("about:blank")
    t0 = time.time()
    while f"Kernel shutdown: {kid}" not in log_path.read_text() and time.time() - t0 < 30:
        time.sleep(0.5)
    text = log_path.read_text()
    assert f"Kernel shutdown: {kid}" in text, "leaving the page did not shut its kernel down"
    assert f"403 POST /voila/api/shutdown/{kid}" not in text


def test_explorer_at_the_readme_url_shows_a_run_and_shuts_its_kernel_when_left(voila_url, tmp_path):
    chromium, driver_path = _browser_paths()
    import pandas as pd
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from cikgwb.run_artefact import find_artefacts, load_artefact
    from cikgwb.runs import find_run
    from cikgwb.widgets import MAX_MISSED, explorer_preference

    port, url, run, log_path, extra = voila_url
    _, name, query = readme_url()
    a = load_artefact(run)
    n_int = [len(a.interests(u)) for u in range(a.n_users)]
    if run.name == name:
        user = int(query["user"])
    else:  # the synthetic run: the README's URL with this run and a user with >= 2 interests and test items
        user = next(u for u in range(10, a.n_users) if n_int[u] >= 2 and len(a.test(u)))
        url = url.replace(f"run={name}", f"run={run.name}").replace(f"user={query['user']}", f"user={user}")

    def check(u: int) -> None:
        labels = [
            e.text.strip() for e in drv.find_elements(By.CSS_SELECTOR, ".cikgwb-interests .cikgwb-interest-label")
        ]
        assert labels == [a.labels[int(j)] for j in a.interests(u)], f"user {u}: interest labels shown {labels}"
        assert all(not x.startswith("(no text label") for x in labels)
        items = drv.find_elements(By.CSS_SELECTOR, ".cikgwb-topk li")
        assert len(items) == K, f"expected a top-{K} list, got {len(items)} items"
        ids = [int(e.get_attribute("data-item")) for e in items]
        assert ids == a.top(u, K)[0].tolist(), "the top-K shown is not the run's stored list"
        assert not set(ids) & set(a.train(u).tolist()), "the top-K holds a training item"
        test = set(a.test(u).tolist())
        for e, i in zip(items, ids):
            assert e.get_attribute("data-hit") == str(int(i in test)), f"item {i}: test hit marked wrongly"
            assert e.is_displayed() and f"item {i}" in e.text and e.get_attribute("data-score")
        nbs = drv.find_elements(By.CSS_SELECTOR, ".cikgwb-interest-neighbours")
        assert nbs and all(e.is_displayed() for e in nbs) and any(e.text.strip()[:1].isdigit() for e in nbs)
        rows = drv.find_elements(By.CSS_SELECTOR, ".cikgwb-neighbours tr[data-user]")
        assert rows and rows[0].is_displayed()
        # the missed test items: the MAX_MISSED ranked highest (masked ones last), the rest counted
        ranks = dict(zip(a.test(u).tolist(), a.test_ranks(u).tolist()))
        missed = test - set(ids)
        shown = [int(e.get_attribute("data-item")) for e in drv.find_elements(By.CSS_SELECTOR, ".cikgwb-missed li")]
        key = [(ranks[i] == 0, ranks[i]) for i in shown]
        assert set(shown) <= missed and len(shown) == min(MAX_MISSED, len(missed)) and key == sorted(key)
        assert all(key[-1] <= (ranks[i] == 0, ranks[i]) for i in missed - set(shown)) if shown else not missed
        total = drv.find_element(By.CSS_SELECTOR, ".cikgwb-missed").get_attribute("data-total")
        assert total == str(len(missed))
        counts = drv.find_element(By.CSS_SELECTOR, ".cikgwb-counts").text
        assert f"{len(a.train(u))} items in train.txt" in counts, counts
        box = drv.find_element(By.CSS_SELECTOR, ".cikgwb-user-input input")
        assert box.get_attribute("value") == str(u), "the User box does not show the user shown"

    profile = tempfile.mkdtemp(prefix="cikgwb-chromium-")
    drv = _driver(chromium, driver_path, profile)
    wait = WebDriverWait(drv, 120)
    try:
        t0 = time.time()
        drv.get(url)  # the README's URL: the server's root, the run and user in the query
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'.cikgwb-user[data-user="{user}"]')))
        opened = time.time() - t0
        assert run.name in drv.find_element(By.CSS_SELECTOR, ".cikgwb-run").get_attribute("data-run")
        check(user)
        # pick another user in the box
        other = next(u for u in range(a.n_users) if u != user and n_int[u] >= 1 and len(a.test(u)))
        box = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, ".cikgwb-user-input input")))
        box.clear()
        box.send_keys(str(other))
        box.send_keys(Keys.ENTER)
        drv.find_element(By.CSS_SELECTOR, ".cikgwb-show button, button.cikgwb-show").click()
        WebDriverWait(drv, 60).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, f'.cikgwb-user[data-user="{other}"]'))
        )
        check(other)
        shot = Path(os.environ.get("CIKGWB_SCREENSHOT") or tmp_path / "explorer.png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        # an id out of range: one error line, gone when another run is picked
        box.clear()
        box.send_keys(str(a.n_users + 3))
        box.send_keys(Keys.ENTER)
        WebDriverWait(drv, 60).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".cikgwb-error")))
        select = Select(drv.find_element(By.CSS_SELECTOR, ".cikgwb-run-pick select"))
        bare = [n for n, o in enumerate(select.options) if "(no artefact" in o.text]
        if bare:  # the list says which runs have no artefact; opening one says why
            select.select_by_index(bare[0])
            WebDriverWait(drv, 60).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".cikgwb-missing")))
            assert "cikgwb artefact" in drv.find_element(By.CSS_SELECTOR, ".cikgwb-missing").text
            assert not drv.find_elements(By.CSS_SELECTOR, ".cikgwb-error, .cikgwb-user")
        _leave_and_check_shutdown(drv, log_path, port)
        print(f"explorer opened {run.name} user {user} in {opened:.1f} s")

        # an unknown run: one visible line, no run opened
        drv.get(f"http://127.0.0.1:{port}/?run=no-such-run&user={user}")
        line = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".cikgwb-notfound")))
        assert "no-such-run not found" in line.text
        time.sleep(1)  # nothing rendered after the line (the old page cleared it and opened the demo)
        assert drv.find_element(By.CSS_SELECTOR, ".cikgwb-notfound").is_displayed()
        assert not drv.find_elements(By.CSS_SELECTOR, ".cikgwb-run, .cikgwb-user")
        _leave_and_check_shutdown(drv, log_path, port)

        # no query: the best real run present
        roots = [Path(extra["CIKGWB_REPORTS_DIR"]) / "runs"] if extra else []
        listed = find_artefacts([*roots, REPO / "reports" / "runs"])
        best = find_run(pd.DataFrame(listed), prefer=explorer_preference(None))
        assert best["real"] or not any(r["real"] and r["artefact"] for r in listed)
        drv.get(f"http://127.0.0.1:{port}/")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".cikgwb-run")))
        assert (
            drv.find_element(By.CSS_SELECTOR, ".cikgwb-run").get_attribute("data-run")
            == load_artefact(best["path"]).meta["run"]
        )
        _leave_and_check_shutdown(drv, log_path, port)
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert "Culling kernels with idle durations > 300 seconds" in log_path.read_text(), (
        "voila did not read voila.json: idle kernels would never be culled"
    )
