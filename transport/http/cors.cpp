#include "transport/http/cors.hpp"

#include <algorithm>

namespace sio::http {

namespace {

// The value for Access-Control-Allow-Origin, or nothing when the origin is not allowed.
std::optional<std::string> allowed_origin(const cors_options& opts, const request& req) {
  if (opts.origins.empty())
    return std::nullopt;
  const std::string* origin = req.header("origin");
  bool any = std::find(opts.origins.begin(), opts.origins.end(), "*") != opts.origins.end();
  if (any) {
    // With credentials a browser refuses "*": reflect the origin instead.
    if (opts.credentials && origin)
      return *origin;
    return std::string("*");
  }
  if (origin && std::find(opts.origins.begin(), opts.origins.end(), *origin) != opts.origins.end())
    return *origin;
  return std::nullopt;
}

} // namespace

void apply_cors(const cors_options& opts, const request& req, response& res) {
  auto origin = allowed_origin(opts, req);
  if (!origin)
    return;
  res.headers.emplace_back("Access-Control-Allow-Origin", *origin);
  if (*origin != "*")
    res.headers.emplace_back("Vary", "Origin");
  if (opts.credentials)
    res.headers.emplace_back("Access-Control-Allow-Credentials", "true");
}

bool origin_allowed(const cors_options& opts, const request& req) {
  const std::string* origin = req.header("origin");
  // No browser sends `Origin: *`; ElephantIO does, and a server-side client is not what
  // the check protects against (a page of another site opening a WebSocket).
  if (opts.origins.empty() || !origin || *origin == "*")
    return true;
  return std::find(opts.origins.begin(), opts.origins.end(), "*") != opts.origins.end()
         || std::find(opts.origins.begin(), opts.origins.end(), *origin) != opts.origins.end();
}

std::optional<response> preflight(const cors_options& opts, const request& req) {
  if (req.method != "OPTIONS")
    return std::nullopt;
  response res;
  res.status = 204;
  apply_cors(opts, req, res);
  res.headers.emplace_back("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
  if (auto* wanted = req.header("access-control-request-headers")) {
    res.headers.emplace_back("Access-Control-Allow-Headers", *wanted);
    res.headers.emplace_back("Vary", "Access-Control-Request-Headers");
  }
  res.headers.emplace_back("Content-Length", "0");
  return res;
}

} // namespace sio::http
