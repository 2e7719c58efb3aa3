// The chat application (docs/chat-protocol.md): the application protocols of our users,
// as modules mounted on namespaces chosen in configuration, on top of the persistence
// actor. Each module keeps the little shared state it needs behind its own small lock;
// messages go to the store first and are broadcast once it answered.
#pragma once

#include "actors/server.hpp"
#include "transport/pusher/app.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace chat {

struct chat_options {
  std::string platform_namespace = "/";
  std::string conversations_namespace = "/";
  std::string room_chat_namespace = "/chat";
  std::string admin_namespace = "/admin";
  int rate_limit_per_minute = 10;            ///< messages a minute per user (or per anonymous connection)
  std::int64_t rate_limit_per_address = 200; ///< anonymous messages a minute per client address; 0: none
  std::string jwt_secret;                    ///< empty: anonymous clients accepted
  bool jwt_require_exp = true;               ///< refuse tokens without exp
  bool open_conversations = true;            ///< joining a conversation the backend did not close makes a participant
  std::string admin_token;                   ///< empty: only a JWT with role "admin" opens /admin
  std::string api_key;                       ///< empty: the backend API answers 503
  std::string pusher_status_channel = "presence-users"; ///< channel that gets user.status.changed; empty: none
  std::string web_root;
  std::string client_bundle;
  std::vector<pusher::app> pusher_apps; ///< the Pusher apps (WebSocket /app/{key}, HTTP API /apps/{id}); none: off
};

struct chat_app;

/// Mounts every module and the HTTP routes. `persistence` is the persistence actor.
std::shared_ptr<chat_app> mount_chat_app(sio::server& io, caf::actor_system& sys, caf::actor persistence,
                                         chat_options opts);

/// `server-shutting-down` {timestamp} to every client of every namespace.
void announce_shutdown(chat_app& app);

} // namespace chat
