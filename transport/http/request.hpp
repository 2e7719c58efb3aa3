// Our `request` from a Beast message: internal to transport/http (the rest of the project
// sees only server.hpp), apart from the session so that the fuzzer drives it on its own.
#pragma once

#include "transport/http/server.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace sio::http {

/// The request limits the HTTP session gives Beast's parser (the body's is a setting).
inline constexpr std::size_t max_header_bytes = 16 * 1024;

/// Method, target, decoded path and query, lowercase header names, the upgrade flag and
/// the body (moved out of `msg`). The remote address is the session's to fill in.
request to_request(boost::beast::http::request<boost::beast::http::string_body>& msg);

} // namespace sio::http
