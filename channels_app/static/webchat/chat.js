/*
 * Gatekeeper web chat page. No build step, no dependencies.
 *
 * Speaks the socket protocol of docs/architecture.md on /ws/chat/<slug>/ and falls back to the HTTP twin
 * (POST/GET /webchat) when sockets cannot connect. Every text is shown with textContent, never
 * as HTML. Unsent messages stay in an outbox and are sent again, with the same client_id, after
 * a reconnect; the server stores each client_id once.
 *
 * The visitor token is a credential, so it never goes in a URL (URLs end up in access logs): the
 * socket gets it in a subprotocol, the HTTP twin in the X-Visitor-Token header.
 */
(function () {
  "use strict";

  const root = document.querySelector("[data-chat]");
  if (!root) return;

  const slug = root.dataset.slug;
  const ownerName = root.dataset.owner || "";
  const maxLength = parseInt(root.dataset.maxLength, 10) || 2000;
  const httpUrl = root.dataset.httpUrl;
  const embedded = document.body.classList.contains("is-embed");
  const UNKNOWN_CHAT = 4404;
  const TYPING_TIMEOUT_MS = 30000;
  const POLL_MS = 3000;

  const el = (id) => document.getElementById(id);
  const ui = {
    log: el("log"),
    list: el("messages"),
    empty: el("empty"),
    typing: el("typing"),
    held: el("held"),
    error: el("error"),
    connection: el("connection"),
    connectionText: el("connection-text"),
    form: el("composer"),
    text: el("message-text"),
    name: el("visitor-name"),
    send: el("send"),
    counter: el("counter"),
    close: el("close"),
  };

  // -- storage: the visitor token survives reloads; a browser that refuses storage gets memory --
  const memory = {};
  const store = (() => {
    try {
      const probe = "gatekeeper.probe";
      window.localStorage.setItem(probe, probe);
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (error) {
      return null;
    }
  })();
  const load = (key) => (store ? store.getItem(key) : memory[key]) || "";
  const save = (key, value) => {
    if (store) store.setItem(key, value);
    else memory[key] = value;
  };
  const TOKEN_KEY = "gatekeeper.webchat." + slug + ".token";
  const NAME_KEY = "gatekeeper.webchat.name";

  // -- state ----------------------------------------------------------------------------------
  const shown = new Map(); // message id -> <li>
  const pending = new Map(); // client_id -> {item, li}
  let lastId = 0;
  let socket = null;
  let mode = "socket"; // or "http" after sockets failed to open
  let failures = 0;
  let everOpened = false;
  let finished = false;
  let typingTimer = 0;
  let pollTimer = 0;

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // -- rendering (textContent only) -------------------------------------------------------------
  const AUTHOR_LABEL = { visitor: "You", assistant: "Assistant", owner: ownerName || "Account holder" };

  function timeLabel(iso) {
    const date = iso ? new Date(iso) : new Date();
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function buildItem(author) {
    const li = document.createElement("li");
    li.className = "msg msg--" + (AUTHOR_LABEL[author] ? author : "assistant") + " is-new";
    const bubble = document.createElement("div");
    bubble.className = "msg__bubble";
    const text = document.createElement("p");
    text.className = "msg__text";
    bubble.appendChild(text);
    const meta = document.createElement("p");
    meta.className = "msg__meta";
    li.append(bubble, meta);
    return li;
  }

  function fill(li, author, text, createdAt, note) {
    li.querySelector(".msg__text").textContent = text;
    const meta = li.querySelector(".msg__meta");
    meta.textContent = "";
    const who = document.createElement("span");
    who.textContent = AUTHOR_LABEL[author] || "Assistant";
    const when = document.createElement("time");
    if (createdAt) {
      when.dateTime = createdAt;
      when.title = new Date(createdAt).toLocaleString();
    }
    when.textContent = note || timeLabel(createdAt);
    meta.append(who, document.createTextNode(" · "), when);
  }

  function nearBottom() {
    return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 120;
  }

  function scrollToEnd() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function place(li, id) {
    // Confirmed messages sit in id order, before anything still pending.
    for (const other of ui.list.children) {
      const otherId = Number(other.dataset.id || Infinity);
      if (otherId > id) {
        ui.list.insertBefore(li, other);
        return;
      }
    }
    ui.list.appendChild(li);
  }

  function render(message) {
    if (!message || typeof message.id !== "number" || shown.has(message.id)) return;
    const follow = nearBottom() || message.author === "visitor";
    let li = null;
    const mine = message.client_id && pending.get(message.client_id);
    if (mine) {
      pending.delete(message.client_id);
      li = mine.li;
      li.classList.remove("is-pending");
      li.removeAttribute("aria-busy");
      li.remove();
    } else {
      li = buildItem(message.author);
    }
    li.dataset.id = String(message.id);
    fill(li, message.author, message.text, message.created_at);
    place(li, message.id);
    shown.set(message.id, li);
    lastId = Math.max(lastId, message.id);
    ui.empty.hidden = true;
    if (message.author !== "visitor") {
      setTyping(false);
      setHeld(false);
      if (embedded) tellParent("message");
    }
    if (follow) scrollToEnd();
  }

  function renderPending(item) {
    const li = buildItem("visitor");
    li.classList.add("is-pending");
    li.setAttribute("aria-busy", "true");
    fill(li, "visitor", item.text, null, "Sending…");
    ui.list.appendChild(li);
    pending.set(item.client_id, { item, li });
    ui.empty.hidden = true;
    scrollToEnd();
  }

  function setTyping(on) {
    window.clearTimeout(typingTimer);
    ui.typing.hidden = !on;
    if (on) typingTimer = window.setTimeout(() => setTyping(false), TYPING_TIMEOUT_MS);
  }

  function setHeld(on) {
    ui.held.hidden = !on;
    if (on) setTyping(false);
  }

  function showError(text) {
    ui.error.textContent = text || "";
    ui.error.hidden = !text;
  }

  const CONNECTION_TEXT = {
    connecting: "Connecting…",
    online: "Online",
    reconnecting: "Reconnecting…",
    polling: "Online",
    offline: "Offline",
  };

  function setConnection(state) {
    ui.connection.dataset.state = state === "polling" ? "online" : state;
    ui.connectionText.textContent = CONNECTION_TEXT[state];
    ui.connection.title =
      state === "polling" ? "Live updates are unavailable; checking for replies every few seconds." : "";
  }

  // -- frames from the server -------------------------------------------------------------------
  function handle(frame) {
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "history":
        if (frame.visitor_token) save(TOKEN_KEY, frame.visitor_token);
        (frame.messages || []).forEach(render);
        setHeld(Boolean(frame.held));
        scrollToEnd();
        flushOutbox();
        break;
      case "message":
        render(frame);
        break;
      case "typing":
        setTyping(true);
        break;
      case "held":
        setHeld(true);
        break;
      case "error":
        refused(frame);
        break;
      default:
        break; // unknown frames are ignored, so the server may add new ones
    }
  }

  function refused(frame) {
    const entry = frame.client_id && pending.get(frame.client_id);
    if (entry) {
      pending.delete(frame.client_id);
      entry.li.remove();
      if (!ui.text.value) {
        ui.text.value = entry.item.text;
        autosize();
      }
    }
    if (frame.code === "unknown_chat") finish(frame.error);
    else showError(frame.error || "Something went wrong.");
  }

  function finish(text) {
    finished = true;
    setConnection("offline");
    showError(text || "This chat is not available.");
    ui.text.disabled = true;
    ui.send.disabled = true;
  }

  // -- the socket -------------------------------------------------------------------------------
  const SUBPROTOCOL = "gatekeeper.webchat";
  const TOKEN_SUBPROTOCOL = "gatekeeper.visitor-token.";
  const TOKEN_HEADER = "X-Visitor-Token";

  function socketUrl() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + "/ws/chat/" + encodeURIComponent(slug) + "/";
  }

  function socketProtocols() {
    // The token as unpadded base64url: a subprotocol may not contain the token's ":".
    const token = load(TOKEN_KEY);
    if (!token) return [SUBPROTOCOL];
    const encoded = btoa(token).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    return [SUBPROTOCOL, TOKEN_SUBPROTOCOL + encoded];
  }

  function connect() {
    if (finished) return;
    if (!("WebSocket" in window)) return startPolling();
    setConnection(everOpened ? "reconnecting" : "connecting");
    try {
      socket = new WebSocket(socketUrl(), socketProtocols());
    } catch (error) {
      startPolling();
      return;
    }
    socket.addEventListener("open", () => {
      everOpened = true;
      failures = 0;
      setConnection("online");
    });
    socket.addEventListener("message", (event) => {
      let frame = null;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      handle(frame);
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      if (event.code === UNKNOWN_CHAT || finished) {
        finish();
        return;
      }
      failures += 1;
      if (!everOpened && failures >= 3) {
        startPolling();
        return;
      }
      setConnection("reconnecting");
      const delay = Math.min(15000, 400 * 2 ** failures) * (0.75 + Math.random() * 0.5);
      window.setTimeout(connect, delay);
    });
  }

  // -- the HTTP twin, for networks that block sockets --------------------------------------------
  function startPolling() {
    mode = "http";
    setConnection("polling");
    poll();
    flushOutbox();
  }

  async function poll() {
    window.clearTimeout(pollTimer);
    const token = load(TOKEN_KEY);
    if (token) {
      const query = new URLSearchParams({ account: slug });
      if (lastId) query.set("after", String(lastId));
      try {
        const response = await fetch(httpUrl + "?" + query.toString(), {
          headers: { [TOKEN_HEADER]: token },
          credentials: "omit",
        });
        if (response.ok) {
          const data = await response.json();
          (data.messages || []).forEach(render);
          if (data.held) setHeld(true);
          setConnection("polling");
        } else if (response.status === 404) {
          finish();
          return;
        }
      } catch (error) {
        setConnection("reconnecting");
      }
    }
    pollTimer = window.setTimeout(poll, POLL_MS);
  }

  async function post(item) {
    const body = { account: slug, text: item.text, client_id: item.client_id };
    if (item.name) body.name = item.name;
    const headers = { "Content-Type": "application/json" };
    const token = load(TOKEN_KEY);
    if (token) headers[TOKEN_HEADER] = token;
    try {
      const response = await fetch(httpUrl, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        credentials: "omit",
      });
      const data = await response.json();
      if (response.status === 202) {
        save(TOKEN_KEY, data.visitor_token);
        render(data.message);
      } else {
        refused({ ...data, type: "error", client_id: item.client_id });
      }
    } catch (error) {
      setConnection("reconnecting"); // stays in the outbox; the next poll cycle retries
      window.setTimeout(() => pending.has(item.client_id) && post(item), POLL_MS);
    }
  }

  // -- sending ----------------------------------------------------------------------------------
  function transmit(item) {
    if (mode === "http") {
      post(item);
      return;
    }
    if (socket && socket.readyState === WebSocket.OPEN) {
      const frame = { type: "message", text: item.text, client_id: item.client_id };
      if (item.name) frame.name = item.name;
      socket.send(JSON.stringify(frame));
    }
    // Otherwise it waits in the outbox until the next history frame.
  }

  function flushOutbox() {
    for (const { item } of pending.values()) transmit(item);
  }

  function submit() {
    const text = ui.text.value.trim();
    if (!text || finished) {
      ui.text.focus();
      return;
    }
    if (text.length > maxLength) {
      showError("Messages can be at most " + maxLength + " characters long.");
      return;
    }
    showError("");
    const name = ui.name.value.trim();
    save(NAME_KEY, name);
    const item = { client_id: newClientId(), text, name };
    renderPending(item);
    ui.text.value = "";
    autosize();
    updateCounter();
    transmit(item);
    ui.text.focus();
  }

  function autosize() {
    ui.text.style.height = "auto";
    ui.text.style.height = Math.min(ui.text.scrollHeight + 2, 180) + "px";
  }

  function updateCounter() {
    const length = ui.text.value.length;
    const near = length > maxLength * 0.8;
    ui.counter.textContent = near ? length + " / " + maxLength : "";
    ui.counter.classList.toggle("is-near", near);
  }

  // -- the widget's frame -------------------------------------------------------------------------
  function tellParent(what) {
    if (window.parent !== window) window.parent.postMessage({ gatekeeper: what }, "*");
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  ui.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  ui.text.addEventListener("input", () => {
    autosize();
    updateCounter();
  });
  ui.name.value = load(NAME_KEY);

  if (embedded) {
    if (ui.close) ui.close.addEventListener("click", () => tellParent("close"));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") tellParent("close");
    });
    window.addEventListener("message", (event) => {
      if (event.source === window.parent && event.data && event.data.gatekeeper === "focus") ui.text.focus();
    });
    tellParent("ready");
  } else {
    ui.text.focus();
  }

  connect();
})();
