// The server's end of the admin console (`chat-admin`, apps/admin-console): one actor per
// node. Published at --admin-listen for consoles, which must present the admin token with
// every message (compared in constant time; a wrong one is refused and logged), and offered
// to the cluster's members as the "console" service, so that whichever node a console
// reaches answers for the whole cluster. Its messages are listed in
// actors/console_messages.hpp; the commands are in console_commands.cpp.
#pragma once

#include "actors/server.hpp"

#include <boost/json/value.hpp>

#include <caf/all.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace chat {

struct console_context {
  caf::actor_system& sys;
  sio::server& io;
  std::string token;
  std::string node; ///< this node's name (its --node-id; "" when it runs alone)
  std::chrono::steady_clock::time_point started;
};

/// Spawns the service (before the cluster node starts: it registers as "console").
caf::actor spawn_console_service(std::shared_ptr<console_context> ctx);

/// Publishes `service` at host:port; the port bound, or an error.
caf::expected<std::uint16_t> publish_console(caf::actor_system& sys, const caf::actor& service, const std::string& host,
                                             std::uint16_t port);

// -- for console_commands.cpp --

/// Answers the console: a status (actors/console_messages.hpp) and a JSON result. Callable
/// from any thread, once.
using console_reply = std::function<void(int status, boost::json::value result)>;

/// Runs one command (its first word names it); `self` is the service.
void run_command(caf::event_based_actor* self, const std::shared_ptr<console_context>& ctx,
                 const std::vector<std::string>& words, console_reply reply);

/// This node's status as `status` shows it (JSON), computed in `self`'s context.
void node_status(caf::event_based_actor* self, const std::shared_ptr<console_context>& ctx,
                 std::function<void(boost::json::object)> done);

} // namespace chat
