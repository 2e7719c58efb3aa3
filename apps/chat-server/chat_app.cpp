// The chat application's shared parts: online status (§5), the rate limit, and mounting
// the modules (platform.cpp, conversations.cpp, room_chat.cpp, http_api.cpp, auth.cpp).
#include "apps/chat-server/chat_internal.hpp"

#include "actors/persistence_actor.hpp"

namespace chat {

// -- identity and online status (§5) ------------------------------------------------------------

void on_identity(chat_app& app, sio::socket& s) {
  auto user = user_id_of(s);
  if (!user || s.data().contains("identityCounted"))
    return;
  s.data()["identityCounted"] = true;
  s.join("private-user." + *user);
  if (s.nsp() != app.opts.conversations_namespace)
    return;
  bool first = false;
  {
    std::lock_guard<std::mutex> guard(app.presence_mutex);
    first = ++app.online[*user] == 1;
  }
  if (first)
    s.nsp_all().emit(
        "user.status.changed",
        {json::object{{"user", json::object{{"id", *user}, {"is_online", true}, {"last_seen", iso_now()}}}}});
}

void on_identity_gone(chat_app& app, sio::socket& s) {
  auto user = user_id_of(s);
  if (!user || !s.data().contains("identityCounted") || s.nsp() != app.opts.conversations_namespace)
    return;
  bool last = false;
  {
    std::lock_guard<std::mutex> guard(app.presence_mutex);
    auto it = app.online.find(*user);
    if (it != app.online.end() && --it->second <= 0) {
      app.online.erase(it);
      last = true;
    }
  }
  if (!last)
    return;
  auto now = now_ms();
  caf::anon_send(app.persistence, update_last_seen{*user, now});
  s.nsp_all().emit(
      "user.status.changed",
      {json::object{{"user", json::object{{"id", *user}, {"is_online", false}, {"last_seen", iso_time(now)}}}}});
}

bool chat_app::allow_send(const std::string& key) {
  auto now = now_ms();
  std::lock_guard<std::mutex> guard(rate_mutex);
  auto& times = rate[key];
  while (!times.empty() && now - times.front() >= 60000)
    times.pop_front();
  if (static_cast<int>(times.size()) >= opts.rate_limit_per_minute)
    return false;
  times.push_back(now);
  return true;
}

// -- mounting -------------------------------------------------------------------------------------

std::shared_ptr<chat_app> mount_chat_app(sio::server& io, caf::actor_system& sys, caf::actor persistence,
                                         chat_options opts) {
  auto app = std::make_shared<chat_app>(io, sys, std::move(persistence), std::move(opts));
  auto& a = *app;
  for (auto* nsp : {&a.opts.platform_namespace, &a.opts.conversations_namespace, &a.opts.room_chat_namespace}) {
    if (a.namespaces.insert(*nsp).second)
      io.of(*nsp).use([&a](sio::socket& s) { return authenticate(a, s, false); });
  }
  mount_platform(a);
  mount_conversations(a);
  mount_room_chat(a);
  mount_admin(a);
  mount_http_api(a);
  return app;
}

void announce_shutdown(chat_app& app) {
  for (auto& nsp : app.namespaces)
    app.io.in(nsp).emit("server-shutting-down", {json::object{{"timestamp", iso_now()}}});
  app.io.in(app.opts.admin_namespace).emit("server-shutting-down", {json::object{{"timestamp", iso_now()}}});
}

} // namespace chat
