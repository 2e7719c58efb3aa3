#include "transport/http/field_syntax.hpp"

namespace sio::http {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_ows(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    auto at = s.find(separator);
    parts.push_back(trim_ows(s.substr(0, at)));
    if (at == std::string_view::npos)
      return parts;
    s.remove_prefix(at + 1);
  }
}

} // namespace sio::http
