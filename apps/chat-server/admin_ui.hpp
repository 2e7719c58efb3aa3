// The server side of socket.io's Admin UI (@socket.io/admin-ui 0.5, docs/admin-ui-protocol.md):
// a namespace of its own (--admin-ui-namespace, default /socket-admin) where the UI logs in
// with basic auth (a bcrypt hash), gets `config`, `all_sockets` and, every 2 s, each node's
// `server_stats`, follows sockets as they connect, join, leave, send and disconnect, and
// may emit, join, leave and disconnect sockets (not in readonly mode). The UI's own bundle
// (ui/dist of the npm package) is served at /admin-ui/.
//
//   admin_ui.cpp         the namespace: login, what a new admin socket gets, the UI's commands
//   admin_ui_auth.cpp    bcrypt check, sessions, the login budget
//   admin_ui_feed.cpp    one actor per node: the activity feed as UI events, server_stats
//   admin_ui_socket.cpp  a socket as the UI shows it (SerializedSocket), timestamps
//   admin_ui_bundle.cpp  GET /admin-ui/...
//
// The feed actor takes: admin_ui_tick_atom (every 2 s, from itself), (admin_ui_here_atom,
// socket id) (an admin socket connected here: watch now, tell the other nodes' feeds, send
// it all_sockets; "" when another node's feed tells: watch now), sio::activity (from
// this node's hub).
#pragma once

#include "actors/activity.hpp"
#include "actors/api.hpp"
#include "actors/server.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace chat {

struct admin_ui_options {
  bool enabled = false;
  std::string nsp = "/socket-admin";
  std::string username = "admin";
  std::string password_hash; ///< bcrypt ($2a$, $2b$ or $2y$)
  bool readonly = false;
  /// development: every feature (sockets, rooms, events pages); production: the dashboard
  /// and servers only (the UI's own two modes).
  std::string mode = "development";
  std::string bundle_dir; ///< @socket.io/admin-ui's ui/dist
};

/// Why a bcrypt hash is not usable (empty: it is): `^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$`,
/// a cost of 4 to 31, and this libcrypt must compute it.
std::string admin_ui_hash_problem(const std::string& hash);

/// Whether `password` matches the bcrypt `hash` (libxcrypt's crypt_rn; the password is cut
/// at 72 bytes, as bcrypt does; one with a NUL byte never matches).
bool bcrypt_matches(std::string_view password, const std::string& hash);

/// The Admin UI's logins: sessions (kept 24 h, at most max_sessions) and budgets, so that
/// guessing costs a bcrypt at most max_failures_per_minute times a minute per address and
/// max_bcrypts_per_second times a second over the server, one at a time: a login that
/// finds a bcrypt running, or the second's budget spent, is told to try again at once
/// (no thread ever waits for another's bcrypt).
class admin_ui_auth {
public:
  static constexpr std::size_t max_sessions = 1000;
  static constexpr std::size_t max_failures_per_minute = 10;
  static constexpr std::size_t max_tracked_addresses = 10000;
  static constexpr std::size_t max_bcrypts_per_second = 5;
  static constexpr std::chrono::hours session_lifetime{24};

  enum class verdict { session, login, refused, throttled, busy };

  admin_ui_auth(std::string username, std::string hash) : username_(std::move(username)), hash_(std::move(hash)) {}

  /// Checks a CONNECT's auth: {"sessionId"} of a live session, or {"username","password"}.
  /// With `login`, `new_session` is the session made for it.
  verdict check(const boost::json::object& auth, const std::string& address, std::string& new_session,
                std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

private:
  bool session_alive(const std::string& id, std::chrono::steady_clock::time_point now);
  std::string make_session(std::chrono::steady_clock::time_point now);
  bool over_budget(const std::string& address, std::chrono::steady_clock::time_point now);
  /// Takes one of this second's bcrypts; false when they are spent.
  bool take_bcrypt(std::chrono::steady_clock::time_point now);
  void failed(const std::string& address, std::chrono::steady_clock::time_point now);

  std::string username_;
  std::string hash_;
  std::mutex mutex_; // sessions and failures (connection actors on any thread check)
  std::mutex bcrypt_; // one bcrypt at a time (try_lock: nobody waits)
  std::chrono::steady_clock::time_point bcrypt_second_{}; // under mutex_
  std::size_t bcrypts_this_second_ = 0;                   // under mutex_
  std::map<std::string, std::chrono::steady_clock::time_point> sessions_; // id -> expiry
  struct failures {
    std::chrono::steady_clock::time_point window;
    std::size_t count = 0;
  };
  std::map<std::string, failures> failures_;
};

// -- a socket as the UI shows it (admin_ui_socket.cpp) --

/// SerializedSocket: id, clientId, transport, nsp, data (without "_admin"), handshake
/// {address, headers, query, issued, secure, time, url, xdomain}, rooms. No auth.
boost::json::object admin_ui_socket(const sio::remote_socket& s);
/// `ms` since the epoch as JavaScript's Date#toISOString: 2022-10-07T11:13:20.123Z.
std::string iso_ms(std::int64_t ms);

// -- the namespace (admin_ui.cpp) --

/// Mounts the namespace and the bundle's routes (before any catch-all route) and spawns
/// this node's feed actor (`node`: this node's name in a cluster, "" alone), which is
/// returned: end it before the server goes.
caf::actor mount_admin_ui(sio::server& io, caf::actor_system& sys, const admin_ui_options& opts, const std::string& node);

// -- the feed actor (admin_ui_feed.cpp) --

using admin_ui_tick_atom = caf::atom_constant<caf::atom("auitick")>;
using admin_ui_here_atom = caf::atom_constant<caf::atom("auihere")>;

/// What the feed needs; shared with the namespace's handlers.
struct admin_ui_context {
  sio::server& io;
  admin_ui_options opts;
  std::string node;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  caf::actor feed;
};

caf::actor spawn_admin_ui_feed(caf::actor_system& sys, std::shared_ptr<admin_ui_context> ctx);

// -- the bundle (admin_ui_bundle.cpp) --

/// GET /admin-ui (a redirect), /admin-ui/ and the bundle's files, read once at start-up;
/// index.html loads a script that points the UI at this server and namespace.
void serve_admin_ui_bundle(sio::server& io, const admin_ui_options& opts);

} // namespace chat
