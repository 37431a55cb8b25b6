"""Teleop fixtures: an isolated ROS domain and headless
Chromium (Debian's `chromium` + `chromium-driver`, driven by selenium; nothing downloaded)."""

from __future__ import annotations

import os
import random
import shutil

import pytest


@pytest.fixture
def ros_env() -> dict[str, str]:
    """Environment for node processes: a random domain, localhost-only discovery."""
    return {**os.environ, "ROS_DOMAIN_ID": str(random.randint(100, 200)),
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def browser():
    """Headless Chromium through selenium. Missing Debian chromium is a failure, not a skip:
    the console's acceptance test must run (`.ci/run` installs it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        pytest.fail("needs Debian's chromium and chromium-driver (apt-get install -y "
                    "chromium chromium-driver; .ci/run does this)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1000"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(options=options, service=Service(driver))
    yield chrome
    chrome.quit()
