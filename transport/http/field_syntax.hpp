// The syntax shared by header field values (RFC 9110 §5.6): optional whitespace around
// list elements and parameters. Pure; used by the field parsers of transport/http
// (content coding, permessage-deflate offers, X-Forwarded-For).
#pragma once

#include <string_view>
#include <vector>

namespace sio::http {

/// `s` without the spaces and tabs (OWS) at either end.
std::string_view trim_ows(std::string_view s);

/// The elements of `s` between `separator`s (',' for lists, ';' for parameters), each
/// trimmed; empty elements kept (callers decide what they mean).
std::vector<std::string_view> split_ows(std::string_view s, char separator);

} // namespace sio::http
