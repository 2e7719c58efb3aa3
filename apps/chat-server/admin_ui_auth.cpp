// The Admin UI's basic auth: a bcrypt hash checked with libxcrypt (Debian's libcrypt, which
// reads $2a$, $2b$ and $2y$ hashes), sessions the UI reconnects with, and a budget of failed
// logins. A bcrypt of cost 10 takes tens of milliseconds of a thread: checks run one at a
// time (a login that finds one running is told to try again: it never blocks its actor
// thread), at most max_bcrypts_per_second a second over the server, and an address that
// failed max_failures_per_minute times waits out its minute without costing a bcrypt.
#include "apps/chat-server/admin_ui.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>
#include <regex>

namespace chat {

namespace json = boost::json;

std::string admin_ui_hash_problem(const std::string& hash) {
  static const std::regex shape(R"(^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$)");
  std::smatch m;
  if (!std::regex_match(hash, m, shape))
    return "not a bcrypt hash ($2a$, $2b$ or $2y$, a two-digit cost, 53 characters of salt and hash)";
  auto cost = std::stoi(m[1].str());
  if (cost < 4 || cost > 31)
    return "a bcrypt cost must be 4 to 31";
  crypt_data data{};
  if (!crypt_rn("", hash.c_str(), &data, sizeof data))
    return "this system's libcrypt cannot compute it";
  return {};
}

bool bcrypt_matches(std::string_view password, const std::string& hash) {
  if (password.find('\0') != std::string_view::npos)
    return false;
  std::string key(password.substr(0, 72)); // bcrypt reads 72 bytes, as bcryptjs does
  crypt_data data{};
  const char* out = crypt_rn(key.c_str(), hash.c_str(), &data, sizeof data);
  if (!out || out[0] == '*' || std::strlen(out) != hash.size())
    return false;
  return CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
}

admin_ui_auth::verdict admin_ui_auth::check(const json::object& auth, const std::string& address,
                                            std::string& new_session, std::chrono::steady_clock::time_point now) {
  if (auto* id = auth.if_contains("sessionId"); id && id->is_string() && session_alive(std::string(id->get_string()), now))
    return verdict::session;
  auto* user = auth.if_contains("username");
  auto* pass = auth.if_contains("password");
  if (!user || !user->is_string() || !pass || !pass->is_string())
    return verdict::refused; // nothing to check: no bcrypt spent, no failure counted
  if (over_budget(address, now))
    return verdict::throttled;
  if (!take_bcrypt(now))
    return verdict::busy;
  std::unique_lock<std::mutex> one_at_a_time(bcrypt_, std::try_to_lock);
  if (!one_at_a_time.owns_lock())
    return verdict::busy; // a bcrypt runs on another thread: no actor thread waits for it
  bool ok = bcrypt_matches(pass->get_string(), hash_);
  one_at_a_time.unlock();
  auto& given = user->get_string();
  ok = ok && given.size() == username_.size() && CRYPTO_memcmp(given.data(), username_.data(), given.size()) == 0;
  if (!ok) {
    failed(address, now);
    return verdict::refused;
  }
  new_session = make_session(now);
  return verdict::login;
}

bool admin_ui_auth::session_alive(const std::string& id, std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end())
    return false;
  if (it->second <= now) {
    sessions_.erase(it);
    return false;
  }
  return true;
}

std::string admin_ui_auth::make_session(std::chrono::steady_clock::time_point now) {
  // 8 random bytes in hex, as the reference's randomBytes(8).toString("hex").
  unsigned char raw[8];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return {};
  static const char digits[] = "0123456789abcdef";
  std::string id;
  for (auto b : raw) {
    id += digits[b >> 4];
    id += digits[b & 15];
  }
  std::lock_guard<std::mutex> guard(mutex_);
  if (sessions_.size() >= max_sessions) {
    // The expired go first; if none has, the one closest to expiring.
    for (auto it = sessions_.begin(); it != sessions_.end();)
      it = it->second <= now ? sessions_.erase(it) : std::next(it);
    if (sessions_.size() >= max_sessions) {
      auto oldest = sessions_.begin();
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
        if (it->second < oldest->second)
          oldest = it;
      sessions_.erase(oldest);
    }
  }
  sessions_[id] = now + session_lifetime;
  return id;
}

bool admin_ui_auth::take_bcrypt(std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (now - bcrypt_second_ >= std::chrono::seconds(1)) {
    bcrypt_second_ = now;
    bcrypts_this_second_ = 0;
  }
  if (bcrypts_this_second_ >= max_bcrypts_per_second)
    return false;
  ++bcrypts_this_second_;
  return true;
}

bool admin_ui_auth::over_budget(const std::string& address, std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = failures_.find(address);
  if (it == failures_.end())
    return false;
  if (now - it->second.window >= std::chrono::minutes(1)) {
    failures_.erase(it);
    return false;
  }
  return it->second.count >= max_failures_per_minute;
}

void admin_ui_auth::failed(const std::string& address, std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (failures_.size() >= max_tracked_addresses && !failures_.count(address)) {
    // Bounded: the minutes that are over go; if every one is current, all go (a flood of
    // addresses costs their bcrypts, one at a time, and no memory).
    for (auto it = failures_.begin(); it != failures_.end();)
      it = now - it->second.window >= std::chrono::minutes(1) ? failures_.erase(it) : std::next(it);
    if (failures_.size() >= max_tracked_addresses)
      failures_.clear();
  }
  auto& f = failures_[address];
  if (f.count == 0 || now - f.window >= std::chrono::minutes(1)) {
    f.window = now;
    f.count = 0;
  }
  ++f.count;
}

} // namespace chat
