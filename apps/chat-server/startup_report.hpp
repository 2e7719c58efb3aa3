// What chat-server says about its configuration when it starts (and on --check-config):
// one summary line, and a warning for each setting that puts the server at risk.
#pragma once

#include "apps/chat-server/config.hpp"

#include <string>
#include <vector>

namespace chat {

/// "chat-server 0.12.0: chat app on 127.0.0.1:3001, store sqlite data/chat.db, ...";
/// `port` is the port actually bound (0: not yet).
std::string startup_summary(const config& c, unsigned port);

/// Each risky setting, as a sentence that says what to change.
std::vector<std::string> risky_settings(const config& c);

} // namespace chat
