// chat-server's log: spdlog on stderr (stdout carries only the "listening on" lines), as
// text or as one JSON object per line (--log-format json), at --log-level.
#pragma once

#include <string>

namespace chat {

/// Makes the default logger; `format` is "text" or "json", `level` a name config.cpp accepted.
void setup_logging(const std::string& format, const std::string& level);

} // namespace chat
