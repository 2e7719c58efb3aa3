#include "transport/http/permessage_deflate.hpp"

#include "transport/http/field_syntax.hpp"

#include <boost/algorithm/string/predicate.hpp>

#include <set>
#include <vector>

namespace sio::http::permessage_deflate {

namespace {

/// A window-bits value: 8..15, possibly quoted (RFC 7692 §7.1.2.1 allows a quoted-string).
std::optional<int> window_value(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
    v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 2 || (v.size() == 2 && v[0] == '0'))
    return std::nullopt;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9')
      return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n < 8 || n > 15)
    return std::nullopt;
  return n;
}

std::optional<agreement> accept_offer(const std::vector<std::string_view>& params) {
  agreement a;
  std::set<std::string_view> seen;
  for (std::size_t i = 1; i < params.size(); ++i) {
    auto eq = params[i].find('=');
    auto name = trim_ows(params[i].substr(0, eq));
    auto value = eq == std::string_view::npos ? std::optional<std::string_view>{} : trim_ows(params[i].substr(eq + 1));
    if (!seen.insert(name).second)
      return std::nullopt;
    if (name == "server_no_context_takeover" || name == "client_no_context_takeover") {
      if (value)
        return std::nullopt;
    } else if (name == "client_max_window_bits") {
      // Optional value: we never ask the client for a smaller window, so nothing to answer.
      if (value && !window_value(*value))
        return std::nullopt;
    } else if (name == "server_max_window_bits") {
      auto bits = value ? window_value(*value) : std::nullopt;
      if (!bits || *bits == 8)
        return std::nullopt;
      a.window_bits = *bits;
      a.window_asked = true;
    } else {
      return std::nullopt;
    }
  }
  return a;
}

} // namespace

std::string agreement::answer() const {
  std::string s = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
  if (window_asked)
    s += "; server_max_window_bits=" + std::to_string(window_bits);
  return s;
}

std::optional<agreement> accept(std::string_view extensions) {
  for (auto offer : split_ows(extensions, ',')) {
    auto params = split_ows(offer, ';');
    if (!boost::algorithm::iequals(params.front(), "permessage-deflate"))
      continue;
    if (auto a = accept_offer(params))
      return a;
  }
  return std::nullopt;
}

} // namespace sio::http::permessage_deflate
