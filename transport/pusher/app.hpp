// Pusher apps (Pusher Channels protocol 7): the credentials a client or a backend names,
// and each app's own limits. Pure data: no CAF, no I/O.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pusher {

struct app {
  std::string id;     ///< in the HTTP API's paths: /apps/{id}/events
  std::string key;    ///< in the WebSocket path /app/{key} and in every signature's "key:" prefix
  std::string secret; ///< signs channel auth, user auth and HTTP API requests
  /// Origins whose browsers may connect (the Origin header, exact match); empty: any.
  std::vector<std::string> allowed_origins;
  /// Seconds of client silence after which the server sends pusher:ping (sent to the
  /// client in pusher:connection_established as activity_timeout).
  std::chrono::seconds activity_timeout{30};
  /// Connections of this app at once; 0: no limit. Past it: pusher:error 4100.
  std::size_t max_connections = 0;
  /// The Socket.IO namespace whose rooms are this app's channels; empty: the chat
  /// application's conversations namespace.
  std::string nsp;
};

/// Parses the `pusher-app` setting: "ID:KEY:SECRET" optionally followed by
/// ";name=value" options (origins=a|b, activity-timeout=SECONDS, max-connections=N,
/// namespace=/nsp). Nothing, with `error` set, when it is malformed.
std::optional<app> parse_app(std::string_view spec, std::string& error);

/// The configured apps, looked up by key (WebSocket) or id (HTTP API), with each app's
/// count of open connections. Thread-safe; apps never change after construction.
class app_registry {
public:
  app_registry() = default;
  explicit app_registry(std::vector<app> apps);

  bool empty() const;
  const std::vector<app>& all() const;
  const app* by_key(std::string_view key) const;
  const app* by_id(std::string_view id) const;

  /// Counts one more connection of `a` unless that passes its max_connections.
  bool try_admit(const app& a);
  /// Gives back what try_admit counted.
  void release(const app& a);
  std::size_t connections(const app& a) const;

private:
  std::vector<app> apps_;
  std::unique_ptr<std::atomic<std::size_t>[]> counts_;
};

} // namespace pusher
