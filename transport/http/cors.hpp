// CORS for the HTTP front end, as the reference configures it through the `cors` package:
// an origin list (or "*"), optional credentials, and preflight answers.
#pragma once

#include "transport/http/server.hpp"

#include <optional>
#include <string>
#include <vector>

namespace sio::http {

struct cors_options {
  /// Allowed origins; empty means no CORS headers at all, "*" allows any origin.
  std::vector<std::string> origins;
  bool credentials = false;
};

/// Adds Access-Control-Allow-* headers to a response for an allowed Origin.
void apply_cors(const cors_options& opts, const request& req, response& res);

/// Whether a request may open a WebSocket: always without an origin list, a `*` in it, or
/// a browser's Origin header (non-browser clients send none, or ElephantIO's `*`); else
/// its Origin must be listed.
bool origin_allowed(const cors_options& opts, const request& req);

/// The answer to an OPTIONS preflight (204 with the allowed methods and headers), or
/// nothing when the request is not a preflight.
std::optional<response> preflight(const cors_options& opts, const request& req);

} // namespace sio::http
