// Backoffice pages: small helps on top of forms that work without scripts.
"use strict";

// The leave form shows the working days a period takes, as the server counts them.
function watchWorkingDays(form) {
  const output = form.querySelector("#working-days");
  const field = (name) => form.elements.namedItem(name);
  let asked = 0;
  async function refresh() {
    const start = field("start").value;
    const end = field("end").value;
    if (!start || !end) {
      output.textContent = "—";
      return;
    }
    const query = new URLSearchParams({
      start,
      end,
      half_day_start: field("half_day_start").checked,
      half_day_end: field("half_day_end").checked,
    });
    const employee = field("employee_id");  // HR asking for someone: their calendar
    if (employee && employee.value) query.set("employee_id", employee.value);
    const ticket = ++asked;
    try {
      const response = await fetch(`/requests/working-days?${query}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await response.json();
      if (ticket !== asked) return;
      output.textContent = response.ok ? String(body.working_days) : body.detail || "—";
    } catch {
      if (ticket === asked) output.textContent = "—";
    }
  }
  for (const name of ["start", "end", "half_day_start", "half_day_end", "employee_id"]) {
    const input = field(name);
    if (!input) continue;
    input.addEventListener("change", refresh);
    input.addEventListener("input", refresh);
  }
  refresh();
}

// "Select all" ticks every task of the inbox.
function watchSelectAll(box) {
  const name = box.dataset.selectAll;
  box.addEventListener("change", () => {
    for (const item of box.form.querySelectorAll(`input[name="${name}"]`)) {
      item.checked = box.checked;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("leave-form");
  if (form) watchWorkingDays(form);
  for (const box of document.querySelectorAll("[data-select-all]")) watchSelectAll(box);
});
