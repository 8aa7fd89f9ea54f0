"""Take docs/teach.png: the page of ``jsim teach`` on scenarios/teaching/checkout_vs_ads.toml in headless Chromium.

Setting A (pinned): 40 EUR/day more for search ads; setting B: the checkout failures halved;
a prediction entered and revealed, and three runs of the stochastic engine.

    PYTHONPATH=. python experiments/teach_screenshot.py [OUT.png]
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main(out: Path) -> None:
    import uvicorn
    from browser import chromium_path
    from playwright.sync_api import sync_playwright

    from jsim.teach import TeachSession, create_app

    session = TeachSession(ROOT / "scenarios" / "teaching" / "checkout_vs_ads.toml")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(create_app(session), log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"

    def move(page, slider: str, value) -> None:
        n = page.evaluate("window.jsimTeach.redraws.length")
        page.evaluate(
            "([id, v]) => { const el = document.getElementById(id); el.value = v; "
            "el.dispatchEvent(new Event('input')); }",
            [slider, str(value)],
        )
        page.wait_for_function(f"window.jsimTeach.redraws.length > {n}")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1050})
        page.goto(url)
        page.wait_for_function("window.jsimTeach && window.jsimTeach.redraws.length > 0")
        move(page, "slider-0", 100)
        page.click("#pin")
        move(page, "slider-0", 60)
        move(page, "slider-1", 0.1)
        page.fill("#prediction", "700")
        page.click("#reveal")
        page.wait_for_function("window.jsimTeach.day === 60", timeout=60_000)
        page.fill("#reps", "3")
        page.click("#noise")
        page.wait_for_function("window.jsimTeach.noise !== null", timeout=120_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    server.should_exit = True
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "teach.png")
