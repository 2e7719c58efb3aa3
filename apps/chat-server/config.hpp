// chat-server's configuration: one place, read from a config file, the environment
// (CHAT_<NAME>, e.g. CHAT_PORT=3001) and command-line flags, flags winning.
#pragma once

#include "actors/cluster_node.hpp"
#include "actors/core.hpp"
#include "apps/chat-server/admin_ui.hpp"
#include "apps/chat-server/chat_app.hpp"
#include "transport/http/server.hpp"

#include <optional>
#include <string>

namespace chat {

/// Where the conversation store lives (`store`): this node's SQLite file, a MongoDB
/// database (persistence/mongo_store.hpp), or the store of the cluster member that runs
/// one (actors/remote_store.hpp).
enum class store_kind { sqlite, mongodb, cluster };

/// The `store` setting parsed, or nothing when it names no store this build knows.
std::optional<store_kind> parse_store(const std::string& value);

/// A connection string as it may be shown: the user name and password replaced by "***".
std::string redacted_uri(const std::string& uri);

struct config {
  std::string app = "chat";
  chat_options chat;
  store_kind store = store_kind::sqlite;
  std::string db_path = "data/chat.db";
  std::string mongodb_uri; ///< with store_kind::mongodb: the `store` setting's value
  std::size_t batch_size = 512;
  unsigned batch_delay_ms = 2;
  std::string log_level = "info";
  std::string log_format = "text"; ///< text or json
  bool metrics = true;             ///< GET /metrics
  /// --check-config: validate, print the summary, exit.
  bool check_only = false;
  /// --admin-listen: the console actor is published there (apps/chat-server/console_service.hpp).
  bool admin_console = false;
  std::string admin_host;
  std::uint16_t admin_port = 0;
  admin_ui_options admin_ui; ///< socket.io's Admin UI (apps/chat-server/admin_ui.hpp)
  std::size_t actor_threads = 0; // 0: one per core
  std::string actor_scheduler = "io";
  sio::http::server_options http;
  sio::server_options engine;
  /// Set with --cluster-listen: this process is a node of a cluster (README, "Running
  /// several nodes"); otherwise it runs alone, exactly as before.
  bool clustered = false;
  sio::cluster_options cluster;
};

/// Parses argv, the environment and the config file. Prints --help and returns nothing
/// when the program should exit (with `exit_code`).
std::optional<config> parse_config(int argc, char** argv, int& exit_code);

} // namespace chat
