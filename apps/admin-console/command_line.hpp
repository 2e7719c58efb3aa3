// One line typed (or given with -c, or read from standard input) and run: split into
// words, `help` answered here, `tail` streamed, everything else sent to the server.
#pragma once

#include "apps/admin-console/console_client.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace console {

/// Whitespace-separated words; `emit`'s JSON and `kick`'s reason keep the rest of the
/// line as one word, spaces and all.
std::vector<std::string> split_line(const std::string& line);

/// Runs the line; the command's status (actors/console_messages.hpp, console_status).
int execute(client& c, const std::string& line, bool as_json, std::ostream& out, std::ostream& err);

} // namespace console
