"""The verification web page in headless Chromium (Debian's ``chromium`` + ``chromium-driver``),
driving the real page against the real ``aimark serve``: a labeled photo chosen with the file
input shows "compliant" and the producer code; a watermark-only photo dropped on the page shows
the case-3 notice. The page loads nothing from outside the server.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import PRODUCER
from .platform_media import make_uploads, running_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, str, dict[str, Path]]]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        raise RuntimeError(
            "the web page tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    uploads = make_uploads(tmp_path_factory.mktemp("web-uploads"))
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1100,1400"):
        opts.add_argument(arg)
    with running_server(tmp_path_factory.mktemp("web"), "web-token") as (base, _, _):
        driver = webdriver.Chrome(service=Service(DRIVER, log_output=subprocess.DEVNULL), options=opts)
        try:
            driver.get(base + "/")
            yield driver, base, uploads
        finally:
            driver.quit()


def _wait(driver: object, condition: object, timeout: float = 60) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(condition)  # type: ignore[arg-type]


def test_chosen_labeled_image_shows_compliant_and_the_producer(page: tuple[object, str, dict[str, Path]], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver, _, uploads = page
    driver.find_element(By.ID, "file").send_keys(str(uploads["labeled"]))  # type: ignore[attr-defined]
    _wait(driver, lambda d: d.find_element(By.ID, "verdict").text == "compliant")
    assert driver.find_element(By.ID, "producer").text == PRODUCER  # type: ignore[attr-defined]
    assert "Label 1" in driver.find_element(By.ID, "notice").text  # type: ignore[attr-defined]
    assert "matches the label" in driver.find_element(By.ID, "watermark").text  # type: ignore[attr-defined]
    assert driver.find_element(By.ID, "preview").is_displayed()  # type: ignore[attr-defined]
    driver.save_screenshot(str(tmp_path / "compliant.png"))  # type: ignore[attr-defined]


_DROP = """
const [b64, name, done] = arguments;
const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const dt = new DataTransfer();
dt.items.add(new File([bytes], name, { type: "image/jpeg" }));
document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
done(true);
"""


def test_dropped_watermark_only_image_shows_the_case3_notice(page: tuple[object, str, dict[str, Path]], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver, _, uploads = page
    data = base64.b64encode(uploads["watermark_only"].read_bytes()).decode()
    driver.execute_async_script(_DROP, data, "stripped.jpg")  # type: ignore[attr-defined]
    _wait(driver, lambda d: "疑似人工智能生成合成内容" in d.find_element(By.ID, "notice").text)
    assert driver.find_element(By.ID, "verdict").text == "not_found"  # type: ignore[attr-defined]
    assert "Suspected AI-generated content" in driver.find_element(By.ID, "notice-en").text  # type: ignore[attr-defined]
    assert "found" in driver.find_element(By.ID, "watermark").text  # type: ignore[attr-defined]
    assert "Label 3" in driver.find_element(By.ID, "notice").text  # type: ignore[attr-defined]
    driver.save_screenshot(str(tmp_path / "case3.png"))  # type: ignore[attr-defined]
    Path("/tmp/aimark-web-case3.png").write_bytes((tmp_path / "case3.png").read_bytes())


def test_the_page_has_no_external_assets(page: tuple[object, str, dict[str, Path]]) -> None:
    driver, base, _ = page
    urls = driver.execute_script(  # type: ignore[attr-defined]
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert all(u.startswith(base) or u.startswith("blob:") for u in urls), urls
    html = Path(__import__("aimark").__file__).with_name("data").joinpath("web", "index.html").read_text()
    assert "http://" not in html.replace("http://cv.iptc.org", "") and "https://" not in html
