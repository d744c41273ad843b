"""The dashboard as the tests see it: navigation, explicit waits on its DOM hooks (ids,
data-task-id / data-state rows, window.batchdDashboard) and clicks that survive re-renders.
Shared by tests/browser and bench/dashboard_page.py."""

import json
from typing import Any, Callable, Optional

from selenium.common.exceptions import (ElementClickInterceptedException,
                                        ElementNotInteractableException,
                                        JavascriptException, NoSuchElementException,
                                        StaleElementReferenceException)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 30.0
_RETRYABLE = (StaleElementReferenceException, NoSuchElementException,
              ElementClickInterceptedException, ElementNotInteractableException)


class DashboardPage:
    def __init__(self, driver: Any, base_url: str, timeout: float = WAIT_S) -> None:
        self.driver = driver
        self.base_url = base_url
        self.timeout = timeout

    # -- navigation
    def open(self, route: str = "#/") -> None:
        """A fresh document load (not only a hash change), so navigation timing starts anew."""
        self.driver.get("about:blank")
        self.driver.get(f"{self.base_url}/{route}")

    def open_batch(self, batch_id: str) -> None:
        self.open(f"#/batches/{batch_id}")

    # -- waiting
    def wait(self, predicate: Callable[[Any], Any], message: str = "", timeout: Optional[float] = None) -> Any:
        def guarded(driver: Any) -> Any:
            try:
                return predicate(driver)
            except _RETRYABLE + (JavascriptException,):
                return False
        return WebDriverWait(self.driver, timeout or self.timeout, poll_frequency=0.05).until(
            guarded, message)

    def hooks(self) -> dict:
        return self.driver.execute_script(
            "const h = window.batchdDashboard || {}; return JSON.parse(JSON.stringify(h));")

    def wait_ready(self, route: str) -> dict:
        self.wait(lambda d: d.execute_script(
            "const h = window.batchdDashboard; return h && h.route === arguments[0] && h.ready;", route),
            f"the {route} view did not report ready")
        return self.hooks()

    def task_row_state(self, task_id: str) -> Optional[str]:
        return self.driver.execute_script(
            "const r = document.querySelector(`#task-rows tr[data-task-id=\"${CSS.escape(arguments[0])}\"]`);"
            "return r ? r.dataset.state : null;", task_id)

    def wait_task_state(self, task_id: str, state: str, timeout: Optional[float] = None) -> None:
        self.wait(lambda d: self.task_row_state(task_id) == state,
                  f"task {task_id} did not show {state} (shows {self.task_row_state(task_id)})", timeout)

    def wait_batch_state(self, state: str) -> None:
        self.wait(lambda d: d.find_element(By.ID, "batch-state").get_attribute("data-state") == state,
                  f"the batch did not show {state}")

    # -- acting
    def click(self, locate: Callable[[Any], Any], message: str = "") -> None:
        """Finds and clicks again when a re-render replaced the element in between."""
        def attempt(driver: Any) -> bool:
            element = locate(driver)
            if element is None or not element.is_displayed() or not element.is_enabled():
                return False
            element.click()
            return True
        self.wait(attempt, message or "could not click")

    def row_button(self, task_id: str, action: str) -> Callable[[Any], Any]:
        selector = f'#task-rows tr[data-task-id={json.dumps(task_id)}] button[data-action="{action}"]'
        return lambda d: d.find_element(By.CSS_SELECTOR, selector)

    def by_id(self, element_id: str) -> Callable[[Any], Any]:
        return lambda d: d.find_element(By.ID, element_id)

    def dialog_open(self, dialog_id: str) -> bool:
        return bool(self.driver.execute_script(
            "const d = document.getElementById(arguments[0]); return !!(d && d.open);", dialog_id))

    def rendered_task_rows(self) -> int:
        return self.driver.execute_script("return document.querySelectorAll('#task-rows tr[data-task-id]').length;")

    # -- the task panel
    def panel_task(self) -> Optional[str]:
        """The task id the open task panel shows, None when it is closed."""
        return self.driver.execute_script(
            "const p = document.getElementById('task-detail');"
            "return p && !p.hidden ? p.dataset.taskId || null : null;")

    def open_task_panel(self, task_id: str) -> None:
        """Clicks the task's id link in the table and waits for its panel."""
        self.click(self.row_button(task_id, "select"), f"no id link on {task_id}'s row")
        self.wait(lambda d: self.panel_task() == task_id, f"the panel did not open on {task_id}")

    def panel_field(self, name: str) -> str:
        return self.driver.find_element(By.CSS_SELECTOR, f'#task-detail-fields dd[data-field="{name}"]').text

    def panel_links(self, list_id: str) -> list:
        """The task ids linked in the panel's #task-deps or #task-dependents list."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll(`#${arguments[0]} a[data-task-link]`)]"
            ".map((a) => a.dataset.taskLink);", list_id)

    def focused(self) -> dict:
        """The focused element: its id, tag, and the task id of its table row if it is in one."""
        return self.driver.execute_script(
            "const e = document.activeElement; const tr = e && e.closest('tr[data-task-id]');"
            "return {id: e ? e.id : '', tag: e ? e.tagName.toLowerCase() : '',"
            " row: tr ? tr.dataset.taskId : null, action: e && e.dataset ? e.dataset.action || null : null,"
            " inPanel: !!(e && e.closest('#task-detail'))};")
