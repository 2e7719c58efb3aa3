// The Admin UI's namespace: its login (a CONNECT middleware), what a new admin socket gets
// (`session` after a login with the password, `config`, then all_sockets from the feed),
// and the UI's commands emit, join, leave and _disconnect (docs/admin-ui-protocol.md §3).
#include "apps/chat-server/admin_ui.hpp"

#include <spdlog/spdlog.h>

#include <atomic>

namespace chat {

namespace json = boost::json;

namespace {

json::array features(const admin_ui_options& opts) {
  json::array out;
  if (!opts.readonly)
    for (const char* f : {"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"})
      out.emplace_back(f);
  out.emplace_back("AGGREGATED_EVENTS");
  if (opts.mode == "development")
    out.emplace_back("ALL_EVENTS");
  return out;
}

/// A refused login is logged at most once a second (a guesser must not fill the log).
void log_refusal(const std::string& address, const char* why) {
  static std::atomic<std::int64_t> last{0};
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
                 .count();
  auto prev = last.load();
  if (now != prev && last.compare_exchange_strong(prev, now))
    spdlog::warn("admin-ui: login from {} refused: {}", address, why);
}

/// The sessions made by logins whose socket has not reached on_connection yet (the
/// middleware and on_connection run one after the other in the socket's actor).
struct pending_sessions {
  std::mutex mutex;
  std::map<std::string, std::string> by_socket;
};

void answer_error(sio::socket& s, const std::string& command, const std::string& message) {
  s.emit("error", {json::object{{"event", command}, {"message", message}}});
}

/// The sockets a command targets: namespace `args[0]`, narrowed to room `args[filter_at]`
/// (a socket's id names its own room) when that is a string.
std::optional<sio::broadcast> target(sio::server& io, sio::socket& s, const std::string& command,
                                     const json::array& args, std::size_t filter_at) {
  auto* nsp = args.empty() ? nullptr : args[0].if_string();
  if (!nsp)
    return answer_error(s, command, "the first argument must be a namespace"), std::nullopt;
  auto b = io.in(std::string(*nsp));
  if (!b.valid())
    return answer_error(s, command, "no namespace " + std::string(*nsp)), std::nullopt;
  if (args.size() > filter_at) {
    if (auto* room = args[filter_at].if_string())
      return b.in(std::string(*room));
    if (!args[filter_at].is_null())
      return answer_error(s, command, "the filter must be a room name (a socket id targets one socket)"), std::nullopt;
  }
  return b;
}

void mount_commands(sio::server::module_builder& m, sio::server& io, const admin_ui_options& opts) {
  if (opts.readonly) {
    // The reference registers nothing in readonly mode; here the UI is told why.
    for (const char* command : {"emit", "join", "leave", "_disconnect"})
      m.on(command, [command = std::string(command)](sio::socket& s, sio::message&, const sio::ack_responder&) {
        answer_error(s, command, "the Admin UI is read-only on this server");
      });
    return;
  }
  auto* srv = &io;
  // ["emit", nsp, room|null, event, ...args]
  m.on("emit", [srv](sio::socket& s, sio::message& msg, const sio::ack_responder&) {
    auto& args = msg.args;
    auto b = target(*srv, s, "emit", args, 1);
    if (!b)
      return;
    auto* event = args.size() > 2 ? args[2].if_string() : nullptr;
    if (!event)
      return answer_error(s, "emit", "the third argument must be an event name");
    sio::message out;
    out.args = json::array(args.begin() + 3, args.end());
    out.attachments = std::move(msg.attachments);
    try {
      b->emit(std::string(*event), std::move(out));
    } catch (const std::invalid_argument& e) {
      answer_error(s, "emit", e.what());
    }
  });
  // ["join" | "leave", nsp, room, filter?]
  for (const char* verb : {"join", "leave"})
    m.on(verb, [srv, verb = std::string(verb)](sio::socket& s, sio::message& msg, const sio::ack_responder&) {
      auto b = target(*srv, s, verb, msg.args, 2);
      if (!b)
        return;
      auto* room = msg.args.size() > 1 ? msg.args[1].if_string() : nullptr;
      if (!room || room->empty())
        return answer_error(s, verb, "the second argument must be a room name");
      if (verb == "join")
        b->sockets_join(std::string(*room));
      else
        b->sockets_leave(std::string(*room));
    });
  // ["_disconnect", nsp, close, filter?]
  m.on("_disconnect", [srv](sio::socket& s, sio::message& msg, const sio::ack_responder&) {
    auto b = target(*srv, s, "_disconnect", msg.args, 2);
    if (!b)
      return;
    if (msg.args.size() < 2 || !msg.args[1].is_bool())
      return answer_error(s, "_disconnect", "the second argument must be true (close the connection) or false");
    b->disconnect_sockets(msg.args[1].get_bool());
  });
}

} // namespace

caf::actor mount_admin_ui(sio::server& io, caf::actor_system& sys, const admin_ui_options& opts,
                          const std::string& node) {
  auto ctx = std::make_shared<admin_ui_context>(admin_ui_context{io, opts, node, std::chrono::steady_clock::now(), {}});
  auto auth = std::make_shared<admin_ui_auth>(opts.username, opts.password_hash);
  auto pending = std::make_shared<pending_sessions>();
  auto m = io.of(opts.nsp).module("admin-ui");
  m.use([auth, pending](sio::socket& s) -> std::optional<sio::connect_error> {
    std::string session;
    auto& address = s.handshake().address;
    switch (auth->check(s.handshake().auth, address, session)) {
    case admin_ui_auth::verdict::session:
      return std::nullopt;
    case admin_ui_auth::verdict::login: {
      std::lock_guard<std::mutex> guard(pending->mutex);
      if (pending->by_socket.size() >= admin_ui_auth::max_sessions)
        pending->by_socket.clear(); // logins whose connection ended before on_connection
      pending->by_socket[s.id()] = session;
      return std::nullopt;
    }
    case admin_ui_auth::verdict::throttled:
      log_refusal(address, "too many failed logins");
      return sio::connect_error{"too many failed logins: try again in a minute"};
    case admin_ui_auth::verdict::busy:
      log_refusal(address, "logins busy");
      return sio::connect_error{"too many logins at once: try again in a second"};
    case admin_ui_auth::verdict::refused:
      break;
    }
    log_refusal(address, "invalid credentials");
    // The exact words the UI looks for.
    return sio::connect_error{"invalid credentials"};
  });
  m.on_connection([ctx, pending](sio::socket& s) {
    std::string session;
    {
      std::lock_guard<std::mutex> guard(pending->mutex);
      if (auto it = pending->by_socket.find(s.id()); it != pending->by_socket.end()) {
        session = std::move(it->second);
        pending->by_socket.erase(it);
      }
    }
    // After the CONNECT answer (the reference sends it before, where the UI misses it):
    // the UI keeps it and logs in with it after a reload.
    if (!session.empty())
      s.emit("session", {session});
    s.emit("config", {json::object{{"supportedFeatures", features(ctx->opts)}}});
    caf::anon_send(ctx->feed, admin_ui_here_atom::value, s.id());
  });
  mount_commands(m, io, opts);
  serve_admin_ui_bundle(io, opts);
  // After io.of(opts.nsp): the feed looks its namespace up when it starts, on another
  // thread; before the namespace existed it found none and never reached an admin socket.
  ctx->feed = spawn_admin_ui_feed(sys, ctx);
  return ctx->feed;
}

} // namespace chat
