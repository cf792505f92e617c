#!/usr/bin/env python3
"""Loads each of a node's pages in headless Chromium, checks its content, saves a screenshot, and
approves a policy by clicking the page's button. Driven by NodeTests/ConsolePagesTests (which sets
up the consortium) through a JSON spec on stdin:
  {"base": "http://127.0.0.1:PORT", "token": "...", "policy": "ID", "out": "DIR",
   "pages": [{"name": "...", "path": "/...", "expect": ["text", ...]}, ...], "surveillance": {...}}
Prints one line per page and exits non-zero on the first failure."""
import json, os, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

spec = json.load(sys.stdin)
opts = Options()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1400"]:
    opts.add_argument(a)
opts.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
failed = False
try:
    for p in spec["pages"]:
        url = p.get("url") or spec["base"] + p["path"]
        driver.get(url)
        if p.get("fill"):
            for name, value in p["fill"].items():
                driver.find_element(By.NAME, name).send_keys(value)
            driver.find_element(By.ID, p["submit"]).click()
            time.sleep(0.5)
        body = driver.find_element(By.TAG_NAME, "body").text
        missing = [e for e in p["expect"] if e not in body and e not in driver.page_source]
        shot = os.path.join(spec["out"], p["name"] + ".png")
        driver.save_screenshot(shot)
        print(("ok   " if not missing else "FAIL ") + url + " -> " + shot + ("" if not missing else " missing " + repr(missing)))
        failed = failed or bool(missing)
    # Approve through the page: the token field, then the Approve button of this policy.
    driver.get(spec["base"] + "/policies")
    card = driver.find_element(By.ID, "policy-" + spec["policy"])
    card.find_element(By.NAME, "token").send_keys(spec["token"])
    card.find_element(By.ID, "approve-" + spec["policy"]).click()
    for _ in range(100):
        flash = driver.find_elements(By.ID, "flash")
        if flash:
            break
        time.sleep(0.1)
    text = flash[0].text if flash else ""
    driver.save_screenshot(os.path.join(spec["out"], "policies-after-approve.png"))
    ok = "approved " + spec["policy"] in text
    print(("ok   " if ok else "FAIL ") + "approve through the page: " + (text or "no confirmation shown"))
    failed = failed or not ok
finally:
    driver.quit()
sys.exit(1 if failed else 0)
