// How chat-admin prints what the server answered: text a person reads (tables, one line per
// tail item), or with --json the JSON as the server sent it.
#pragma once

#include "actors/activity.hpp"
#include "actors/console_messages.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace console {

/// Prints the answer to `words` (errors to `err`).
void render(const std::vector<std::string>& words, const sio::console_answer& a, bool as_json, std::ostream& out,
            std::ostream& err);

/// One tail line: "12:03:04.567 node-a event / Xk2... send-message 87 B [\"hi\"]".
std::string render_activity(const sio::activity& a, bool as_json);

/// `help` or `help COMMAND`, from the command table.
std::string help_text(const std::vector<std::string>& words);

} // namespace console
