// The alert list, its filters and search, and the timeline's dots: all from the JSON the
// page carries. Every value from an alert goes into the page as text (textContent, or an
// attribute set by name); none is ever parsed as HTML.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("report-data").textContent);
  var rules = data.rules;
  var alerts = data.alerts;
  var PAGE = 200;
  var RANK = { critical: 4, high: 3, medium: 2, low: 1, unrated: 0 };
  var ATTACK = /^https:\/\/attack\.mitre\.org\/techniques\/T\d{4}(\/\d{3})?\/$/;
  // as the terminal shows them: control and bidirectional characters as escapes
  var CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
  // in pretty-printed JSON the line breaks are the printer's own; strings have theirs escaped
  var INVISIBLE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
  var EVIDENCE = [
    ["time", "@timestamp"], ["action", "event.action"], ["outcome", "event.outcome"],
    ["user", "user.name"], ["source", "source.address"], ["country", "source.geo.country_iso_code"],
    ["table", "aws.dynamodb.table_name"], ["account", "cloud.account.id"],
    ["region", "cloud.region"], ["error", "aws.cloudtrail.error_code"],
    ["user agent", "user_agent.original"]
  ];

  var form = document.getElementById("filters");
  var list = document.getElementById("alert-list");
  var shown = document.getElementById("shown");
  var more = document.getElementById("more");
  var marks = Array.prototype.slice.call(document.querySelectorAll("#timeline-chart .mark"));
  var haystacks = null;
  var current = [];
  var limit = PAGE;

  function escaped(character) {
    var code = character.charCodeAt(0);
    var hex = code.toString(16);
    return code < 256 ? "\\x" + ("0" + hex).slice(-2) : "\\u" + ("000" + hex).slice(-4);
  }

  function visible(value) {
    return String(value).replace(CONTROL, escaped);
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = visible(text);
    return node;
  }

  function lookup(node, parts) {
    // a dotted field, whether the document nests its keys or writes them dotted
    if (!parts.length) {
      if (node === null || node === undefined || typeof node === "object") {
        return Array.isArray(node) ? node.filter(function (v) {
          return v !== null && typeof v !== "object";
        }).map(String) : [];
      }
      return [String(node)];
    }
    if (Array.isArray(node)) {
      return node.reduce(function (found, item) { return found.concat(lookup(item, parts)); }, []);
    }
    if (!node || typeof node !== "object") return [];
    var found = [];
    for (var cut = 1; cut <= parts.length; cut++) {
      var head = parts.slice(0, cut).join(".");
      if (Object.prototype.hasOwnProperty.call(node, head)) {
        found = found.concat(lookup(node[head], parts.slice(cut)));
      }
    }
    return found;
  }

  function haystack(i) {
    if (!haystacks) {
      haystacks = alerts.map(function (a) {
        var parts = [a.id, rules[a.r].name, a.s, a.h, a.t].concat(
          a.u, a.ip, a.cc, a.net, a.tb, a.ac, a.rg, a.act, a.ua,
          a.k.map(function (kv) { return kv[1]; })
        );
        return parts.join("\n").toLowerCase();
      });
    }
    return haystacks[i];
  }

  function filters() {
    var severities = {};
    form.querySelectorAll("input[name=severity]").forEach(function (box) {
      severities[box.value] = box.checked;
    });
    var terms = form.elements.q.value.toLowerCase().split(/\s+/).filter(Boolean);
    return {
      severities: severities,
      rule: form.elements.rule.value === "" ? null : Number(form.elements.rule.value),
      account: form.elements.account.value,
      actor: form.elements.actor.value,
      terms: terms,
      order: form.elements.order.value
    };
  }

  function matches(a, i, f) {
    if (!f.severities[a.s]) return false;
    if (f.rule !== null && a.r !== f.rule) return false;
    if (f.account && a.ac.indexOf(f.account) < 0) return false;
    if (f.actor && a.u.indexOf(f.actor) < 0) return false;
    if (f.terms.length) {
      var text = haystack(i);
      for (var t = 0; t < f.terms.length; t++) {
        if (text.indexOf(f.terms[t]) < 0) return false;
      }
    }
    return true;
  }

  function apply() {
    var f = filters();
    var on = new Array(alerts.length);
    current = [];
    for (var i = 0; i < alerts.length; i++) {
      on[i] = matches(alerts[i], i, f);
      if (on[i]) current.push(i);
    }
    if (f.order === "newest") current.reverse();
    if (f.order === "severity") {
      current.sort(function (x, y) {
        return (RANK[alerts[y].s] - RANK[alerts[x].s]) || (x - y);
      });
    }
    marks.forEach(function (mark) {
      mark.classList.toggle("off", !on[Number(mark.getAttribute("data-i"))]);
    });
    limit = PAGE;
    render();
  }

  function render() {
    var fragment = document.createDocumentFragment();
    var upto = Math.min(limit, current.length);
    for (var n = 0; n < upto; n++) fragment.appendChild(card(current[n]));
    list.textContent = "";
    list.appendChild(fragment);
    var total = alerts.length.toLocaleString("en");
    shown.textContent = current.length === alerts.length
      ? (upto < current.length ? "Showing " + upto + " of " : "") + total + " alerts"
      : "Showing " + upto.toLocaleString("en") + " of " + current.length.toLocaleString("en") +
        " matching alerts (" + total + " in all)";
    more.hidden = upto >= current.length;
  }

  function card(i) {
    var a = alerts[i];
    var article = element("article", "alert sev-" + a.s);
    article.setAttribute("data-i", String(i));
    article.setAttribute("data-id", a.id);
    var details = element("details");
    var summary = element("summary");
    summary.appendChild(element("time", null, a.t));
    summary.appendChild(element("span", "sev", a.s));
    summary.appendChild(element("span", "rule", rules[a.r].name));
    summary.appendChild(element("span", "what", a.h));
    details.appendChild(summary);
    details.addEventListener("toggle", function () {
      if (details.open && details.childNodes.length === 1) details.appendChild(body(a));
    });
    article.appendChild(details);
    return article;
  }

  function facts(a) {
    var dl = element("dl", "facts");
    var rows = [
      ["Actors", a.u], ["Sources", a.ip], ["Countries", a.cc], ["Networks", a.net],
      ["Tables", a.tb], ["Accounts", a.ac], ["Regions", a.rg], ["Actions", a.act],
      ["Events", [String(a.n)]], ["First event", a.f ? [a.f] : []],
      ["Last event", a.l ? [a.l] : []], ["User agents", a.ua], ["Alert id", [a.id]]
    ];
    rows.forEach(function (row) {
      if (!row[1].length) return;
      var div = element("div");
      div.appendChild(element("dt", null, row[0]));
      div.appendChild(element("dd", null, row[1].join(", ")));
      dl.appendChild(div);
    });
    return dl;
  }

  function techniques(rule) {
    var p = element("p");
    rule.techniques.forEach(function (t, n) {
      if (n) p.appendChild(document.createTextNode(" \u00b7 "));
      if (ATTACK.test(t[2])) {
        var link = element("a", null, t[0]);
        link.href = t[2];
        link.rel = "noopener noreferrer";
        p.appendChild(link);
      } else {
        p.appendChild(element("span", null, t[0]));
      }
      p.appendChild(document.createTextNode(" " + visible(t[1])));
    });
    return p;
  }

  function table(head, rows) {
    var t = element("table");
    var tr = element("tr");
    head.forEach(function (name) { tr.appendChild(element("th", null, name)); });
    t.appendChild(element("thead")).appendChild(tr);
    var tbody = t.appendChild(element("tbody"));
    rows.forEach(function (row) {
      var line = tbody.appendChild(element("tr"));
      row.forEach(function (value) { line.appendChild(element("td", null, value)); });
    });
    return t;
  }

  function evidence(a) {
    var box = element("div", "evidence");
    var rows = a.ev.map(function (doc) {
      return EVIDENCE.map(function (field) { return lookup(doc, field[1].split(".")).join(", "); });
    });
    box.appendChild(table(EVIDENCE.map(function (f) { return f[0]; }), rows));
    a.ev.forEach(function (doc, n) {
      var raw = element("details");
      var id = lookup(doc, ["event", "id"])[0] || "#" + (n + 1);
      raw.appendChild(element("summary", null, "Raw JSON of event " + id));
      var pre = element("pre");
      pre.textContent = JSON.stringify(doc, null, 2).replace(INVISIBLE, escaped);
      raw.appendChild(pre);
      box.appendChild(raw);
    });
    if (a.n > a.ev.length) {
      box.appendChild(element("p", "note", "The alert keeps the first " + a.ev.length +
        " of its " + a.n + " events."));
    }
    return box;
  }

  function body(a) {
    var rule = rules[a.r];
    var box = element("div", "body");
    box.appendChild(facts(a));
    if (rule.techniques.length) {
      box.appendChild(element("h3", null, "MITRE ATT&CK"));
      box.appendChild(techniques(rule));
    }
    if (a.k.length) {
      box.appendChild(element("h3", null, "Group values"));
      box.appendChild(table(["field", "value"], a.k.map(function (kv) {
        return [kv[0], kv[1] === null ? "(none)" : kv[1]];
      })));
    }
    box.appendChild(element("h3", null, "Evidence"));
    box.appendChild(evidence(a));
    var guide = rule.guide === null ? null : document.getElementById("guide-" + rule.guide);
    if (guide) {
      box.appendChild(element("h3", null, "Investigation guide"));
      var copy = guide.cloneNode(true);
      copy.removeAttribute("id");
      box.appendChild(copy);
    }
    return box;
  }

  function clear() {
    form.querySelectorAll("input[name=severity]").forEach(function (box) { box.checked = true; });
    form.elements.rule.value = form.elements.account.value = form.elements.actor.value = "";
    form.elements.q.value = "";
  }

  function showOnly(set) {
    clear();
    set();
    apply();
    document.getElementById("alerts").scrollIntoView();
  }

  var typing = null;
  form.addEventListener("input", function (event) {
    if (event.target.name !== "q") return;
    clearTimeout(typing);
    typing = setTimeout(apply, 150);
  });
  form.addEventListener("change", function (event) {
    if (event.target.name !== "q") apply();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(typing);
    apply();
  });
  form.addEventListener("reset", function (event) {
    // done here rather than by the browser, so that the list follows at once
    event.preventDefault();
    clear();
    form.elements.order.value = "severity";
    apply();
  });
  more.addEventListener("click", function () { limit += PAGE; render(); });
  marks.forEach(function (mark) {
    mark.addEventListener("click", function () {
      var a = alerts[Number(mark.getAttribute("data-i"))];
      showOnly(function () { form.elements.q.value = a.id; });
      var first = list.querySelector("details");
      if (first) first.open = true;
    });
  });
  document.querySelectorAll("button.show-actor").forEach(function (button) {
    button.addEventListener("click", function () {
      showOnly(function () { form.elements.actor.value = button.getAttribute("data-actor"); });
    });
  });
  apply();
  document.documentElement.setAttribute("data-ready", "true");
})();
