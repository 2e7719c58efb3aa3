#include "transport/pusher/app.hpp"

#include <algorithm>
#include <charconv>

namespace pusher {

namespace {

// Ids and keys go into URL paths (/apps/{id}, /app/{key}) unescaped: letters, digits, '-',
// '_' and '.' only. A secret may hold any visible ASCII but the spec's separators.
constexpr std::size_t max_field = 200;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= max_field && std::all_of(s.begin(), s.end(), is_name_char);
}

bool valid_secret(std::string_view s) {
  return !s.empty() && s.size() <= max_field
         && std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f && c != ':' && c != ';'; });
}

std::optional<std::uint64_t> parse_count(std::string_view s, std::uint64_t max) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || n > max)
    return std::nullopt;
  return n;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos)
      return out;
    s.remove_prefix(at + 1);
  }
}

// Applies one "name=value" option to `a`; the reason when it is not one we know.
std::optional<std::string> apply_option(app& a, std::string_view option) {
  auto eq = option.find('=');
  if (eq == std::string_view::npos)
    return "option '" + std::string(option) + "' is not name=value";
  auto name = option.substr(0, eq);
  auto value = option.substr(eq + 1);
  if (name == "origins") {
    for (auto origin : split(value, '|')) {
      if (origin.empty())
        return std::string("origins: an empty origin");
      a.allowed_origins.emplace_back(origin);
    }
    return std::nullopt;
  }
  if (name == "activity-timeout") {
    // pusher-js pings after the lower of this and its own activityTimeout.
    auto n = parse_count(value, 3600);
    if (!n || *n < 1)
      return std::string("activity-timeout must be 1..3600 seconds");
    a.activity_timeout = std::chrono::seconds(*n);
    return std::nullopt;
  }
  if (name == "max-connections") {
    auto n = parse_count(value, 100000000);
    if (!n)
      return std::string("max-connections must be a number (0: no limit)");
    a.max_connections = static_cast<std::size_t>(*n);
    return std::nullopt;
  }
  if (name == "namespace") {
    if (value.empty() || value.front() != '/' || value.size() > max_field)
      return std::string("namespace must start with '/'");
    a.nsp = std::string(value);
    return std::nullopt;
  }
  return "unknown option '" + std::string(name) + "'";
}

} // namespace

std::optional<app> parse_app(std::string_view spec, std::string& error) {
  auto parts = split(spec, ';');
  auto credentials = split(parts.front(), ':');
  if (credentials.size() != 3) {
    error = "expected ID:KEY:SECRET";
    return std::nullopt;
  }
  if (!valid_name(credentials[0]) || !valid_name(credentials[1])) {
    error = "ID and KEY must be 1 to 200 letters, digits, '-', '_' or '.'";
    return std::nullopt;
  }
  if (!valid_secret(credentials[2])) {
    error = "SECRET must be 1 to 200 visible ASCII characters, without ':' or ';'";
    return std::nullopt;
  }
  app a;
  a.id = std::string(credentials[0]);
  a.key = std::string(credentials[1]);
  a.secret = std::string(credentials[2]);
  std::vector<std::string_view> seen;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    auto name = parts[i].substr(0, parts[i].find('='));
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      error = "option '" + std::string(name) + "' given twice";
      return std::nullopt;
    }
    seen.push_back(name);
    if (auto why = apply_option(a, parts[i])) {
      error = std::move(*why);
      return std::nullopt;
    }
  }
  return a;
}

// -- app_registry ---------------------------------------------------------------------------

app_registry::app_registry(std::vector<app> apps)
    : apps_(std::move(apps)), counts_(std::make_unique<std::atomic<std::size_t>[]>(apps_.size())) {
  for (std::size_t i = 0; i < apps_.size(); ++i)
    counts_[i].store(0);
}

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

namespace {

// The index of `a` in `apps`: it is one of them (by address) or one with the same id.
std::size_t index_of(const std::vector<app>& apps, const app& a) {
  if (!apps.empty() && &a >= apps.data() && &a < apps.data() + apps.size())
    return static_cast<std::size_t>(&a - apps.data());
  for (std::size_t i = 0; i < apps.size(); ++i)
    if (apps[i].id == a.id)
      return i;
  return apps.size();
}

} // namespace

bool app_registry::try_admit(const app& a) {
  auto i = index_of(apps_, a);
  if (i == apps_.size())
    return false;
  auto& count = counts_[i];
  auto limit = apps_[i].max_connections;
  auto n = count.load();
  do {
    if (limit != 0 && n >= limit)
      return false;
  } while (!count.compare_exchange_weak(n, n + 1));
  return true;
}

void app_registry::release(const app& a) {
  auto i = index_of(apps_, a);
  if (i == apps_.size())
    return;
  auto& count = counts_[i];
  auto n = count.load();
  while (n > 0 && !count.compare_exchange_weak(n, n - 1)) {
  }
}

std::size_t app_registry::connections(const app& a) const {
  auto i = index_of(apps_, a);
  return i == apps_.size() ? 0 : counts_[i].load();
}

} // namespace pusher
