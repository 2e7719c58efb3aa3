#include "transport/http/refusal_log.hpp"

namespace sio::http {

namespace {

std::string line(std::size_t n, const std::string& cause, const std::string& when, const std::string& detail) {
  return "refused " + std::to_string(n) + (n == 1 ? " connection" : " connections") + when + ": " + cause
         + (detail.empty() ? "" : " (last from " + detail + ")");
}

} // namespace

std::string refusal_log::refused(const std::string& cause, clock::time_point now, std::size_t n, std::string detail) {
  auto it = open_.find(cause);
  if (it != open_.end()) {
    it->second.count += n;
    it->second.detail = std::move(detail);
    return {};
  }
  open_.emplace(cause, window{now, 0, {}});
  return line(n, cause, "", detail);
}

std::vector<std::string> refusal_log::due(clock::time_point now) {
  std::vector<std::string> lines;
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(interval_).count();
  for (auto it = open_.begin(); it != open_.end();) {
    auto& w = it->second;
    if (now - w.start < interval_) {
      ++it;
      continue;
    }
    if (w.count == 0) {
      it = open_.erase(it);
      continue;
    }
    lines.push_back(line(w.count, it->first, " in the last " + std::to_string(seconds) + " s", w.detail));
    w = window{now, 0, {}};
    ++it;
  }
  return lines;
}

} // namespace sio::http
