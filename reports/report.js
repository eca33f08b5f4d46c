/* modelward gap report: filtering and sorting of the findings table.
   Without JavaScript every finding is listed and nothing is hidden; this only narrows the view.
   It reads text from the page with textContent and never writes HTML (no innerHTML), so a
   string from a scanned system can only ever be text. It must not contain a closing script tag. */
(function () {
  "use strict";
  var table = document.getElementById("findings-table");
  var form = document.getElementById("filters");
  if (!table || !form) { return; }
  var body = table.tBodies[0];
  var count = document.getElementById("f-count");
  var rows = Array.prototype.slice.call(body.rows);
  var SEV = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
  var STATUS = { fail: 0, error: 1, waived: 2, pass: 3, not_applicable: 4 };
  var items = rows.map(function (row, index) {
    var d = row.dataset;
    var res = row.cells[3];
    return {
      row: row,
      i: index,
      status: d.status,
      sev: d.sev,
      policy: d.policy,
      fw: d.fw,
      rid: (d.rid || "").toLowerCase(),
      rname: (res ? res.textContent : "").toLowerCase(),
      text: null
    };
  });
  var controls = {
    q: document.getElementById("f-q"),
    sev: document.getElementById("f-sev"),
    status: document.getElementById("f-status"),
    policy: document.getElementById("f-policy"),
    fw: document.getElementById("f-fw"),
    res: document.getElementById("f-res")
  };

  function words(value) {
    return value.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
  }

  function matches(item, f) {
    if (f.sev && item.sev !== f.sev) { return false; }
    if (f.status.length && f.status.indexOf(item.status) < 0) { return false; }
    if (f.policy && item.policy !== f.policy) { return false; }
    if (f.fw && item.fw.indexOf("|" + f.fw + "|") < 0) { return false; }
    if (f.res && item.rid.indexOf(f.res) < 0 && item.rname.indexOf(f.res) < 0) { return false; }
    if (f.q.length) {
      if (item.text === null) { item.text = item.row.textContent.toLowerCase() + " " + item.rid; }
      for (var k = 0; k < f.q.length; k++) {
        if (item.text.indexOf(f.q[k]) < 0) { return false; }
      }
    }
    return true;
  }

  /* At most PAGE matching rows are in the table at once (more on request); the others are
     kept out of the document, because even hidden rows cost style work in their thousands.
     Without JavaScript every row is in the table. */
  var PAGE = 250;
  var limit = PAGE;
  var pager = document.getElementById("f-pager");

  function apply() {
    var f = {
      q: words(controls.q.value),
      sev: controls.sev.value,
      status: words(controls.status.value),
      policy: controls.policy.value,
      fw: controls.fw.value,
      res: controls.res.value.trim().toLowerCase()
    };
    var matched = 0;
    var frag = document.createDocumentFragment();
    for (var i = 0; i < items.length; i++) {
      if (matches(items[i], f)) {
        matched++;
        if (matched <= limit) { frag.appendChild(items[i].row); }
      }
    }
    body.textContent = "";
    body.appendChild(frag);
    var shown = Math.min(matched, limit);
    var text = matched === items.length
      ? items.length + " findings"
      : "Showing " + matched + " of " + items.length + " findings";
    if (shown < matched) { text += " (the first " + shown + " are listed)"; }
    count.textContent = text + ".";
    pager.hidden = shown >= matched;
  }
  function filtered() { limit = PAGE; apply(); }

  var timer = null;
  function later() {
    if (timer !== null) { clearTimeout(timer); }
    timer = setTimeout(function () { timer = null; filtered(); }, 120);
  }

  form.hidden = false;
  form.addEventListener("submit", function (e) { e.preventDefault(); filtered(); });
  form.addEventListener("change", filtered);
  controls.q.addEventListener("input", later);
  controls.res.addEventListener("input", later);
  form.addEventListener("reset", function () { setTimeout(filtered, 0); });
  document.getElementById("f-more").addEventListener("click", function () {
    limit += PAGE * 4;
    apply();
  });
  document.getElementById("f-all").addEventListener("click", function () {
    limit = Infinity;
    apply();
  });

  /* Sorting: header text becomes a button; a second click reverses the order. */
  var keys = {
    sev: function (it) { return [SEV[it.sev], STATUS[it.status], it.i]; },
    status: function (it) { return [STATUS[it.status], SEV[it.sev], it.i]; },
    policy: function (it) { return [it.policy, it.i]; },
    resource: function (it) { return [it.rname, it.rid, it.i]; }
  };
  function compare(a, b) {
    for (var k = 0; k < a.length; k++) {
      if (a[k] < b[k]) { return -1; }
      if (a[k] > b[k]) { return 1; }
    }
    return 0;
  }
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  headers.forEach(function (th) {
    var key = th.getAttribute("data-sort");
    if (!key || !keys[key]) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    th.setAttribute("aria-sort", "none");
    button.addEventListener("click", function () {
      var descending = th.getAttribute("aria-sort") === "ascending";
      headers.forEach(function (h) { if (h.hasAttribute("aria-sort")) { h.setAttribute("aria-sort", "none"); } });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var keyed = items.map(function (it) { return { k: keys[key](it), it: it }; });
      keyed.sort(function (a, b) { return descending ? compare(b.k, a.k) : compare(a.k, b.k); });
      items = keyed.map(function (x) { return x.it; });
      apply();
    });
  });

  /* "Show these findings" links in the fix-first list narrow the table to that policy. */
  Array.prototype.forEach.call(document.querySelectorAll("a.show-findings"), function (a) {
    a.addEventListener("click", function () {
      controls.policy.value = a.getAttribute("data-policy") || "";
      controls.status.value = "fail error";
      filtered();
    });
  });

  /* Print every matching finding, with its evidence unfolded; restore the view afterwards. */
  var opened = [];
  var before = PAGE;
  window.addEventListener("beforeprint", function () {
    before = limit;
    limit = Infinity;
    apply();
    Array.prototype.forEach.call(document.querySelectorAll("details:not([open])"), function (d) {
      d.open = true;
      opened.push(d);
    });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
    limit = before;
    apply();
  });

  apply();
}());
