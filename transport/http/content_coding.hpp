// HTTP content coding of a response (RFC 9110 §8.4, §12.5.3): which one a request's
// Accept-Encoding takes, and the body in it. Pure; for the polling responses, as
// engine.io's httpCompression does (gzip or deflate over a threshold).
#pragma once

#include <string>
#include <string_view>

namespace sio::http::content_coding {

enum class coding { identity, gzip, deflate };

/// The coding to answer with: the client's highest q among gzip and deflate ("*" counts
/// for both), gzip on a tie; identity when neither is acceptable (absent, or q=0).
coding choose(std::string_view accept_encoding);

/// The Content-Encoding token ("gzip", "deflate").
std::string_view name(coding c);

/// `body` in `c` (gzip: RFC 1952; deflate: the zlib format, RFC 1950, as RFC 9110 says).
std::string encode(std::string_view body, coding c);

} // namespace sio::http::content_coding
