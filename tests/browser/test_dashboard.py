"""The dashboard in headless Chromium against the real daemon: the batch list, a batch's graph and
task table with live states, cancelling a task and a batch, completing an external task, the
token prompt, and the other views. Batches are submitted through the JSON API (urllib)."""

import uuid

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from conftest import TOKEN, Api, ApiError
from dashboard_ui import DashboardPage


def sleep_task(task_id, ms, deps=()):
    return {"id": task_id, "executor": "sleep", "input": {"ms": ms}, "dependencies": list(deps)}


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def page(browser, daemon):
    return DashboardPage(browser, daemon.base)


def test_batch_list_shows_a_submitted_batch(page, api):
    run = unique("list")
    batch_id = api.submit([sleep_task("a", 50)], labels={"suite": "browser", "run": run})
    page.open("#/")
    page.wait_ready("batches")
    row = f'#batch-table tr[data-batch-id="{batch_id}"]'
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, row), "the batch is not listed")
    # State as text, labels as chips, a link to the batch page; refreshed every 2 s until done.
    page.wait(lambda d: d.find_element(By.CSS_SELECTOR, row).get_attribute("data-state")
              == "BATCH_STATE_SUCCEEDED", "the list did not refresh to SUCCEEDED")
    text = page.driver.find_element(By.CSS_SELECTOR, row).text
    assert "Succeeded" in text and f"run={run}" in text

    # Filtered by a label selector and a state.
    page.driver.find_element(By.ID, "label-selector").send_keys(f"run={run}")
    page.driver.find_element(By.CSS_SELECTOR, 'input[value="BATCH_STATE_SUCCEEDED"]').click()
    page.driver.find_element(By.ID, "apply-filter").click()
    page.wait(lambda d: d.find_element(By.ID, "batch-count").text == "1 batch", "filter not applied")
    page.driver.find_element(By.CSS_SELECTOR, 'input[value="BATCH_STATE_SUCCEEDED"]').click()
    page.driver.find_element(By.CSS_SELECTOR, 'input[value="BATCH_STATE_FAILED"]').click()
    page.driver.find_element(By.ID, "apply-filter").click()
    page.wait(lambda d: d.find_element(By.ID, "batch-count").text == "0 batches", "state filter not applied")

    page.driver.find_element(By.CSS_SELECTOR, 'input[value="BATCH_STATE_FAILED"]').click()
    page.driver.find_element(By.ID, "apply-filter").click()
    page.click(lambda d: d.find_element(By.CSS_SELECTOR, f"{row} a"))
    page.wait_ready("batch")
    assert page.driver.find_element(By.ID, "batch-id").text == batch_id
    # Nothing refused by the daemon's Content-Security-Policy, no script errors.
    severe = [e for e in page.driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not severe, severe


def test_batch_list_pages_of_fifty(page, api):
    run = unique("paging")
    ids = [api.submit([{"id": "a", "executor": "echo", "input": i}], labels={"run": run})
           for i in range(52)]
    page.open("#/")
    page.wait_ready("batches")
    page.driver.find_element(By.ID, "label-selector").send_keys(f"run={run}")
    page.driver.find_element(By.ID, "apply-filter").click()
    rows = '#batch-table tr[data-batch-id]'
    page.wait(lambda d: d.find_element(By.ID, "batch-count").text == "52 batches")
    page.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) == 50)
    newest = page.driver.find_elements(By.CSS_SELECTOR, rows)[0].get_attribute("data-batch-id")
    assert newest == ids[-1], "newest first"
    page.click(page.by_id("next-page"))
    page.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) == 2)
    shown = {r.get_attribute("data-batch-id") for r in page.driver.find_elements(By.CSS_SELECTOR, rows)}
    assert shown == set(ids[:2])
    assert page.driver.find_element(By.ID, "next-page").get_attribute("disabled") is not None
    page.click(page.by_id("prev-page"))
    page.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) == 50)


def test_batch_page_graph_live_states_and_task_cancel(page, api):
    batch_id = api.submit([
        sleep_task("first", 1500),
        sleep_task("second", 300, ["first"]),
        sleep_task("long", 60000, ["first"]),
        sleep_task("last", 10, ["second", "long"]),
    ], options={"maxConcurrent": 4})
    page.open_batch(batch_id)
    hooks = page.wait_ready("batch")
    assert hooks["tasks"] == 4

    canvas = page.driver.find_element(By.ID, "graph")
    assert canvas.size["width"] > 0 and canvas.size["height"] > 0
    assert page.rendered_task_rows() == 4
    assert hooks["criticalPath"][0] == "first" and hooks["criticalPath"][-1] == "last"

    # Live: first goes RUNNING -> SUCCEEDED, then second runs and succeeds.
    page.wait_task_state("first", "TASK_STATE_RUNNING")
    page.wait_task_state("first", "TASK_STATE_SUCCEEDED")
    page.wait_task_state("second", "TASK_STATE_SUCCEEDED")
    page.wait_task_state("long", "TASK_STATE_RUNNING")

    # Hover over the first cell (layer 0, top left) shows its id.
    x, y = page.driver.execute_script(
        "const r = document.getElementById('graph').getBoundingClientRect(); return [r.width, r.height];")
    ActionChains(page.driver).move_to_element_with_offset(canvas, int(-x / 2) + 3, int(-y / 2) + 3).perform()
    page.wait(lambda d: d.find_element(By.ID, "graph-tooltip").is_displayed()
              and d.find_element(By.ID, "graph-tooltip").get_attribute("data-task-id") == "first",
              "hovering the first cell did not show its id")
    assert "first" in page.driver.find_element(By.ID, "graph-tooltip").text

    # Cancel "long" from its row: the page and the API agree it is CANCELLED.
    page.click(page.row_button("long", "cancel"), "no Cancel button on long's row")
    page.wait_task_state("long", "TASK_STATE_CANCELLED")
    assert api.tasks(batch_id)["long"]["state"] == "TASK_STATE_CANCELLED"
    # Its dependent is skipped (on_dependency_failure SKIP_DEPENDENTS) and the batch finishes.
    page.wait_task_state("last", "TASK_STATE_SKIPPED")
    final = page.wait(lambda d: d.execute_script(
        "const s = window.batchdDashboard.batchState; return s && s !== 'BATCH_STATE_RUNNING'"
        " && s !== 'BATCH_STATE_PENDING' ? s : null;"), "the batch did not finish")
    assert final == api.progress(batch_id)["state"]
    # Polling stops once the batch is final.
    updates = page.hooks()["updates"]
    page.driver.execute_script("return new Promise((r) => setTimeout(r, 2500));")
    assert page.hooks()["updates"] == updates


def test_cancel_batch_from_the_page(page, api):
    batch_id = api.submit([sleep_task(f"t{i}", 60000) for i in range(3)])
    page.open_batch(batch_id)
    page.wait_ready("batch")
    page.wait_task_state("t0", "TASK_STATE_RUNNING")
    page.click(page.by_id("cancel-batch"))
    page.wait(lambda d: page.dialog_open("cancel-dialog"), "no confirmation dialog")
    reason = page.driver.find_element(By.ID, "cancel-reason")
    reason.clear()
    reason.send_keys("browser test")
    page.click(page.by_id("cancel-confirm"))
    page.wait_batch_state("BATCH_STATE_CANCELLED")
    for i in range(3):
        page.wait_task_state(f"t{i}", "TASK_STATE_CANCELLED")
    assert page.driver.find_element(By.ID, "cancel-batch").get_attribute("disabled") is not None
    assert api.progress(batch_id)["state"] == "BATCH_STATE_CANCELLED"
    assert "Cancelled" in page.driver.find_element(By.ID, "batch-progress-text").text


def test_external_task_completed_from_the_page(page, api):
    batch_id = api.submit([
        {"id": "review", "executor": "external", "input": {"document": "q3-report"}},
        {"id": "publish", "executor": "echo", "input": {"$ref": "review"}, "dependencies": ["review"]},
    ])
    page.open_batch(batch_id)
    page.wait_ready("batch")
    page.wait_task_state("review", "TASK_STATE_RUNNING")
    page.click(page.row_button("review", "complete"), "no Complete button on the external task")
    page.wait(lambda d: page.dialog_open("complete-dialog"))
    page.wait(lambda d: "q3-report" in d.find_element(By.ID, "complete-input").text,
              "the dialog does not show the task's input")
    output = page.driver.find_element(By.ID, "complete-output")
    output.clear()
    output.send_keys('{"approved": true, "by": "browser"}')
    page.click(page.by_id("complete-submit"))
    page.wait_task_state("review", "TASK_STATE_SUCCEEDED")
    page.wait_task_state("publish", "TASK_STATE_SUCCEEDED")
    page.wait_batch_state("BATCH_STATE_SUCCEEDED")
    summary = api.call("GET", f"/v1/batches/{batch_id}")["summary"]
    outputs = {r["taskId"]: r["output"] for r in summary["results"]}
    assert outputs["review"] == {"approved": True, "by": "browser"}
    assert outputs["publish"] == {"approved": True, "by": "browser"}


def test_token_prompt_refuses_a_wrong_token_and_accepts_the_right_one(browser, token_daemon):
    api = Api(token_daemon.base, TOKEN)
    with pytest.raises(ApiError) as refused:
        api.call("GET", "/v1/batches", token="")
    assert refused.value.status == 401
    batch_id = api.submit([sleep_task("a", 10)], labels={"suite": "auth"})

    page = DashboardPage(browser, token_daemon.base)
    page.open("#/")
    page.wait(lambda d: page.dialog_open("token-dialog"), "no token prompt on 401")
    field = browser.find_element(By.ID, "token-input")
    assert browser.find_element(By.CSS_SELECTOR, 'label[for="token-input"]').text
    field.send_keys("wrong-token")
    browser.find_element(By.ID, "token-submit").click()
    page.wait(lambda d: page.dialog_open("token-dialog")
              and "refused" in d.find_element(By.ID, "token-message").text,
              "a wrong token was not refused")
    assert not browser.find_elements(By.CSS_SELECTOR, f'tr[data-batch-id="{batch_id}"]')

    browser.find_element(By.ID, "token-input").send_keys(TOKEN)
    browser.find_element(By.ID, "token-submit").click()
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-batch-id="{batch_id}"]'),
              "the right token did not show the batches")
    assert not page.dialog_open("token-dialog")
    assert browser.execute_script("return sessionStorage.getItem('batchd.token')") == TOKEN
    assert browser.execute_script("return document.cookie") == ""
    # The batch page's calls carry the token too.
    page.click(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-batch-id="{batch_id}"] a'))
    page.wait_ready("batch")
    page.wait_task_state("a", "TASK_STATE_SUCCEEDED")
    browser.execute_script("sessionStorage.clear()")


def test_large_batch_table_is_virtualised_sortable_and_filterable(page, api):
    layers, width = 20, 100
    tasks = [{"id": f"l{l:02d}-t{i:03d}", "executor": "echo", "input": i,
              "dependencies": [f"l{l - 1:02d}-t{i:03d}"] if l else []}
             for l in range(layers) for i in range(width)]
    batch_id = api.submit(tasks, options={"maxConcurrent": 100})
    page.open_batch(batch_id)
    hooks = page.wait_ready("batch")
    assert hooks["tasks"] == layers * width
    assert page.rendered_task_rows() < 100, "the table renders every row"
    page.wait_batch_state("BATCH_STATE_SUCCEEDED")
    page.wait(lambda d: page.hooks()["counts"].get("TASK_STATE_SUCCEEDED") == layers * width)
    assert len(page.hooks()["criticalPath"]) == layers

    # Scrolled to the end, the last task's row is rendered.
    page.driver.execute_script("const s = document.getElementById('task-scroll'); s.scrollTop = s.scrollHeight;")
    page.wait(lambda d: page.task_row_state("l19-t099") == "TASK_STATE_SUCCEEDED", "last row not rendered")
    assert page.rendered_task_rows() < 100

    # Sorted by task id descending: the first row is the last id.
    header = page.driver.find_element(By.CSS_SELECTOR, 'th[data-sort="taskId"] button')
    header.click()
    header.click()
    assert page.driver.find_element(By.CSS_SELECTOR, 'th[data-sort="taskId"]').get_attribute("aria-sort") == "descending"
    page.driver.execute_script("document.getElementById('task-scroll').scrollTop = 0;")
    page.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#task-rows tr[data-task-id]").get_attribute("data-task-id") == "l19-t099")

    # Filtered by text.
    page.driver.find_element(By.ID, "task-text-filter").send_keys("t042")
    page.wait(lambda d: d.find_element(By.ID, "task-count").text.startswith(f"{layers} of"))
    assert page.rendered_task_rows() == layers


def test_executors_workers_limits_and_throughput_views(page, api):
    page.open("#/workers")
    page.wait_ready("workers")
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, '#executor-table tr[data-executor="sleep"]'))
    assert "No workers connected" in page.driver.find_element(By.ID, "worker-table").text

    page.driver.find_element(By.ID, "nav-limits").click()
    page.wait_ready("limits")
    row = '#limit-table tr[data-limit-key="browser-api"]'
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, row), "the configured limit is not listed")
    assert "600 requests per min" in page.driver.find_element(By.CSS_SELECTOR, row).text

    api.submit([{"id": f"e{i}", "executor": "echo", "input": i} for i in range(200)])
    page.driver.find_element(By.ID, "nav-throughput").click()
    page.wait_ready("throughput")
    page.wait(lambda d: "tasks/s" in d.find_element(By.ID, "throughput-text").text,
              "no throughput figure from /metrics")
