// The HTTP request path: raw bytes through Beast's request parser with the session's
// limits, then our `request` (transport/http/request.hpp) and the router's pure checks:
// CORS preflight and origin, the Engine.IO query parameters, the upgrade's accept key.
// The first input byte picks how many bytes each read brings; the outcome must not
// depend on it. Header values the server reflects (Origin, Access-Control-Request-Headers)
// must never carry CR or LF.
#include "tests/fuzz/check.hpp"
#include "transport/http/cors.hpp"
#include "transport/http/request.hpp"
#include "transport/http/ws_frame.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

namespace bhttp = boost::beast::http;
using namespace sio::http;

namespace {

const std::size_t body_limit = server_options{}.max_body_bytes;

/// What one request read yields: the request, or nothing when the parser refused the
/// bytes or they ran out first.
std::optional<request> read_request(std::string_view bytes, std::size_t read_size) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(body_limit);
  parser.header_limit(max_header_bytes);
  boost::beast::flat_buffer buffer;
  std::size_t fed = 0;
  boost::beast::error_code ec;
  while (!parser.is_done()) {
    // Hand the parser what it has, as async_read does, until it wants more.
    auto used = buffer.size() == 0 ? 0 : parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more || (!ec && used == 0)) {
      ec = {};
      if (fed == bytes.size()) {
        if (!parser.got_some())
          return std::nullopt; // Beast's read: end_of_stream (put_eof wants some bytes)
        parser.put_eof(ec);
        if (ec || !parser.is_done())
          return std::nullopt;
        break;
      }
      auto n = std::min(read_size, bytes.size() - fed);
      auto dest = buffer.prepare(n);
      std::memcpy(dest.data(), bytes.data() + fed, n);
      buffer.commit(n);
      fed += n;
      continue;
    }
    if (ec)
      return std::nullopt;
  }
  auto& msg = parser.get();
  FUZZ_CHECK(msg.body().size() <= body_limit);
  auto fields = static_cast<std::size_t>(std::distance(msg.begin(), msg.end()));
  auto target = std::string(msg.target());
  auto req = to_request(msg);
  FUZZ_CHECK(req.headers.size() == fields);
  FUZZ_CHECK(req.target == target);
  FUZZ_CHECK(!req.method.empty());
  return req;
}

bool same(const request& a, const request& b) {
  return a.method == b.method && a.target == b.target && a.path == b.path && a.query == b.query
         && a.headers == b.headers && a.body == b.body && a.websocket_upgrade == b.websocket_upgrade;
}

void route(const request& req) {
  for (auto& [name, value] : req.headers) {
    for (char c : name)
      FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos);
  }
  // The Engine.IO parameters the router reads.
  for (auto* key : {"EIO", "transport", "sid", "b64"})
    if (auto* v = req.param(key))
      FUZZ_CHECK(v->size() <= req.target.size());
  // An upgrade is answered with the key's SHA-1 in base64: 28 characters whatever the key.
  if (auto* key = req.header("sec-websocket-key"); key && req.websocket_upgrade)
    FUZZ_CHECK(wsframe::accept_key(*key).size() == 28);
  cors_options open{{"*"}, true};
  cors_options listed{{"https://chat.example"}, false};
  for (auto* opts : {&open, &listed}) {
    origin_allowed(*opts, req);
    if (auto pre = preflight(*opts, req)) {
      FUZZ_CHECK(req.method == "OPTIONS" && pre->status == 204);
    }
    auto res = response::json(200, "{}");
    apply_cors(*opts, req, res);
    for (auto& [name, value] : res.headers)
      FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::size_t read_size = data[0] == 0 ? size : data[0];
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto in_pieces = read_request(bytes, read_size);
  auto at_once = read_request(bytes, bytes.size() + 1);
  FUZZ_CHECK(in_pieces.has_value() == at_once.has_value());
  if (!at_once)
    return 0;
  FUZZ_CHECK(same(*in_pieces, *at_once));
  route(*at_once);
  return 0;
}
