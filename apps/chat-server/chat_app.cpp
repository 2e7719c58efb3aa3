// The chat application's shared parts: online status (§5), the rate limit, and mounting
// the modules (platform.cpp, conversations.cpp, basic_chat.cpp, realtime.cpp,
// room_chat.cpp, admin.cpp, notifications.cpp, http_api.cpp; auth.cpp).
#include "apps/chat-server/chat_internal.hpp"

#include "actors/persistence_actor.hpp"

namespace chat {

// -- identity and online status (§5) ------------------------------------------------------------

namespace {

// `user.status.changed` {user:{id, is_online, last_seen}} to every Socket.IO socket of the
// conversations namespace, and to the Pusher channel named by `pusher-status-channel`
// (seed 004's presence-users), whose Socket.IO members get it once.
void emit_status(chat_app& app, const std::string& user, bool online, const std::string& last_seen) {
  sio::message m{json::object{{"user", json::object{{"id", user}, {"is_online", online}, {"last_seen", last_seen}}}}};
  auto nsp = app.io.in(app.opts.conversations_namespace);
  auto& channel = app.opts.pusher_status_channel;
  if (channel.empty())
    return nsp.emit("user.status.changed", std::move(m));
  nsp.except(channel).emit("user.status.changed", m);
  nsp.to(channel).emit("user.status.changed", std::move(m));
}

} // namespace

void user_online(chat_app& app, const std::string& user) {
  bool first = false;
  {
    std::lock_guard<std::mutex> guard(app.presence_mutex);
    first = ++app.online[user] == 1;
  }
  if (first)
    emit_status(app, user, true, iso_now());
}

void user_offline(chat_app& app, const std::string& user) {
  bool last = false;
  {
    std::lock_guard<std::mutex> guard(app.presence_mutex);
    auto it = app.online.find(user);
    if (it != app.online.end() && --it->second <= 0) {
      app.online.erase(it);
      last = true;
    }
  }
  if (!last)
    return;
  auto now = now_ms();
  caf::anon_send(app.persistence, update_last_seen{user, now});
  emit_status(app, user, false, iso_time(now));
}

void on_identity(chat_app& app, sio::socket& s) {
  auto user = user_id_of(s);
  if (!user || s.data().contains("identityCounted"))
    return;
  s.data()["identityCounted"] = true;
  s.join("private-user." + *user);
  if (s.nsp() == app.opts.conversations_namespace)
    user_online(app, *user);
}

void on_identity_gone(chat_app& app, sio::socket& s) {
  auto user = user_id_of(s);
  if (user && s.data().contains("identityCounted") && s.nsp() == app.opts.conversations_namespace)
    user_offline(app, *user);
}

// Keys carry their kind in a first letter, so a user id never meets a socket id or an
// address. An anonymous connection is limited on its own and with its address's others.
bool chat_app::allow_send(sio::socket& s, std::int64_t count) {
  auto now = now_ms();
  std::int64_t limit = opts.rate_limit_per_minute;
  if (verified(*this))
    return rate.allow({{"u" + user_id_of(s).value_or(""), limit}}, now, count);
  auto connection = "c" + s.id();
  if (opts.rate_limit_per_address <= 0)
    return rate.allow({{connection, limit}}, now, count);
  return rate.allow({{connection, limit}, {"a" + s.handshake().address, opts.rate_limit_per_address}}, now, count);
}

bool chat_app::allow_post(const std::optional<std::string>& verified_user, const std::string& address) {
  auto now = now_ms();
  if (verified_user)
    return rate.allow({{"u" + *verified_user, opts.rate_limit_per_minute}}, now);
  if (opts.rate_limit_per_address <= 0)
    return true;
  return rate.allow({{"a" + address, opts.rate_limit_per_address}}, now);
}

void chat_app::track_socket_id(sio::socket& s) {
  {
    std::lock_guard<std::mutex> guard(socket_ids_mutex);
    socket_ids.insert(s.id());
  }
  s.on_disconnect([this](sio::socket& s, const std::string&) {
    std::lock_guard<std::mutex> guard(socket_ids_mutex);
    socket_ids.erase(s.id());
  });
}

bool chat_app::is_other_socket_room(const sio::socket& s, const std::string& room) {
  if (room == s.id())
    return false;
  std::lock_guard<std::mutex> guard(socket_ids_mutex);
  return socket_ids.count(room) > 0;
}

// -- mounting -------------------------------------------------------------------------------------

std::shared_ptr<chat_app> mount_chat_app(sio::server& io, caf::actor_system& sys, caf::actor persistence,
                                         chat_options opts) {
  auto app = std::make_shared<chat_app>(io, sys, std::move(persistence), std::move(opts));
  auto& a = *app;
  warn_if_anonymous(a);
  for (auto* nsp : {&a.opts.platform_namespace, &a.opts.conversations_namespace, &a.opts.basic_chat_namespace,
                    &a.opts.realtime_namespace, &a.opts.room_chat_namespace, &a.opts.notifications_namespace}) {
    if (!nsp->empty() && a.namespaces.insert(*nsp).second)
      io.of(*nsp).use([&a](sio::socket& s) { return authenticate(a, s, false); });
  }
  // Modules sharing a namespace each own their events; the io.of(...).module(...) calls
  // throw sio::handler_conflict at the first event two of them claim. basic-chat before
  // realtime: its `join-room` answers seed 001's ack too.
  mount_platform(a);
  mount_conversations(a);
  mount_basic_chat(a);
  mount_realtime(a);
  mount_room_chat(a);
  mount_admin(a);
  mount_notifications(a);
  mount_pusher(a); // before mount_http_api's catch-all GET route
  mount_sockets_api(a);
  mount_http_api(a);
  return app;
}

void announce_shutdown(chat_app& app) {
  for (auto& nsp : app.namespaces)
    app.io.in(nsp).emit("server-shutting-down", {json::object{{"timestamp", iso_now()}}});
  app.io.in(app.opts.admin_namespace).emit("server-shutting-down", {json::object{{"timestamp", iso_now()}}});
}

} // namespace chat
