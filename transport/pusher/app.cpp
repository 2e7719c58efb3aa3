// TEMPORARY (lead): replaced by helper t10-papi's implementation at merge.
#include "transport/pusher/app.hpp"

namespace pusher {

std::optional<app> parse_app(std::string_view spec, std::string& error) {
  app a;
  auto first = spec.find(':');
  auto second = first == std::string_view::npos ? first : spec.find(':', first + 1);
  if (second == std::string_view::npos) {
    error = "expected ID:KEY:SECRET";
    return std::nullopt;
  }
  a.id = std::string(spec.substr(0, first));
  a.key = std::string(spec.substr(first + 1, second - first - 1));
  a.secret = std::string(spec.substr(second + 1));
  return a;
}

app_registry::app_registry(std::vector<app> apps)
    : apps_(std::move(apps)), counts_(new std::atomic<std::size_t>[apps_.size()]()) {}

bool app_registry::empty() const {
  return apps_.empty();
}
const std::vector<app>& app_registry::all() const {
  return apps_;
}
const app* app_registry::by_key(std::string_view key) const {
  for (auto& a : apps_)
    if (a.key == key)
      return &a;
  return nullptr;
}
const app* app_registry::by_id(std::string_view id) const {
  for (auto& a : apps_)
    if (a.id == id)
      return &a;
  return nullptr;
}
bool app_registry::try_admit(const app& a) {
  auto& c = counts_[static_cast<std::size_t>(&a - apps_.data())];
  if (a.max_connections == 0) {
    ++c;
    return true;
  }
  auto n = c.load();
  while (n < a.max_connections)
    if (c.compare_exchange_weak(n, n + 1))
      return true;
  return false;
}
void app_registry::release(const app& a) {
  --counts_[static_cast<std::size_t>(&a - apps_.data())];
}
std::size_t app_registry::connections(const app& a) const {
  return counts_[static_cast<std::size_t>(&a - apps_.data())].load();
}

} // namespace pusher
