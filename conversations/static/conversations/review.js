// The live review dashboard. An admin page with #gk-live opens WS /ws/dashboard/ (the admin session
// authenticates it). On each "changed" doorbell the page fetches itself again over HTTP and swaps
// its [data-gk-live] parts (the queue; the conversation's header, thread and history), keeping
// what the owner is typing. A "receipts" doorbell (a message delivered or read) refreshes only a
// page whose thread shows one of its conversations. The title says what waits: "(3) Review and steer ...". A change list
// shows a "refresh" note instead of swapping rows under the owner's selection. The socket
// reconnects with backoff; while it is down, a conversation with a reply on its way reloads itself
// (as before), never while the owner is typing.
(function () {
  "use strict";
  if (window.gkLive) {
    return;
  }
  window.gkLive = true;

  var anchor = document.getElementById("gk-live");
  var baseTitle = document.title.replace(/^\(\d+\)\s+/, "");
  var socket = null;
  var connected = false;
  var retries = 0;
  var fetching = false;
  var again = false;
  var typed = false;
  var seenThrough = {}; // draft card id -> the newest message id the page was loaded with

  document.addEventListener("input", function () {
    typed = true;
  });

  function showWaiting(count) {
    var n = parseInt(count, 10) || 0;
    document.title = n > 0 ? "(" + n + ") " + baseTitle : baseTitle;
    document.documentElement.setAttribute("data-gk-waiting", String(n));
  }

  function editedFields(part) {
    // Text the owner typed or is typing, by field id, to put back after the swap.
    var kept = [];
    part.querySelectorAll("textarea[id], input[id], select[id]").forEach(function (field) {
      var type = (field.type || "").toLowerCase();
      if (type === "hidden" || type === "submit" || type === "button") {
        return;
      }
      var toggle = type === "checkbox" || type === "radio";
      var changed = toggle
        ? field.checked !== field.defaultChecked
        : field.tagName === "SELECT"
          ? Array.prototype.some.call(field.options, function (o) {
              return o.selected !== o.defaultSelected;
            })
          : field.value !== field.defaultValue;
      if (changed || field === document.activeElement) {
        var text = !toggle && field.tagName !== "SELECT";
        kept.push({
          id: field.id,
          value: field.value,
          checked: field.checked,
          toggle: toggle,
          focused: field === document.activeElement,
          start: text ? field.selectionStart : null,
          end: text ? field.selectionEnd : null,
        });
      }
    });
    return kept;
  }

  function restore(kept) {
    kept.forEach(function (item) {
      var field = document.getElementById(item.id);
      if (!field) {
        return;
      }
      if (item.toggle) {
        field.checked = item.checked;
      } else {
        field.value = item.value;
      }
      if (item.focused) {
        field.focus();
        if (item.start !== null) {
          try {
            field.setSelectionRange(item.start, item.end);
          } catch (e) {
            /* not a text field */
          }
        }
      }
    });
  }

  function swap(fresh) {
    document.querySelectorAll("[data-gk-live][id]").forEach(function (part) {
      var replacement = fresh.getElementById(part.id);
      if (!replacement) {
        return;
      }
      var kept = editedFields(part);
      // A decision still names the newest message the page had when it was loaded: a message that
      // arrives live shows at once, and approving its draft then asks once more (never silently).
      part.querySelectorAll("input[name=seen_through]").forEach(function (seen) {
        var form = seen.form && seen.form.closest("[id]");
        if (form) {
          seenThrough[form.id] = seenThrough[form.id] || seen.value;
        }
      });
      var opened = Array.prototype.map.call(part.querySelectorAll("details[open][id]"), function (d) {
        return d.id;
      });
      part.replaceWith(document.importNode(replacement, true));
      restore(kept);
      document.querySelectorAll("input[name=seen_through]").forEach(function (seen) {
        var form = seen.form && seen.form.closest("[id]");
        if (form && seenThrough[form.id]) {
          seen.value = seenThrough[form.id];
        }
      });
      opened.forEach(function (id) {
        var details = document.getElementById(id);
        if (details) {
          details.open = true;
        }
      });
    });
  }

  function noteOnList() {
    if (document.getElementById("gk-live-note")) {
      return;
    }
    var note = document.createElement("p");
    note.id = "gk-live-note";
    note.className = "gk-live-note";
    note.setAttribute("role", "status");
    var link = document.createElement("a");
    link.href = window.location.href;
    link.textContent = "Something changed: refresh the list";
    note.appendChild(link);
    var list = document.getElementById("changelist") || document.getElementById("content-main");
    if (list && list.parentNode) {
      list.parentNode.insertBefore(note, list);
    }
  }

  function showsAny(conversations) {
    var thread = document.querySelector("[data-gk-conversation]");
    var shown = thread && parseInt(thread.getAttribute("data-gk-conversation"), 10);
    return Boolean(shown) && Array.isArray(conversations) && conversations.indexOf(shown) !== -1;
  }

  function refresh() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var count = fresh.getElementById("gk-live");
        if (count) {
          showWaiting(count.getAttribute("data-gk-waiting"));
        }
        if (document.querySelector("[data-gk-live][id]")) {
          swap(fresh);
        } else {
          noteOnList();
        }
        document.documentElement.setAttribute("data-gk-refreshed", String(Date.now()));
      })
      .catch(function () {
        /* the next doorbell or reconnect tries again */
      })
      .then(function () {
        fetching = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + anchor.getAttribute("data-gk-socket"));
    socket.onopen = function () {
      connected = true;
      document.documentElement.setAttribute("data-gk-socket", "open");
      if (retries > 0) {
        refresh(); // what changed while the socket was down
      }
      retries = 0;
    };
    socket.onmessage = function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (frame.type === "changed" || (frame.type === "receipts" && showsAny(frame.conversations))) {
        refresh();
      }
    };
    socket.onclose = function () {
      connected = false;
      document.documentElement.setAttribute("data-gk-socket", "closed");
      // 1 s, 2 s, 4 s ... up to 30 s, with jitter so a restart is not hit by every page at once.
      var delay = Math.min(30000, 1000 * Math.pow(2, retries)) * (0.75 + Math.random() * 0.5);
      retries += 1;
      window.setTimeout(connect, delay);
    };
  }

  // Without the socket: reload a conversation while a reply is on its way, so its delivery shows.
  function reloadWhileSending() {
    var thread = document.querySelector("[data-gk-refresh]");
    if (!thread) {
      return;
    }
    var every = Math.max(2, parseInt(thread.getAttribute("data-gk-refresh"), 10) || 5) * 1000;
    window.setTimeout(function () {
      var active = document.activeElement;
      var busy = typed || (active && (active.tagName === "TEXTAREA" || active.tagName === "INPUT"));
      if (connected) {
        reloadWhileSending(); // the socket tells us; check again later in case it drops
      } else if (!busy) {
        window.location.reload();
      }
    }, every);
  }

  if (anchor) {
    showWaiting(anchor.getAttribute("data-gk-waiting"));
    if ("WebSocket" in window && "fetch" in window) {
      connect();
    }
  }
  reloadWhileSending();
})();
