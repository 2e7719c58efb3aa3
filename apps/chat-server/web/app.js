// The chat page (docs/chat-protocol.md §2, §5, §6, §7): connects to namespace "/" with
// auth {userId, username}, joins a conversation (room <id>) and its presence room
// (presence-<id>), shows the history, live messages, who is typing and who is online.
// Sends over the socket with an ack, or over HTTP while the socket is down.
// URL parameters: ?user=<name> connects at once, ?conversation=<id> joins at once,
// ?token=<jwt> for a server started with --jwt-secret.
(function () {
  "use strict";

  const TYPING_IDLE_MS = 2000; // stopTyping after this long without a keystroke
  const REMOTE_TYPING_MS = 6000; // forget a typist whose stopTyping never came
  const ACK_TIMEOUT_MS = 5000;
  const HISTORY_LIMIT = 50;

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $("connection-status"),
    loginForm: $("login-form"),
    username: $("username"),
    joinForm: $("join-form"),
    conversationId: $("conversation-id"),
    title: $("conversation-title"),
    messages: $("messages"),
    typing: $("typing-indicator"),
    error: $("error"),
    sendForm: $("send-form"),
    messageInput: $("message-input"),
    sendButton: $("send-button"),
    onlineList: $("online-list"),
  };

  const params = new URLSearchParams(location.search);
  const state = {
    socket: null,
    userId: null,
    token: params.get("token") || null,
    conversationId: null,
    everConnected: false,
    members: new Map(), // user_id -> display name
    typists: new Map(), // userId -> expiry timer
    typingFor: null, // conversation we told the others we are typing in
    typingTimer: null,
  };

  const presenceRoom = (id) => "presence-" + id;

  // ---- small UI helpers ----

  function setStatus(kind, text) {
    el.status.dataset.state = kind;
    el.status.textContent = text;
  }

  function showError(text) {
    el.error.textContent = text || "";
  }

  function updateControls() {
    const canSend = Boolean(state.userId && state.conversationId);
    el.messageInput.disabled = !canSend;
    el.sendButton.disabled = !canSend;
  }

  function updateUrl() {
    const p = new URLSearchParams(location.search);
    if (state.userId) p.set("user", state.userId);
    if (state.conversationId) p.set("conversation", state.conversationId);
    history.replaceState(null, "", location.pathname + "?" + p.toString());
  }

  // The user id claim of a JWT (userId | sub | id), read without checking: the server checks.
  function tokenUserId(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
      const id = [claims.userId, claims.sub, claims.id].find((v) => typeof v === "string" || Number.isInteger(v));
      return id === undefined ? null : String(id);
    } catch (_) {
      return null;
    }
  }

  function authHeaders(extra) {
    const h = Object.assign({}, extra);
    if (state.token) h.Authorization = "Bearer " + state.token;
    return h;
  }

  function displayName(userId) {
    return state.members.get(userId) || userId;
  }

  // ---- messages ----

  function messageItem(id) {
    return el.messages.querySelector('li[data-message-id="' + CSS.escape(String(id)) + '"]');
  }

  function fillMessage(li, m) {
    li.replaceChildren();
    li.dataset.senderId = m.senderId;
    li.dataset.createdAt = m.createdAt || "";
    li.classList.toggle("mine", m.senderId === state.userId);
    li.classList.toggle("deleted", Boolean(m.deleted));

    const meta = document.createElement("div");
    meta.className = "meta";
    const sender = document.createElement("span");
    sender.className = "sender";
    sender.dataset.testid = "message-sender";
    sender.textContent = displayName(m.senderId);
    meta.append(sender);
    if (m.createdAt) {
      const time = document.createElement("time");
      time.dateTime = m.createdAt;
      const d = new Date(m.createdAt);
      time.textContent = isNaN(d) ? m.createdAt : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      time.title = isNaN(d) ? m.createdAt : d.toLocaleString();
      meta.append(" ", time);
    }
    if (m.editedAt && !m.deleted) meta.append(" (edited)");

    const body = document.createElement("p");
    body.className = "content";
    body.dataset.testid = "message-content";
    if (m.deleted) {
      body.textContent = "This message was deleted";
    } else {
      body.textContent = m.content || "";
      if ((m.type === "file" || m.type === "image") && m.fileUrl && /^(https?:|\/)/i.test(m.fileUrl)) {
        const a = document.createElement("a");
        a.href = m.fileUrl;
        a.rel = "noopener noreferrer";
        a.target = "_blank";
        a.textContent = m.fileName || m.fileUrl;
        if (body.textContent) body.append(" ");
        body.append(a);
      }
    }
    li.append(meta, body);
  }

  // Inserts m in createdAt order (history and live messages may arrive in any order);
  // a message already shown is updated in place.
  function addMessage(m) {
    if (!m || m.id === undefined || m.id === null) return;
    const existing = messageItem(m.id);
    if (existing) {
      fillMessage(existing, m);
      return;
    }
    const li = document.createElement("li");
    li.className = "message";
    li.dataset.testid = "message";
    li.dataset.messageId = String(m.id);
    fillMessage(li, m);
    const at = m.createdAt || "";
    let after = el.messages.lastElementChild;
    while (after && after.dataset.createdAt > at) after = after.previousElementSibling;
    const stick = el.messages.scrollHeight - el.messages.scrollTop - el.messages.clientHeight < 40;
    if (after) after.after(li);
    else el.messages.prepend(li);
    if (stick || m.senderId === state.userId) el.messages.scrollTop = el.messages.scrollHeight;
  }

  function loadHistory(id) {
    const url = "/api/conversations/" + encodeURIComponent(id) + "/messages?limit=" + HISTORY_LIMIT;
    fetch(url, { headers: authHeaders() })
      .then((r) =>
        r.json().then(
          (body) => {
            if (!r.ok) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
            return body;
          },
          () => {
            throw new Error("HTTP " + r.status);
          },
        ),
      )
      .then((body) => {
        if (id !== state.conversationId) return;
        // newest first on the wire: show them oldest first
        (body.messages || []).slice().reverse().forEach(addMessage);
        el.messages.dataset.historyLoaded = "true";
      })
      .catch((err) => {
        if (id === state.conversationId) showError("Could not load the history: " + err.message);
      });
  }

  // ---- presence ----

  function renderMembers() {
    const items = [...state.members.entries()].sort((a, b) => a[1].localeCompare(b[1]));
    el.onlineList.replaceChildren(
      ...items.map(([userId, name]) => {
        const li = document.createElement("li");
        li.dataset.testid = "online-user";
        li.dataset.userId = userId;
        li.textContent = name;
        if (userId === state.userId) {
          li.classList.add("me");
          const you = document.createElement("span");
          you.className = "you";
          you.textContent = " (you)";
          li.append(you);
        }
        return li;
      }),
    );
  }

  function memberName(m) {
    return (m.user_info && m.user_info.name) || String(m.user_id);
  }

  function setMembers(members) {
    state.members.clear();
    for (const m of members || []) state.members.set(String(m.user_id), memberName(m));
    renderMembers();
  }

  // ---- typing ----

  function renderTypists() {
    const names = [...state.typists.keys()].map(displayName);
    let text = "";
    if (names.length === 1) text = names[0] + " is typing…";
    else if (names.length === 2) text = names[0] + " and " + names[1] + " are typing…";
    else if (names.length > 2) text = names.length + " people are typing…";
    el.typing.textContent = text;
    el.typing.dataset.users = [...state.typists.keys()].join(",");
  }

  function setTypist(userId, typing) {
    if (!userId || userId === state.userId) return;
    clearTimeout(state.typists.get(userId));
    if (typing) {
      state.typists.set(
        userId,
        setTimeout(() => setTypist(userId, false), REMOTE_TYPING_MS),
      );
    } else {
      state.typists.delete(userId);
    }
    renderTypists();
  }

  function clearTypists() {
    for (const t of state.typists.values()) clearTimeout(t);
    state.typists.clear();
    renderTypists();
  }

  function stopOwnTyping() {
    clearTimeout(state.typingTimer);
    state.typingTimer = null;
    if (!state.typingFor) return;
    const conversationId = state.typingFor;
    state.typingFor = null;
    if (state.socket && state.socket.connected) {
      state.socket.emit("stopTyping", { conversationId, userId: state.userId });
    }
  }

  function onInput() {
    const s = state.socket;
    if (!state.conversationId || !s || !s.connected) return;
    if (el.messageInput.value === "") {
      stopOwnTyping();
      return;
    }
    if (state.typingFor !== state.conversationId) {
      stopOwnTyping();
      state.typingFor = state.conversationId;
      s.emit("typing", { conversationId: state.conversationId, userId: state.userId });
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopOwnTyping, TYPING_IDLE_MS);
  }

  // ---- socket ----

  // then() runs once joinRoom is answered: with --jwt-secret joining is what makes this
  // user a participant, whom alone the history is shown to.
  function joinRooms(id, then) {
    const s = state.socket;
    s.timeout(ACK_TIMEOUT_MS).emit("joinRoom", id, (err, res) => {
      if (id !== state.conversationId) return;
      if (err) showError("The server did not answer joinRoom");
      else if (!res || res.status !== "ok") showError("Cannot join: " + ((res && res.error) || "unknown error"));
      if (then) then();
    });
    s.timeout(ACK_TIMEOUT_MS).emit("join", { room: presenceRoom(id) }, (err, res) => {
      if (id !== state.conversationId) return;
      if (err) showError("The server did not answer join");
      else if (!res || res.status !== "ok") showError("Cannot join presence: " + ((res && res.error) || "unknown error"));
      else setMembers(res.members);
    });
  }

  function leaveRooms(id) {
    const s = state.socket;
    if (!s || !s.connected) return;
    s.emit("leaveRoom", id);
    s.emit("leave", { room: presenceRoom(id) });
  }

  function connect(name) {
    if (state.socket) {
      stopOwnTyping();
      state.socket.removeAllListeners();
      state.socket.disconnect();
    }
    // With a token the server knows the user by the token's id, and refuses any other.
    state.userId = (state.token && tokenUserId(state.token)) || name;
    state.everConnected = false;
    updateControls();
    updateUrl();
    const auth = { userId: name, username: name };
    if (state.token) auth.token = state.token;
    setStatus("connecting", "Connecting as " + name + "…");

    // io is the global of /socket.io/socket.io.js
    if (typeof window.io !== "function") {
      setStatus("error", "The Socket.IO client (/socket.io/socket.io.js) did not load");
      return;
    }
    const s = window.io("/", { auth });
    state.socket = s;

    s.on("connect", () => {
      setStatus("connected", "Connected as " + name);
      showError("");
      if (state.conversationId) {
        const id = state.conversationId;
        // catch up with what was sent while we were away
        joinRooms(id, state.everConnected ? () => loadHistory(id) : null);
      }
      state.everConnected = true;
    });
    s.on("disconnect", (reason) => {
      setStatus("disconnected", "Disconnected (" + reason + "); messages are sent over HTTP");
      state.typingFor = null;
      clearTimeout(state.typingTimer);
      clearTypists();
      setMembers([]);
    });
    s.on("connect_error", (err) => {
      setStatus("error", "Cannot connect: " + err.message);
    });

    s.on("receiveMessage", (data) => {
      if (!data || data.conversationId !== state.conversationId) return;
      addMessage(data.message);
      if (data.message) setTypist(data.message.senderId, false);
    });
    s.on("messageEdited", (data) => {
      if (data && data.conversationId === state.conversationId && data.message && messageItem(data.message.id)) {
        addMessage(data.message);
      }
    });
    s.on("messageDeleted", (data) => {
      if (!data || data.conversationId !== state.conversationId) return;
      const li = messageItem(data.messageId);
      if (li) {
        li.classList.add("deleted");
        li.querySelector(".content").textContent = "This message was deleted";
      }
    });
    s.on("messageError", (data) => showError((data && data.error) || "Message error"));
    s.on("error", (data) => showError((data && data.message) || "Error"));

    s.on("userTyping", (data) => {
      if (data && data.conversationId === state.conversationId) setTypist(String(data.userId), true);
    });
    s.on("userStoppedTyping", (data) => {
      if (data && data.conversationId === state.conversationId) setTypist(String(data.userId), false);
    });

    s.on("presence.members", (data) => {
      if (data && state.conversationId && data.room === presenceRoom(state.conversationId)) setMembers(data.members);
    });
    s.on("user.joined", (m) => {
      if (!m || !state.conversationId) return;
      state.members.set(String(m.user_id), memberName(m));
      renderMembers();
    });
    s.on("user.left", (m) => {
      if (!m || !state.conversationId) return;
      state.members.delete(String(m.user_id));
      setTypist(String(m.user_id), false);
      renderMembers();
    });
  }

  function joinConversation(id) {
    const previous = state.conversationId;
    if (previous === id) return;
    stopOwnTyping();
    if (previous) leaveRooms(previous);
    state.conversationId = id;
    el.title.textContent = "Conversation " + id;
    el.messages.replaceChildren();
    delete el.messages.dataset.historyLoaded;
    showError("");
    clearTypists();
    setMembers([]);
    updateControls();
    updateUrl();
    if (state.socket && state.socket.connected) joinRooms(id, () => loadHistory(id));
    else loadHistory(id);
  }

  // ---- sending ----

  function postMessage(payload) {
    return fetch("/api/conversations/" + encodeURIComponent(payload.conversationId) + "/messages", {
      method: "POST",
      headers: authHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify({ senderId: payload.senderId, content: payload.content, type: payload.type }),
    }).then((r) =>
      r
        .json()
        .catch(() => ({}))
        .then((body) => {
          if (r.status !== 201 || !body.message) throw new Error(body.error || "HTTP " + r.status);
          if (payload.conversationId === state.conversationId) addMessage(body.message);
        }),
    );
  }

  function send(content) {
    const payload = {
      conversationId: state.conversationId,
      senderId: state.userId,
      content,
      type: "text",
    };
    const failed = (why) => {
      showError("Message not sent: " + why);
      if (el.messageInput.value === "") el.messageInput.value = content;
    };
    const s = state.socket;
    if (s && s.connected) {
      s.timeout(ACK_TIMEOUT_MS).emit("sendMessage", payload, (err, res) => {
        if (err) failed("no answer from the server");
        else if (!res || res.status !== "ok") failed((res && res.error) || "unknown error");
      });
    } else {
      postMessage(payload).catch((err) => failed(err.message));
    }
  }

  // ---- wiring ----

  el.loginForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = el.username.value.trim();
    if (name) connect(name);
  });
  el.joinForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = el.conversationId.value.trim();
    if (id) joinConversation(id);
  });
  el.sendForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const content = el.messageInput.value.trim();
    if (!content || !state.userId || !state.conversationId) return;
    stopOwnTyping();
    showError("");
    el.messageInput.value = "";
    send(content);
    el.messageInput.focus();
  });
  el.messageInput.addEventListener("input", onInput);
  el.messageInput.addEventListener("blur", stopOwnTyping);

  // For tests and the console.
  window.chat = {
    get socket() {
      return state.socket;
    },
    state,
  };

  const user = (params.get("user") || "").trim();
  const conversation = (params.get("conversation") || "").trim();
  if (user) {
    el.username.value = user;
    connect(user);
  }
  if (conversation) {
    el.conversationId.value = conversation;
    joinConversation(conversation);
  }
  updateControls();
})();
