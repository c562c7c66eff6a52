"""The page at `/` in a real headless browser (Debian's chromium through Selenium): a real photo is
uploaded, the overlay appears beside it with the legend, and a refused file shows the server's message."""
import os
import shutil
import time

import cv2
import numpy as np
import pytest
import requests

from paddleseg_liteseg.image_files import read_image

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        message = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)  # .ci/run installs them: CI must not skip this test
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1200",
                     "--force-device-scale-factor=1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(condition, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("the page did not get there in time")


def test_the_page_segments_a_dropped_photo_and_shows_refusals(browser, start_server, exported, photo, tmp_path):
    from selenium.webdriver.common.by import By

    from paddleseg_liteseg.predictor import Predictor

    server = start_server("--api_key", "page-key")
    class_names = server.wait_ready()["result"]["classNames"]
    browser.get(server.url + "/")
    upload = browser.find_element(By.ID, "file")

    upload.send_keys(photo)
    refusal = wait_for(lambda: browser.find_element(By.ID, "error").text)
    assert "API key" in refusal  # the key is required and was not typed yet

    browser.find_element(By.ID, "key").send_keys("page-key")
    upload.send_keys(photo)
    overlay = wait_for(lambda: (lambda element: element.is_displayed() and element)(browser.find_element(By.ID, "overlay")))
    legend = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#legend li"))
    names = [item.text.split(":")[0] for item in legend]
    assert set(names) <= set(class_names) and names
    shares = [float(item.text.split(":")[1].strip().rstrip("%")) for item in legend]
    assert sum(shares) == pytest.approx(100, abs=0.5)
    assert "model" in browser.find_element(By.ID, "status").text and browser.find_element(By.ID, "error").text == ""

    shown = cv2.imdecode(np.frombuffer(overlay.screenshot_as_png, np.uint8), cv2.IMREAD_COLOR)[1:-1, 1:-1]  # no border
    predictor = Predictor(exported)  # the runtime the server chose on this CPU
    image = read_image(photo)
    expected = predictor.overlay(image, predictor.predict(image))
    assert shown.shape[:2] == image.shape[:2]
    assert np.abs(shown.astype(int) - expected).mean() < 8  # the overlay as drawn, up to JPEG loss
    assert np.abs(shown.astype(int) - image).mean() > 8  # and not the photo itself

    not_an_image = tmp_path / "notes.png"
    not_an_image.write_bytes(b"these are notes, not a picture")
    upload.send_keys(str(not_an_image))
    message = wait_for(lambda: browser.find_element(By.ID, "error").text)
    assert "The server refused notes.png: notes.png: not an image" in message
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
