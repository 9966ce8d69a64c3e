/*
 * Gatekeeper chat widget: one tag puts a chat bubble on any page whose origin the owner allowed.
 *
 *   <script src="https://gatekeeper.example/static/webchat/widget.js" data-slug="chat" async></script>
 *
 * Optional: data-label="Chat with us" (the bubble's name), data-position="left".
 * The chat itself is the /chat/<slug>/ page in an iframe, so it keeps its own origin, storage and
 * security headers; that page may only be framed by the account's allowed origins.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script || window.__gatekeeperChat) return;
  const slug = script.dataset.slug;
  if (!slug) {
    console.error("Gatekeeper widget: add data-slug=\"<your chat's slug>\" to the script tag.");
    return;
  }
  window.__gatekeeperChat = true;

  const base = new URL(script.src, window.location.href).origin;
  const chatUrl = base + "/chat/" + encodeURIComponent(slug) + "/?embed=1";
  const label = script.dataset.label || "Chat with us";
  const side = script.dataset.position === "left" ? "left" : "right";

  const CSS = `
    :host { all: initial; }
    .bubble {
      position: fixed; ${side}: 20px; bottom: 20px; z-index: 2147483000;
      width: 60px; height: 60px; border: 0; border-radius: 50%; cursor: pointer;
      display: grid; place-items: center; color: #fff;
      background: linear-gradient(135deg, #2557d6, #7b5cff);
      box-shadow: 0 10px 30px rgba(23, 32, 46, 0.3), 0 2px 6px rgba(23, 32, 46, 0.2);
      transition: transform 0.15s ease;
    }
    .bubble:hover { transform: scale(1.05); }
    .bubble:focus-visible { outline: 3px solid #ffbf47; outline-offset: 3px; }
    .bubble svg { width: 28px; height: 28px; }
    .bubble .close { display: none; }
    .bubble[aria-expanded="true"] .open { display: none; }
    .bubble[aria-expanded="true"] .close { display: block; }
    .dot {
      position: absolute; top: 4px; right: 4px; width: 14px; height: 14px; border-radius: 50%;
      background: #e5484d; border: 2px solid #fff; display: none;
    }
    .bubble.has-unread .dot { display: block; }
    .panel {
      position: fixed; box-sizing: border-box; ${side}: 20px; bottom: 92px; z-index: 2147483000;
      width: min(400px, calc(100vw - 40px)); height: min(620px, calc(100vh - 120px));
      border-radius: 18px; overflow: hidden; background: #fff;
      box-shadow: 0 24px 60px rgba(23, 32, 46, 0.3), 0 2px 8px rgba(23, 32, 46, 0.15);
    }
    .panel[hidden] { display: none; }
    iframe { width: 100%; height: 100%; border: 0; display: block; }
    .unavailable {
      position: absolute; inset: 0; margin: 0; display: grid; place-items: center; padding: 32px;
      background: #fff; color: #17202e; text-align: center;
      font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
    }
    @media (max-width: 480px) {
      .panel { ${side}: 0; bottom: 0; width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; }
      .bubble[aria-expanded="true"] { display: none; }
    }
    @media (prefers-reduced-motion: reduce) { .bubble { transition: none; } }
  `;

  const host = document.createElement("div");
  host.setAttribute("data-gatekeeper-chat", slug);
  const shadow = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in shadow && "replaceSync" in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement("style");
    style.textContent = CSS;
    shadow.appendChild(style);
  }

  const panelId = "gatekeeper-chat-panel";
  const bubble = document.createElement("button");
  bubble.type = "button";
  bubble.className = "bubble";
  bubble.setAttribute("aria-label", label);
  bubble.setAttribute("aria-expanded", "false");
  bubble.setAttribute("aria-controls", panelId);
  // Static markup only: no page or server data is ever inserted as HTML.
  bubble.innerHTML =
    '<svg class="open" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 3C6.5 3 2 6.8 2 11.5c0 2.4 1.2 4.6 3.1 6.1L4.3 21l4-1.9c1.2.4 2.4.6 3.7.6 5.5 0 10-3.8 10-8.5S17.5 3 12 3z"/></svg>' +
    '<svg class="close" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/></svg>' +
    '<span class="dot"></span>';

  const panel = document.createElement("div");
  panel.className = "panel";
  panel.id = panelId;
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", label);

  let frame = null;
  let ready = false; // the chat page said hello: it loaded, on a site allowed to frame it

  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = label;
      frame.src = chatUrl;
      frame.referrerPolicy = "origin";
      frame.addEventListener("load", () => window.setTimeout(checkReady, 2000));
      panel.appendChild(frame);
    }
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    bubble.classList.remove("has-unread");
    focusChat();
  }

  function close() {
    panel.hidden = true;
    bubble.setAttribute("aria-expanded", "false");
    bubble.focus();
  }

  function focusChat() {
    if (!frame || panel.hidden || !ready) return;
    frame.focus();
    frame.contentWindow.postMessage({ gatekeeper: "focus" }, base);
  }

  function checkReady() {
    if (ready || panel.querySelector(".unavailable")) return;
    // The page refused to be framed here (or could not load): say so instead of an empty box.
    const note = document.createElement("p");
    note.className = "unavailable";
    note.setAttribute("role", "alert");
    note.textContent = "Sorry, this chat is not available on this site.";
    panel.appendChild(note);
    console.error(
      "Gatekeeper widget: " + window.location.origin + " may not embed the chat '" + slug +
        "'. Add it to the web-chat account's allowed origins."
    );
  }

  bubble.addEventListener("click", () => (panel.hidden ? open() : close()));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) close();
  });
  window.addEventListener("message", (event) => {
    if (event.origin !== base || !frame || event.source !== frame.contentWindow) return;
    const what = event.data && event.data.gatekeeper;
    if (what === "ready") {
      ready = true;
      focusChat();
    } else if (what === "close") close();
    else if (what === "message" && panel.hidden) bubble.classList.add("has-unread");
  });

  shadow.append(panel, bubble);
  const mount = () => document.body.appendChild(host);
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
