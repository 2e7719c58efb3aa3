// chat-admin's interactive prompt, on libedit: history in ~/.chat_admin_history, tab
// completion of commands, namespaces and rooms (asked of the server after each command),
// Ctrl-C cancels a running command (or a tail), Ctrl-D leaves.
#pragma once

#include "apps/admin-console/console_client.hpp"

namespace console {

/// Runs the prompt until Ctrl-D or `exit`; the status of the last command.
int repl(client& c, bool as_json);

} // namespace console
