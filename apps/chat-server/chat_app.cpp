// The chat application's shared parts: online status (§5, counted by the presence actor),
// the rate limit, the state actors, and mounting the modules (platform.cpp, conversations.cpp, basic_chat.cpp,
// realtime.cpp, room_chat.cpp, admin.cpp, notifications.cpp, http_api.cpp; auth.cpp).
#include "apps/chat-server/chat_internal.hpp"

#include "actors/persistence_actor.hpp"
#include "apps/chat-server/rate_replicator.hpp"

#include <spdlog/spdlog.h>

namespace chat {

// -- identity and online status (§5) ------------------------------------------------------------

void user_online(chat_app& app, const std::string& user) {
  caf::anon_send(app.presence, online_enter{user});
}

void user_offline(chat_app& app, const std::string& user) {
  caf::anon_send(app.presence, online_exit{user});
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
    return rate->allow({{"u" + user_id_of(s).value_or(""), limit}}, now, count);
  auto connection = "c" + s.id();
  if (opts.rate_limit_per_address <= 0)
    return rate->allow({{connection, limit}}, now, count);
  return rate->allow({{connection, limit}, {"a" + s.handshake().address, opts.rate_limit_per_address}}, now, count);
}

bool chat_app::allow_post(const std::optional<std::string>& verified_user, const std::string& address) {
  auto now = now_ms();
  if (verified_user)
    return rate->allow({{"u" + *verified_user, opts.rate_limit_per_minute}}, now);
  if (opts.rate_limit_per_address <= 0)
    return true;
  return rate->allow({{"a" + address, opts.rate_limit_per_address}}, now);
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
  {
    std::lock_guard<std::mutex> guard(socket_ids_mutex);
    if (socket_ids.count(room) > 0)
      return true;
  }
  // Another node's socket: only its node knows whether it is still connected, so any id of
  // a member counts (a private message to one that left is lost, not refused).
  return io.is_member_socket_id(room);
}

// -- the state actors -------------------------------------------------------------------------

namespace {

// A namespace's broadcast handle, found when needed: the actors hold the server's core,
// which outlives them, not the server.
std::function<sio::broadcast(const std::string&)> broadcasts_of(sio::server& io) {
  return [core = io.core()](const std::string& nsp) {
    auto entry = core->find_namespace(nsp);
    return entry ? sio::broadcast(entry->actor, nsp, core) : sio::broadcast();
  };
}

void spawn_state_actors(chat_app& a) {
  auto cluster = a.io.core()->cluster;
  auto in = broadcasts_of(a.io);
  a.presence = spawn_presence(
      a.sys, presence_config{in, a.opts.conversations_namespace, a.opts.pusher_status_channel, a.persistence, cluster});
  a.room_chat_users = spawn_room_chat_users(
      a.sys, room_chat_users_config{[in, nsp = a.opts.room_chat_namespace] { return in(nsp); }, cluster});
  // One node needs no replication: nothing is kept for it then.
  if (cluster)
    a.rate_replication = spawn_rate_replicator(a.sys, a.rate, cluster);
}

} // namespace

chat_app::~chat_app() {
  for (auto* actor : {&presence, &room_chat_users, &rate_replication})
    if (*actor)
      caf::anon_send_exit(*actor, caf::exit_reason::user_shutdown);
}

void announce_chat_state_types(caf::actor_system_config& cfg) {
  announce_presence_types(cfg);
  announce_room_chat_types(cfg);
  announce_rate_types(cfg);
}

// -- mounting -------------------------------------------------------------------------------------

std::shared_ptr<chat_app> mount_chat_app(sio::server& io, caf::actor_system& sys, caf::actor persistence,
                                         chat_options opts) {
  auto app = std::make_shared<chat_app>(io, sys, std::move(persistence), std::move(opts));
  auto& a = *app;
  spawn_state_actors(a);
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

void await_presence_writes(chat_app& app, caf::actor_system& sys, std::chrono::milliseconds limit) {
  if (!app.presence)
    return;
  // Any answer will do: once the presence actor answers, whatever it sent the store
  // before (a send is in the receiver's mailbox when it returns) comes before our flush.
  caf::scoped_actor self{sys};
  self->request(app.presence, limit, online_query{""})
      .receive([](online_state&) {}, [](caf::error& err) {
        spdlog::warn("shutdown: the presence actor did not answer ({})", caf::to_string(err));
      });
}

void announce_shutdown(chat_app& app) {
  for (auto& nsp : app.namespaces)
    app.io.in(nsp).emit("server-shutting-down", {json::object{{"timestamp", iso_now()}}});
  app.io.in(app.opts.admin_namespace).emit("server-shutting-down", {json::object{{"timestamp", iso_now()}}});
}

} // namespace chat
