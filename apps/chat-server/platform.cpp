// Platform events (docs/chat-protocol.md §1, seed 000): module "platform".
#include "apps/chat-server/chat_internal.hpp"

#include "actors/persistence_actor.hpp"

namespace chat {

namespace {

/// The most messages one `send-batch` may carry.
constexpr std::size_t max_batch_messages = 100;

void on_connected(chat_app& app, sio::socket& s) {
  auto connected_at = now_ms();
  s.data()["connectedAt"] = connected_at;
  auto total = ++app.platform_sockets;
  caf::anon_send(app.persistence, record_connect{s.id(), connected_at});
  s.nsp_all().emit("user-connected", {json::object{{"socketId", s.id()},
                                                   {"connectedAt", connected_at},
                                                   {"totalConnected", total},
                                                   {"timestamp", iso_time(connected_at)}}});
}

void on_identify(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto& p = first_arg(m);
  if (!p.is_object())
    return refuse(s, ack, "Invalid payload: expected an object");
  auto user = id_field(p, "userId");
  if (!user)
    return refuse(s, ack, "userId is required");
  // With verified identities the token already said who this is.
  if (auto refusal = not_oneself(app, s, *user, "userId"))
    return refuse(s, ack, *refusal);
  auto platform = string_field(p, "platform").value_or("unknown");
  auto version = string_field(p, "appVersion").value_or("");
  s.data()["platform"] = platform;
  if (!user_id_of(s))
    s.data()["userId"] = *user;
  caf::anon_send(app.persistence, record_identify{s.id(), *user, platform, version, now_ms()});
  on_identity(app, s);
  json::object out{{"socketId", s.id()}, {"message", "Client identified successfully"}, {"timestamp", iso_now()}};
  s.emit("identified", {out});
  ack({ok_status()});
}

// A message of `send-message` or `send-batch`, checked: what is logged, and what the
// others receive (the payload's own fields, `encrypted` and the like, kept unchanged).
struct platform_message {
  persistence::platform_message log;
  json::object out;
};

// Why `p` cannot be sent (the `error` text), or nothing; fills `msg` when it can.
// `default_sender`: the sender of a batch message that names none.
std::optional<std::string> parse_platform_message(sio::socket& s, const json::value& p,
                                                  const std::optional<std::string>& default_sender,
                                                  platform_message& msg) {
  if (!p.is_object())
    return "Invalid payload: expected an object";
  auto sender = string_field(p, "sender");
  if (!sender && default_sender)
    sender = default_sender;
  auto text = string_field(p, "text");
  if (!sender || sender->empty())
    return "sender is required";
  if (text_length(*sender) > 100)
    return "sender is too long (max 100)";
  if (!text || text->empty())
    return "text is required";
  if (text_length(*text) > 5000)
    return "text is too long (max 5000)";
  msg.log = persistence::platform_message{s.id(), *sender, *text, string_field(p, "platform").value_or(""), now_ms()};
  msg.out = p.as_object();
  msg.out["socketId"] = s.id();
  msg.out["sender"] = msg.log.sender;
  msg.out["text"] = msg.log.text;
  msg.out["platform"] = msg.log.platform;
  msg.out["timestamp"] = iso_time(msg.log.created_at);
  return std::nullopt;
}

void on_send_message(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  platform_message msg;
  if (auto err = parse_platform_message(s, first_arg(m), std::nullopt, msg))
    return refuse(s, ack, *err);
  if (!app.allow_send(s))
    return refuse(s, ack, "Rate limit exceeded");
  // Broadcast at once, then log (APP_PROTOCOL §1 only asks for the message to be
  // logged; waiting for the commit's fsync would add milliseconds to every delivery).
  // The ack carries the store's id, so it waits for the commit.
  s.nsp_all().emit("receive-message", {std::move(msg.out)});
  s.request<std::int64_t>(
      app.persistence, log_platform_message{std::move(msg.log)},
      [ack](sio::socket&, std::int64_t seq) {
        ack({ok_status({{"id", seq}})});
      },
      [ack](sio::socket& s, const caf::error& err) { refuse(s, ack, "Failed to store message: " + describe(err)); });
}

// `send-batch` {messages:[...]}: each message as a `send-message` would be (its sender
// may be left out: the socket's name), checked all first so a batch goes whole or not at
// all; the ack {status:"ok", ids} once all are stored.
void on_send_batch(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto& p = first_arg(m);
  auto* list = p.is_object() ? p.as_object().if_contains("messages") : nullptr;
  if (!list || !list->is_array())
    return refuse(s, ack, "messages is required");
  auto& items = list->as_array();
  if (items.empty() || items.size() > max_batch_messages)
    return refuse(s, ack, "messages must hold 1 to " + std::to_string(max_batch_messages) + " messages");
  std::vector<platform_message> batch(items.size());
  auto default_sender = user_name_of(s);
  for (std::size_t i = 0; i < items.size(); ++i)
    if (auto err = parse_platform_message(s, items[i], default_sender, batch[i]))
      return refuse(s, ack, "messages[" + std::to_string(i) + "]: " + *err);
  if (!app.allow_send(s, static_cast<std::int64_t>(batch.size())))
    return refuse(s, ack, "Rate limit exceeded");
  struct pending {
    json::array ids;
    std::size_t left;
    bool failed = false;
  };
  auto state = std::make_shared<pending>();
  state->ids.resize(batch.size());
  state->left = batch.size();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    s.nsp_all().emit("receive-message", {std::move(batch[i].out)});
    s.request<std::int64_t>(
        app.persistence, log_platform_message{std::move(batch[i].log)},
        [ack, state, i](sio::socket&, std::int64_t seq) {
          state->ids[i] = seq;
          if (--state->left == 0 && !state->failed)
            ack({ok_status({{"ids", state->ids}})});
        },
        [ack, state](sio::socket& s, const caf::error& err) {
          --state->left;
          if (std::exchange(state->failed, true))
            return;
          refuse(s, ack, "Failed to store message: " + describe(err));
        });
  }
}

void on_custom_event(chat_app&, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto& p = first_arg(m);
  if (!p.is_object())
    return refuse(s, ack, "Invalid payload: expected an object");
  if (!string_field(p, "eventType"))
    return refuse(s, ack, "eventType is required");
  sio::message out{json::object{{"from", s.id()}, {"data", p}, {"timestamp", iso_now()}}};
  out.attachments = m.attachments;
  s.nsp_all().emit("custom-event", std::move(out));
  ack({ok_status()});
}

// The application's ping (not Engine.IO's heartbeat): `pong` {timestamp}, and an ack
// {status:"ok", timestamp} like every other acked event.
void on_ping(chat_app&, sio::socket& s, sio::message&, const sio::ack_responder& ack) {
  auto now = iso_now();
  s.emit("pong", {json::object{{"timestamp", now}}});
  ack({ok_status({{"timestamp", now}})});
}

void on_disconnected(chat_app& app, sio::socket& s, const std::string&) {
  auto now = now_ms();
  auto total = --app.platform_sockets;
  std::int64_t connected_at = now;
  if (auto* c = s.data().if_contains("connectedAt"); c && c->is_int64())
    connected_at = c->as_int64();
  json::value platform = nullptr;
  if (auto* p = s.data().if_contains("platform"))
    platform = *p;
  caf::anon_send(app.persistence, record_disconnect{s.id(), now});
  s.broadcast_all().emit("user-disconnected", {json::object{{"socketId", s.id()},
                                                            {"platform", platform},
                                                            {"connectedDuration", now - connected_at},
                                                            {"totalConnected", total},
                                                            {"timestamp", iso_time(now)}}});
}

} // namespace

void mount_platform(chat_app& app) {
  if (app.opts.platform_namespace.empty())
    return;
  app.namespaces.insert(app.opts.platform_namespace);
  app.io.of(app.opts.platform_namespace)
      .module("platform")
      .on_connection(with_app(app, on_connected))
      .on("identify", with_app(app, on_identify))
      .on("send-message", with_app(app, on_send_message))
      .on("send-batch", with_app(app, on_send_batch))
      .on("custom-event", with_app(app, on_custom_event))
      .on("ping", with_app(app, on_ping))
      .on_disconnect(with_app(app, on_disconnected));
}

} // namespace chat
