// chat-admin's link to a server's console service (apps/chat-server/console_service.hpp):
// connects over CAF networking, sends commands with the token, waits for their answers,
// and streams a tail. Ctrl-C (interrupted()) cancels the wait.
#pragma once

#include "actors/activity.hpp"
#include "actors/console_messages.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace console {

/// Set by the SIGINT handler; a command or a tail that sees it stops waiting.
std::atomic<bool>& interrupted();
/// Ctrl-C sets interrupted() instead of ending the program (no SA_RESTART: a blocked read
/// returns); the running command or tail sees it within 100 ms.
void catch_interrupts();

class client {
public:
  client(caf::actor_system& sys, caf::actor service, std::string token);

  /// Runs one command; an answer with console_failed and an error when none came in
  /// `timeout` or the wait was interrupted.
  sio::console_answer run(const std::vector<std::string>& words, std::chrono::milliseconds timeout);

  /// Streams the activity (namespace `nsp`, event `event`, "" for any) to `print` until
  /// interrupted() or the link drops; the status to exit with.
  int tail(const std::string& nsp, const std::string& event, const std::function<void(const sio::activity&)>& print,
           const std::function<void(const sio::console_answer&)>& started);

private:
  caf::actor_system& sys_;
  caf::actor service_;
  std::string token_;
  caf::scoped_actor self_;
  std::uint64_t next_id_ = 1;
};

} // namespace console
