"""The dashboard in headless Chromium against the real daemon: the batch list, a batch's graph and
task table with live states, cancelling a task and a batch, completing an external task, the
token prompt, the task panel (fields, dependencies, output, a shell task's live output), filters
kept in the address, and the other views. Batches are submitted through the JSON API (urllib)."""

import json
import urllib.parse
import uuid

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import SHELL_OUTPUT_KEPT, TOKEN, Api, ApiError
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
    # So does the task panel's output stream (the batch was final at load: no results stream).
    page.open_task_panel("a")
    page.wait(lambda d: d.find_element(By.ID, "task-output").text, "no output in the panel")
    assert json.loads(browser.find_element(By.ID, "task-output").text) == {"slept_ms": 10}
    assert browser.find_element(By.ID, "task-output-section").get_attribute("data-source") == "stream"
    assert not page.dialog_open("token-dialog")
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


# ---------------------------------------------------------------- the task panel

def echo_task(task_id, value, deps=()):
    return {"id": task_id, "executor": "echo", "input": value, "dependencies": list(deps)}


def wait_final(page, api, batch_id, state="BATCH_STATE_SUCCEEDED"):
    page.wait(lambda d: api.progress(batch_id)["state"] == state, f"the batch did not reach {state}")


def panel_output(page):
    """The panel's output JSON, parsed, once it is shown."""
    text = page.wait(lambda d: d.find_element(By.ID, "task-output").text, "no output in the panel")
    return json.loads(text)


def test_task_panel_fields_links_output_keyboard_and_focus(page, api):
    big = "x" * 100_000
    batch_id = api.submit([
        echo_task("root", {"greeting": "hi"}),
        echo_task("mid", {"n": 1}, ["root"]),
        echo_task("leaf-1", 1, ["mid"]),
        echo_task("leaf-2", 2, ["mid"]),
        echo_task("big", {"blob": big}),
    ])
    wait_final(page, api, batch_id)
    page.driver.get_log("browser")  # drop what earlier tests left in the shared browser's log
    page.open_batch(batch_id)
    page.wait_ready("batch")
    panel = page.driver.find_element(By.ID, "task-detail")
    assert page.panel_task() is None

    # The id link opens the panel: a region named by its heading, which has the focus.
    page.open_task_panel("mid")
    assert panel.get_attribute("role") == "region"
    heading = page.driver.find_element(By.ID, panel.get_attribute("aria-labelledby"))
    assert heading.text == "Task mid"
    assert page.focused()["id"] == "task-detail-title"
    assert page.panel_field("state") == "Succeeded"
    assert page.panel_field("executor") == "echo"
    assert page.panel_field("layer") == "1"
    assert page.panel_field("retries") == "0"
    assert page.panel_field("waiting") == ""
    assert page.panel_field("error") == ""
    assert page.panel_field("started") and page.panel_field("finished")
    assert page.panel_links("task-deps") == ["root"]
    assert page.panel_links("task-dependents") == ["leaf-1", "leaf-2"]  # computed in the page
    assert page.driver.find_element(By.ID, "task-dependents-heading").text == "Dependents (2)"
    # Final and not streamed (the batch was final at load): the output stream's last line.
    assert panel_output(page) == {"n": 1}
    assert page.driver.find_element(By.ID, "task-output-section").get_attribute("data-source") == "stream"
    assert page.driver.find_element(By.ID, "task-output").text.startswith('{\n  "n": 1')  # pretty-printed
    assert "task=mid" in page.driver.current_url
    assert "selected" in page.driver.find_element(By.CSS_SELECTOR, '#task-rows tr[data-task-id="mid"]').get_attribute("class")

    # A dependent's link opens its own panel; a dependency's link from there, again.
    page.click(lambda d: d.find_element(By.CSS_SELECTOR, '#task-dependents a[data-task-link="leaf-1"]'))
    page.wait(lambda d: page.panel_task() == "leaf-1")
    assert page.panel_links("task-deps") == ["mid"] and page.panel_links("task-dependents") == []
    assert panel_output(page) == 1
    assert page.focused()["id"] == "task-detail-title"
    page.click(lambda d: d.find_element(By.CSS_SELECTOR, '#task-deps a[data-task-link="mid"]'))
    page.wait(lambda d: page.panel_task() == "mid")
    page.click(lambda d: d.find_element(By.CSS_SELECTOR, '#task-deps a[data-task-link="root"]'))
    page.wait(lambda d: page.panel_task() == "root")
    assert page.panel_field("layer") == "0" and page.panel_links("task-dependents") == ["mid"]

    # Escape closes it and gives the focus back to the row link that opened it (mid's).
    ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()
    page.wait(lambda d: page.panel_task() is None, "Escape did not close the panel")
    assert page.focused() == {"id": "", "tag": "button", "row": "mid", "action": "select", "inPanel": False}
    assert "task=" not in page.driver.current_url

    # Space and Enter on the focused row link open it; the Close button closes it, focus back.
    ActionChains(page.driver).send_keys(Keys.SPACE).perform()
    page.wait(lambda d: page.panel_task() == "mid", "Space on the row link did not open the panel")
    assert page.focused()["inPanel"]
    page.click(page.by_id("task-detail-close"))
    page.wait(lambda d: page.panel_task() is None)
    assert page.focused()["row"] == "mid"
    ActionChains(page.driver).send_keys(Keys.ENTER).perform()
    page.wait(lambda d: page.panel_task() == "mid", "Enter on the row link did not open the panel")
    ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()
    page.wait(lambda d: page.panel_task() is None)

    # A large output is truncated past 64 KiB, with a note.
    page.open_task_panel("big")
    note = page.driver.find_element(By.ID, "task-output-note")
    page.wait(lambda d: note.is_displayed(), "no truncation note for a 100 KB output")
    assert "Truncated" in note.text and "65,536" in note.text
    shown = page.driver.execute_script("return document.getElementById('task-output').textContent;")
    assert shown.startswith('{\n  "blob": "xxx') and shown.endswith("\n…")
    assert len(shown) == 64 * 1024 + 2
    ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()
    page.wait(lambda d: page.panel_task() is None)

    # A click on a graph cell opens that task's panel (the top-left cell: layer 0's first,
    # root); focus returns to the graph.
    canvas = page.driver.find_element(By.ID, "graph")
    w, h = page.driver.execute_script(
        "const r = document.getElementById('graph').getBoundingClientRect(); return [r.width, r.height];")
    ActionChains(page.driver).move_to_element_with_offset(canvas, int(-w / 2) + 3, int(-h / 2) + 3).click().perform()
    page.wait(lambda d: page.panel_task() == "root", "a click on root's cell did not open its panel")
    assert panel_output(page) == {"greeting": "hi"}
    ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()
    page.wait(lambda d: page.panel_task() is None)
    assert page.focused()["id"] == "graph"

    # The address opens the panel: a reload keeps it.
    page.open_task_panel("leaf-2")
    page.driver.refresh()
    page.wait_ready("batch")
    page.wait(lambda d: page.panel_task() == "leaf-2", "a reload did not reopen the panel")
    assert panel_output(page) == 2
    assert page.hooks()["outputStreams"] == 0
    severe = [e for e in page.driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not severe, severe


@pytest.fixture
def shell_page(browser, shell_daemon):
    return DashboardPage(browser, shell_daemon.base)


def awaiting_token(api, batch_id, task_id):
    def find():
        for a in api.progress(batch_id).get("awaitingCompletion", []):
            if a["taskId"] == task_id:
                return a["token"]
        return None
    return find


def test_task_panel_streams_a_running_shell_tasks_output(shell_page, shell_daemon):
    page, api = shell_page, Api(shell_daemon.base)
    script = "for i in 1 2 3 4; do echo line$i; sleep 0.6; done"  # the result 2.4 s after line1
    batch_id = api.submit([
        {"id": "early", "executor": "echo", "input": {"v": 2}},
        {"id": "gate", "executor": "external", "input": "go"},
        {"id": "sh", "executor": "shell", "input": {"argv": ["sh", "-c", script]}, "dependencies": ["gate"]},
    ])
    page.open_batch(batch_id)
    page.wait_ready("batch")

    # A final task of a running batch: its output came on the results stream.
    page.wait_task_state("early", "TASK_STATE_SUCCEEDED")
    page.open_task_panel("early")
    assert panel_output(page) == {"v": 2}
    assert page.driver.find_element(By.ID, "task-output-section").get_attribute("data-source") == "results"
    assert page.hooks()["outputStreams"] == 0

    # The shell task is pending behind the gate: its panel waits on its output stream.
    page.open_task_panel("sh")
    live = page.driver.find_element(By.ID, "task-live-output")
    assert live.get_attribute("aria-live") == "polite"
    page.wait(lambda d: page.hooks()["outputStreams"] == 1, "no output stream for a pending task")
    assert "Waiting for it to run" in page.driver.find_element(By.ID, "task-live-status").text
    assert not page.driver.find_element(By.ID, "task-output-section").is_displayed()

    token = page.wait(lambda d: awaiting_token(api, batch_id, "gate")(), "the gate is not awaiting")
    api.call("POST", f"/v1/batches/{batch_id}/tasks/gate:complete", {"token": token, "output": "open"})
    # The lines appear while it runs (the daemon says RUNNING; the page's own state may still be
    # the last poll's), before its result.
    snapshot = "return {text: document.getElementById('task-live-output').textContent," \
               " result: !document.getElementById('task-output-section').hidden};"
    for line in ("line1", "line2"):
        seen = page.wait(lambda d: (lambda s: s if line in s["text"] else None)(d.execute_script(snapshot)),
                         f"the shell task's {line} did not appear")
        assert not seen["result"] and "line4" not in seen["text"], seen
        assert api.tasks(batch_id)["sh"]["state"] == "TASK_STATE_RUNNING"
    assert seen["text"].startswith("line1\nline2\n")
    assert page.driver.find_element(By.ID, "task-live-status").text == "Following its output…"
    # Then the final result follows.
    output = panel_output(page)
    assert output["exit_code"] == 0
    assert output["stdout"] == "line1\nline2\nline3\nline4\n"
    assert page.driver.find_element(By.ID, "task-live-output").text == "line1\nline2\nline3\nline4"
    assert page.driver.find_element(By.ID, "task-live-status").text == "Finished: Succeeded."
    assert page.driver.find_element(By.ID, "task-output-section").get_attribute("data-source") == "stream"
    assert page.panel_field("state") == "Succeeded"
    assert page.hooks()["outputStreams"] == 0
    page.wait_task_state("sh", "TASK_STATE_SUCCEEDED")


def test_task_panel_live_output_dropped_bytes_and_abort(shell_page, shell_daemon):
    page, api = shell_page, Api(shell_daemon.base)
    lines = 2000  # `seq 1 2000`: 8,893 bytes, more than the daemon keeps
    total = sum(len(f"{i}\n") for i in range(1, lines + 1))
    batch_id = api.submit([{"id": "noisy", "executor": "shell",
                            "input": {"argv": ["sh", "-c", f"seq 1 {lines}; sleep 60"]}}])
    page.open_batch(batch_id)
    page.wait_ready("batch")
    page.wait_task_state("noisy", "TASK_STATE_RUNNING")
    page.open_task_panel("noisy")
    page.wait(lambda d: d.find_element(By.ID, "task-live-output").text.endswith(f"\n{lines}"),
              "the kept output did not appear")
    shown = page.driver.execute_script("return document.getElementById('task-live-output').textContent;")
    assert len(shown) <= SHELL_OUTPUT_KEPT
    note = page.driver.find_element(By.ID, "task-live-dropped")
    assert note.is_displayed()
    dropped = total - len(shown)
    assert note.text.startswith(f"{dropped:,} bytes dropped before this"), note.text
    assert page.hooks()["outputStreams"] == 1

    # Closing the panel aborts its fetch; so does leaving the page.
    ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()
    page.wait(lambda d: page.hooks()["outputStreams"] == 0, "closing the panel left its fetch open")
    page.open_task_panel("noisy")
    page.wait(lambda d: page.hooks()["outputStreams"] == 1)
    page.driver.find_element(By.ID, "nav-workers").click()
    page.wait_ready("workers")
    page.wait(lambda d: page.hooks()["outputStreams"] == 0, "leaving the page left the fetch open")
    api.call("POST", f"/v1/batches/{batch_id}:cancel", {"reason": "test done"})


# ---------------------------------------------------------------- filters in the address

def test_filters_are_kept_in_the_address(page, api):
    run = unique("hash")
    batch_id = api.submit([echo_task("alpha-1", 1), echo_task("alpha-2", 2), echo_task("beta-1", 3),
                           {"id": "alpha-bad", "executor": "fail", "input": {"error": "no"},
                            "retryPolicy": {"maxRetries": 0}}],
                          labels={"run": run})
    wait_final(page, api, batch_id, "BATCH_STATE_FAILED")

    # The batch list: state and label filters in #/?state=…&labels=…
    page.open("#/")
    page.wait_ready("batches")
    page.driver.find_element(By.ID, "label-selector").send_keys(f"run={run}")
    page.driver.find_element(By.CSS_SELECTOR, 'input[value="BATCH_STATE_FAILED"]').click()
    page.driver.find_element(By.ID, "apply-filter").click()
    page.wait(lambda d: d.find_element(By.ID, "batch-count").text == "1 batch", "filter not applied")
    fragment = urllib.parse.urlsplit(page.driver.current_url).fragment
    assert fragment == f"/?state=BATCH_STATE_FAILED&labels=run%3D{run}"

    def list_filter_shown():
        return (page.driver.find_element(By.ID, "label-selector").get_attribute("value") == f"run={run}"
                and page.driver.find_element(By.CSS_SELECTOR, 'input[value="BATCH_STATE_FAILED"]').is_selected()
                and page.driver.find_element(By.ID, "batch-count").text == "1 batch")
    page.driver.refresh()
    page.wait_ready("batches")
    page.wait(lambda d: list_filter_shown(), "a reload lost the list's filter")

    # The batch page: the table's state and text filters in #/batches/ID?state=…&q=…
    page.click(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-batch-id="{batch_id}"] a'))
    page.wait_ready("batch")
    page.driver.execute_script("const s = document.getElementById('task-state-filter');"
                               "s.value = 'TASK_STATE_SUCCEEDED'; s.dispatchEvent(new Event('change'));")
    page.driver.find_element(By.ID, "task-text-filter").send_keys("alpha")
    page.wait(lambda d: d.find_element(By.ID, "task-count").text == "2 of 4 tasks", "table filter not applied")
    page.wait(lambda d: "q=alpha" in d.current_url)
    fragment = urllib.parse.urlsplit(page.driver.current_url).fragment
    assert fragment == f"/batches/{batch_id}?state=TASK_STATE_SUCCEEDED&q=alpha"

    def table_filter_shown():
        return (page.driver.find_element(By.ID, "task-state-filter").get_attribute("value") == "TASK_STATE_SUCCEEDED"
                and page.driver.find_element(By.ID, "task-text-filter").get_attribute("value") == "alpha"
                and page.driver.find_element(By.ID, "task-count").text == "2 of 4 tasks"
                and page.rendered_task_rows() == 2)
    page.driver.refresh()
    page.wait_ready("batch")
    page.wait(lambda d: table_filter_shown(), "a reload lost the table's filter")
    assert {r.get_attribute("data-task-id") for r in
            page.driver.find_elements(By.CSS_SELECTOR, "#task-rows tr[data-task-id]")} == {"alpha-1", "alpha-2"}

    # Back and forward keep both.
    page.driver.back()
    page.wait_ready("batches")
    page.wait(lambda d: list_filter_shown(), "back lost the list's filter")
    page.driver.forward()
    page.wait_ready("batch")
    page.wait(lambda d: table_filter_shown(), "forward lost the table's filter")
