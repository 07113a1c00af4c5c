// pumpcare web app: progressive enhancement only. Every form works without this script.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The clinic switcher submits on change.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // A long form (the registry import) says it is working once sent: its status shows.
  document.querySelectorAll("form[data-busy]").forEach(function (busyForm) {
    busyForm.addEventListener("submit", function () {
      var status = document.getElementById(busyForm.getAttribute("data-busy"));
      if (status) status.hidden = false;
    });
  });

  var form = document.getElementById("refill-form");
  if (!form) return;
  var preview = document.getElementById("preview");
  var url = form.getAttribute("data-preview-url");

  // Show only the chosen prescription mode's fields (the others stay in the page).
  function showMode() {
    var checked = form.querySelector("input[name=mode]:checked");
    var mode = checked ? checked.value : "simple_continuous";
    form.querySelectorAll("[data-mode]").forEach(function (box) {
      box.hidden = box.getAttribute("data-mode") !== mode;
    });
  }
  form.querySelectorAll("input[name=mode]").forEach(function (radio) {
    radio.addEventListener("change", showMode);
  });
  showMode();

  // The live check: the same preview the "Check the numbers" button renders, fetched on
  // every change (debounced). Every number comes from the server; nothing is computed here.
  var timer = null;
  var sequence = 0;
  // Any answer but the live check's panel (a server error, a proxy's page, the login page,
  // no answer at all) leaves the panel with words a nurse can act on, never that page.
  function failed() {
    var box = document.createElement("div");
    box.className = "refusal";
    box.setAttribute("role", "alert");
    box.setAttribute("data-testid", "live-check-failed");
    var title = document.createElement("h3");
    title.textContent = "The numbers could not be checked just now";
    var text = document.createElement("p");
    text.textContent =
      "What you typed is kept. Press \u201cCheck the numbers\u201d to try again; " +
      "saving checks everything again before anything is recorded.";
    box.appendChild(title);
    box.appendChild(text);
    preview.replaceChildren(box);
    preview.removeAttribute("aria-busy");
    var overrideBox = document.getElementById("override-box");
    if (overrideBox) overrideBox.classList.remove("needed");
  }
  function check() {
    var mine = ++sequence;
    preview.setAttribute("aria-busy", "true");
    fetch(url, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    })
      .then(function (response) {
        // The panel comes with 200 (or 400 for a refusal) and says it is the panel.
        var panel = response.headers.get("X-Live-Check") === "refill-preview";
        if (!panel || !(response.ok || response.status === 400)) throw new Error("no live check");
        return response.text();
      })
      .then(function (html) {
        if (mine !== sequence) return; // a later check is on its way
        preview.innerHTML = html;
        preview.removeAttribute("aria-busy");
        // The page's own UTC offset choice (after a full check) wins over the panel's copy.
        var live = preview.querySelector("[data-testid=live-utc-offset]");
        if (live && form.querySelector("select[name=utc_offset]")) live.remove();
        var refusal = preview.querySelector("[data-code]");
        var box = document.getElementById("override-box");
        if (box) {
          // The server says which refusals a physician may override (data-override).
          box.classList.toggle("needed", !!(refusal && refusal.hasAttribute("data-override")));
        }
      })
      .catch(function () {
        if (mine === sequence) failed();
      });
  }
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  }
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  // A field the live check adds to its panel (the UTC offset of a time that happens twice)
  // belongs to the form through its form attribute: a change to it checks again too.
  preview.addEventListener("change", function (event) {
    if (event.target.form === form) soon();
  });
})();
