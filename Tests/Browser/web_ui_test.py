#!/usr/bin/env python3
"""Drives Alto's web UI in Debian's headless Chromium through Selenium, against a running suite that the Swift test
WebUITests started and seeded. Each role signs in and sees what it may do, and every button the UI hides from a
role is asked of the API with that role's own session, which must refuse it. The operator creates a rule from its
what-if, watches the job of a scan finish live, and recalls a file; the admin's overview shows the API's figures.
A screenshot of each page goes to ALTO_UI_ARTIFACTS. Exits 0 when every check held, 1 with the failures otherwise.
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["ALTO_UI_URL"]
ARTIFACTS = os.environ["ALTO_UI_ARTIFACTS"]
USERS = json.loads(os.environ["ALTO_UI_USERS"])
HOST_ID = os.environ["ALTO_UI_HOST_ID"]
DATA = os.environ["ALTO_UI_DATA"]
COLD_FILES = int(os.environ["ALTO_UI_COLD_FILES"])
RECALL_PATH = os.environ["ALTO_UI_RECALL_PATH"]
SCAN = json.loads(os.environ["ALTO_UI_SCAN"])

failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def api(method, path, token, body=None):
    """The API asked directly with a role's own session token: (status, parsed JSON or None)."""
    request = urllib.request.Request(URL + path, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Authorization", "Bearer " + token)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, None


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,1000",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    return driver


def wait(driver, what, condition, seconds=30):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.25, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda _: condition())
    except TimeoutException:
        shot(driver, "timeout-" + what.replace(" ", "-")[:60])
        raise AssertionError("timed out waiting for " + what)


def values(driver, selector, attribute):
    """An attribute of every element the selector matches, read in one step, so a page that renders again between
    reading the elements and reading their attributes cannot leave a stale element behind."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map((element) => element.getAttribute(arguments[1]))",
        selector, attribute)


def find(driver, test_id):
    return driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{test_id}"]')


def shot(driver, name):
    path = os.path.join(ARTIFACTS, name + ".png")
    driver.save_screenshot(path)
    print("     screenshot " + path, flush=True)


def open_page(driver, page, ready_test_id):
    driver.get(f"{URL}/ui/#/{page}")
    wait(driver, f"the {page} page", lambda: find(driver, ready_test_id))
    wait(driver, f"the {page} page's data", lambda: not driver.find_elements(By.XPATH, "//p[starts-with(normalize-space(.), 'Loading')]"))


def sign_in(driver, role):
    driver.get(URL + "/")
    check(driver.current_url.startswith(URL + "/ui/"), f"{role}: / sends the browser to the UI")
    wait(driver, "the sign-in form", lambda: find(driver, "email"))
    find(driver, "email")[0].send_keys(USERS[role]["email"])
    find(driver, "password")[0].send_keys(USERS[role]["password"])
    find(driver, "sign-in-submit")[0].click()
    wait(driver, f"{role} signed in", lambda: find(driver, "role"))
    check(find(driver, "role")[0].text == role, f"{role}: the header names the role")
    return driver.execute_script("return sessionStorage.getItem('alto.session')")


def sign_out(driver):
    find(driver, "sign-out")[0].click()
    wait(driver, "the sign-in form again", lambda: find(driver, "email"))


def nav(driver):
    return {test_id[4:] for test_id in values(driver, '[data-testid^="nav-"]', "data-testid")}


def refused(token, method, path, body, role, what):
    status, answer = api(method, path, token, body)
    message = (answer or {}).get("error", {}).get("message", "") if isinstance(answer, dict) else ""
    check(status == 403, f"{role}: the API refuses {what} ({method} {path} answered {status} {message})")


def browser_errors(driver, role):
    severe = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    check(not severe, f"{role}: no errors in the browser's console (CSP violations, refused requests): {severe}")


def viewer(driver):
    token = sign_in(driver, "viewer")
    pages = nav(driver)
    check({"overview", "hosts", "rules", "targets", "jobs", "recalls", "findings"} <= pages, f"viewer sees the tenant's pages: {sorted(pages)}")
    check(not pages & {"audit", "users"}, "viewer: no audit or users page in the navigation")
    refused(token, "GET", "/api/v1/audit", None, "viewer", "the audit trail it is not shown")
    refused(token, "GET", "/api/v1/users", None, "viewer", "the users it is not shown")
    open_page(driver, "overview", "card-saved")
    shot(driver, "viewer-overview")
    open_page(driver, "rules", "rules")
    check(not find(driver, "new-rule") and not find(driver, "edit-rule"), "viewer: no New rule or Edit buttons")
    refused(token, "POST", "/api/v1/rules", {"name": "viewer rule", "priority": 999, "target_id": HOST_ID}, "viewer", "a new rule")
    open_page(driver, "hosts", "hosts")
    check(not find(driver, "plan-host") and not find(driver, "rotate-token"), "viewer: no Plan now or Rotate token buttons")
    refused(token, "POST", "/api/v1/plans", {"host_id": HOST_ID}, "viewer", "a plan")
    refused(token, "POST", f"/api/v1/hosts/{HOST_ID}/agent-token", {}, "viewer", "a new agent token")
    open_page(driver, "recalls", "recalls-list")
    check(not find(driver, "recall-form"), "viewer: no recall form")
    refused(token, "POST", "/api/v1/recalls", {"host_id": HOST_ID, "paths": [RECALL_PATH]}, "viewer", "a recall")
    open_page(driver, "targets", "targets")
    check(not find(driver, "new-target"), "viewer: no New target button")
    refused(token, "POST", "/api/v1/storage-targets", {"name": "viewer", "kind": "filesystem", "location": "/tmp"}, "viewer", "a new target")
    shot(driver, "viewer-targets")
    browser_errors(driver, "viewer")
    sign_out(driver)


def operator(driver):
    token = sign_in(driver, "operator")
    pages = nav(driver)
    check(not pages & {"audit", "users"}, f"operator: no audit or users page in the navigation: {sorted(pages)}")
    refused(token, "GET", "/api/v1/audit", None, "operator", "the audit trail")
    refused(token, "POST", "/api/v1/users", {"email": "x@example.com", "password": "long enough password", "role": "admin"},
            "operator", "a new user")
    refused(token, "POST", "/api/v1/api-tokens", {"name": "operator", "role": "viewer"}, "operator", "a new API token")
    open_page(driver, "targets", "targets")
    check(not find(driver, "new-target"), "operator: no New target button")
    refused(token, "POST", "/api/v1/storage-targets", {"name": "operator", "kind": "filesystem", "location": "/tmp"}, "operator", "a new target")
    open_page(driver, "hosts", "hosts")
    check(bool(find(driver, "plan-host")) and not find(driver, "rotate-token"), "operator: Plan now but no Rotate token")
    refused(token, "POST", f"/api/v1/hosts/{HOST_ID}/agent-token", {}, "operator", "a new agent token")
    check(driver.execute_script("return Array.from(document.querySelectorAll('[data-testid=\"agent-state\"]')).map((e) => e.textContent)")
          == ["online"], "operator: the agent, which sent its heartbeat at start, is shown online")
    shot(driver, "operator-hosts")

    open_page(driver, "rules", "new-rule")
    find(driver, "new-rule")[0].click()
    wait(driver, "the rule form", lambda: find(driver, "rule-form"))
    fields = {"name": "cold archive", "priority": "10", "path_globs": f"{DATA}/archive/**", "min_days_since_modified": "180",
              "min_size": "4096"}
    for name, value in fields.items():
        element = find(driver, "rule-" + name)[0]
        element.clear()
        element.send_keys(value)
    check(not find(driver, "rule-save")[0].is_enabled(), "operator: Save waits until the what-if is shown")
    find(driver, "rule-preview")[0].click()
    wait(driver, "the what-if", lambda: find(driver, "what-if"))
    what_if = find(driver, "what-if")[0]
    check(what_if.get_attribute("data-files") == str(COLD_FILES),
          f"operator: the what-if counts the {COLD_FILES} cold files (it shows {what_if.get_attribute('data-files')})")
    shot(driver, "operator-rule-what-if")
    status, answer = api("GET", "/api/v1/rules", token)
    check(status == 200 and not answer["rules"], "operator: the what-if saved nothing")
    find(driver, "rule-save")[0].click()
    wait(driver, "the saved rule in the list", lambda: driver.find_elements(By.CSS_SELECTOR, 'tr[data-name="cold archive"]'))
    status, answer = api("GET", "/api/v1/rules", token)
    check(status == 200 and [rule["name"] for rule in answer["rules"]] == ["cold archive"], "operator: the API has the saved rule")
    shot(driver, "operator-rules")

    open_page(driver, "jobs", "jobs-list")
    wait(driver, "the jobs page following notifications", lambda: "Live" in find(driver, "live")[0].text)
    driver.execute_script("window.altoMarker = 'unchanged page'")
    scan = subprocess.run(SCAN, capture_output=True, text=True, timeout=300)
    check(scan.returncode == 0, f"the agent's scan ran: {scan.stdout[-2000:]} {scan.stderr[-2000:]}")
    wait(driver, "the job finished on the live page",
         lambda: driver.find_elements(By.CSS_SELECTOR, '[data-testid="jobs-list"] tr[data-state="done"]'), seconds=120)
    check(driver.execute_script("return window.altoMarker") == "unchanged page", "operator: the job finished without a reload")
    shot(driver, "operator-jobs")
    driver.find_elements(By.CSS_SELECTOR, '[data-testid="jobs-list"] tr[data-state="done"] a')[0].click()
    wait(driver, "the job's files", lambda: driver.find_elements(By.CSS_SELECTOR, '[data-testid="job-files"] tr[data-state]'))
    states = values(driver, '[data-testid="job-files"] tr[data-state]', "data-state")
    check(states == ["tiered"] * COLD_FILES,
          f"operator: the job lists each of the {COLD_FILES} files with its outcome: {states}")
    shot(driver, "operator-job-detail")

    open_page(driver, "recalls", "recall-form")
    find(driver, "recall-paths")[0].send_keys(RECALL_PATH)
    find(driver, "recall-submit")[0].click()
    wait(driver, "the recall done", lambda: driver.find_elements(By.CSS_SELECTOR, '[data-testid="job-detail"][data-state="done"]'), seconds=120)
    shot(driver, "operator-recall")
    browser_errors(driver, "operator")
    sign_out(driver)


def admin(driver):
    token = sign_in(driver, "admin")
    pages = nav(driver)
    check({"audit", "users"} <= pages, f"admin: audit and users pages: {sorted(pages)}")
    open_page(driver, "overview", "card-saved")
    wait(driver, "the inventory panels", lambda: find(driver, "inventory-total"))
    from_day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 29 * 86400))
    status, savings = api("GET", f"/api/v1/analytics/savings?from={from_day}", token)
    check(status == 200, "admin: the savings API answers")
    card = int(find(driver, "card-saved")[0].get_attribute("data-value"))
    check(card == savings["bytes_saved"] and card > 0, f"admin: the overview's space saved ({card}) is the API's ({savings['bytes_saved']})")
    for name in ["tiered", "recalled"]:
        shown = int(find(driver, "card-" + name)[0].get_attribute("data-value"))
        check(shown == savings["bytes_" + name], f"admin: bytes {name} on the overview ({shown}) are the API's ({savings['bytes_' + name]})")
    check(savings["bytes_recalled"] > 0, "admin: the recall counts in the savings")
    rows = dict(zip(values(driver, '[data-testid="by-host"] tr[data-id]', "data-id"),
                    map(int, values(driver, '[data-testid="by-host"] tr[data-id]', "data-saved"))))
    check(rows == {host["id"]: host["bytes_saved"] for host in savings["hosts"]}, f"admin: saved per host is the API's: {rows}")
    status, inventory = api("GET", f"/api/v1/analytics/inventory?host_id={HOST_ID}", token)
    total = find(driver, "inventory-total")[0]
    check(int(total.get_attribute("data-files")) == inventory["files"] and int(total.get_attribute("data-bytes")) == inventory["bytes"],
          f"admin: the inventory's totals are the API's ({inventory['files']} files)")
    ages = values(driver, '[data-testid="by-age"] tr[data-key]', "data-key")
    check(ages == [bucket["key"] for bucket in inventory["age"]], f"admin: the age buckets are the API's: {ages}")
    shot(driver, "admin-overview")

    open_page(driver, "audit", "audit")
    find(driver, "audit-action")[0].send_keys("rule.")
    find(driver, "audit-filter")[0].click()
    wait(driver, "the filtered audit trail",
         lambda: (lambda actions: actions and all(action.startswith("rule.") for action in actions))(
             values(driver, '[data-testid="audit"] tr[data-action]', "data-action")))
    shot(driver, "admin-audit")
    for page, ready in [("hosts", "hosts"), ("rules", "rules"), ("targets", "targets"), ("jobs", "jobs-list"), ("recalls", "recalls-list"),
                        ("findings", "findings"), ("users", "users")]:
        open_page(driver, page, ready)
        shot(driver, "admin-" + page)
    check(bool(find(driver, "tokens")), "admin: the API tokens section")
    browser_errors(driver, "admin")
    sign_out(driver)


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver = browser()
    try:
        for step in (viewer, operator, admin):
            try:
                step(driver)
            except Exception as error:  # one role's failure is reported, and the next role still runs
                check(False, f"{step.__name__}: {type(error).__name__}: {error}")
                driver.get(URL + "/ui/")
                driver.execute_script("sessionStorage.clear()")
    finally:
        driver.quit()
    print(f"{len(failures)} failure(s)" if failures else "every check held", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
