// What the admin console (apps/admin-console, `chat-admin`) and a server's console service
// (apps/chat-server/console_service.hpp) say to each other over CAF networking, and what
// the console services of a cluster's members say among themselves. Every struct here
// crosses processes: inspectable and announced (announce_console_types).
//
// Console -> service (published at --admin-listen; each carries the admin token):
//   console_command                the service sends a console_answer with the same id to
//                                  `reply_to` (from whichever thread finishes the command)
//   console_tail                   the service streams std::vector<activity> batches
//                                  (actors/activity.hpp; every 100 ms or 200 items) to
//                                  `sink` until console_untail, or until `sink` is gone;
//                                  first a console_answer (id 0) saying it started
//   console_untail
// Service -> members' services ("console" service of the cluster; admitted members only):
//   (status_atom)                       -> std::string   this node's status, JSON
//   (watch_atom, sink, activity_filter) -> ok_atom       this node's hub streams to sink
//   (unwatch_atom, sink)
//   (log_level_atom, level)             -> ok_atom
//   (drain_atom) / (shutdown_atom)      -> ok_atom       this node drains / stops
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sio {

using status_atom = caf::atom_constant<caf::atom("status")>;
using log_level_atom = caf::atom_constant<caf::atom("loglevel")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;

/// One command line, split into words: {"sockets", "/", "--room", "r1"}.
struct console_command {
  std::string token;
  std::uint64_t id = 0;
  std::vector<std::string> words;
  caf::actor reply_to;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, console_command& x) {
  return f(caf::meta::type_name("console_command"), x.token, x.id, x.words, x.reply_to);
}

/// Exit statuses of a command, as `chat-admin -c` returns them.
enum console_status : int { console_ok = 0, console_failed = 1, console_usage = 2, console_refused = 3 };

/// The answer: a status and the result as JSON text ({"error": "..."} when it failed);
/// the console prints it as text, or as it is with --json.
struct console_answer {
  std::uint64_t id = 0;
  int status = console_ok;
  std::string json;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, console_answer& x) {
  return f(caf::meta::type_name("console_answer"), x.id, x.status, x.json);
}

/// Starts a tail: every node's activity in namespace `nsp` (empty: all) and, with
/// `event`, only that event's receptions and broadcasts.
struct console_tail {
  std::string token;
  std::string nsp;
  std::string event;
  caf::actor sink;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, console_tail& x) {
  return f(caf::meta::type_name("console_tail"), x.token, x.nsp, x.event, x.sink);
}

struct console_untail {
  std::string token;
  caf::actor sink;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, console_untail& x) {
  return f(caf::meta::type_name("console_untail"), x.token, x.sink);
}

/// A console command: its name, its arguments as `help` shows them, what it does. The
/// console completes and explains from this table; the service answers each.
struct console_verb {
  const char* name;
  const char* usage;
  const char* help;
};
const std::vector<console_verb>& console_verbs();

void announce_console_types(caf::actor_system_config& cfg);

} // namespace sio
