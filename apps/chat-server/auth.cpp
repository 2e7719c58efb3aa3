// Authentication (docs/chat-protocol.md §4, "Authorization"): JWTs and their claims, the
// middleware of `/` and `/chat`, the admin credential of `/admin`, shared secrets compared
// in constant time, and the socket's identity taken from them.
#include "apps/chat-server/chat_internal.hpp"

#include "transport/socketio/packet.hpp"

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <cmath>

namespace chat {

namespace {

constexpr std::string_view invalid_token = "Authentication error: Invalid token";

// A NumericDate claim (seconds) in milliseconds; nothing when it is not a finite number.
std::optional<double> numeric_date_ms(const json::value& v) {
  if (!v.is_number())
    return std::nullopt;
  auto seconds = v.to_number<double>();
  if (!std::isfinite(seconds))
    return std::nullopt;
  return seconds * 1000.0;
}

// The token's claims when its HS256 signature is ours. libjwt checks the signature: Debian
// 12's libjwt 1.10.2-1+deb12u1 compares the HMAC with its jwt_strcmp, which looks at every
// byte whatever differs (the fix of CVE-2024-25189; upstream's strcmp before it leaked
// timing). Any other algorithm ("none" above all) is refused.
std::optional<json::object> signed_claims(std::string_view token, const std::string& secret) {
  if (token.empty() || token.find('\0') != std::string_view::npos)
    return std::nullopt;
  std::string text(token);
  jwt_t* jwt = nullptr;
  if (jwt_decode(&jwt, text.c_str(), reinterpret_cast<const unsigned char*>(secret.data()),
                 static_cast<int>(secret.size()))
          != 0
      || !jwt)
    return std::nullopt;
  std::unique_ptr<jwt_t, void (*)(jwt_t*)> guard(jwt, jwt_free);
  if (jwt_get_alg(jwt) != JWT_ALG_HS256)
    return std::nullopt;
  std::unique_ptr<char, void (*)(void*)> grants(jwt_get_grants_json(jwt, nullptr), free);
  if (!grants)
    return std::nullopt;
  // parse_json: a claim such as exp: 1e999 becomes null, which no check below takes.
  auto parsed = sio::socketio::parse_json(grants.get());
  if (!parsed || !parsed->is_object())
    return std::nullopt;
  return std::move(parsed->as_object());
}

// The first of `keys` that holds an id (a string or an integer).
std::optional<std::string> first_id(const json::value& source, std::initializer_list<std::string_view> keys) {
  for (auto key : keys)
    if (auto id = id_field(source, key))
      return id;
  return std::nullopt;
}

void set_identity(sio::socket& s, const std::optional<std::string>& user_id, const json::value& source) {
  if (user_id)
    s.data()["userId"] = *user_id;
  for (auto key : {"username", "name"})
    if (auto name = string_field(source, key)) {
      s.data()["username"] = *name;
      break;
    }
}

} // namespace

token_identity verify_token(const chat_app& app, std::string_view token) {
  token_identity out;
  auto claims = signed_claims(token, app.opts.jwt_secret);
  if (!claims) {
    out.error = invalid_token;
    return out;
  }
  auto now = static_cast<double>(now_ms());
  // exp and nbf as RFC 7519 says (no leeway, as jsonwebtoken's default): a present claim
  // must be a number; exp is required unless --jwt-require-exp false.
  if (auto* exp = claims->if_contains("exp")) {
    auto at = numeric_date_ms(*exp);
    if (!at) {
      out.error = invalid_token;
      return out;
    }
    if (*at <= now) {
      out.error = "Authentication error: Token expired";
      return out;
    }
  } else if (app.opts.jwt_require_exp) {
    out.error = "Authentication error: Token has no exp";
    return out;
  }
  if (auto* nbf = claims->if_contains("nbf")) {
    auto at = numeric_date_ms(*nbf);
    if (!at) {
      out.error = invalid_token;
      return out;
    }
    if (*at > now) {
      out.error = "Authentication error: Token not yet valid";
      return out;
    }
  }
  json::value all(std::move(*claims));
  out.user_id = first_id(all, {"userId", "sub", "id"}).value_or("");
  if (out.user_id.empty()) {
    out.error = "Authentication error: Token has no user id";
    return out;
  }
  out.claims = std::move(all.as_object());
  return out;
}

bool secret_equals(std::string_view given, std::string_view expected) {
  // Digests of both have one length, so CRYPTO_memcmp's time says nothing about where
  // they differ, nor about the secret's length.
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  unsigned int na = 0, nb = 0;
  if (EVP_Digest(given.data(), given.size(), a, &na, EVP_sha256(), nullptr) != 1
      || EVP_Digest(expected.data(), expected.size(), b, &nb, EVP_sha256(), nullptr) != 1 || na != nb)
    return false;
  return CRYPTO_memcmp(a, b, na) == 0;
}

std::string impersonation_error(std::string_view field) {
  return "Forbidden: " + std::string(field) + " is not the authenticated user";
}

std::optional<std::string> not_oneself(const chat_app& app, sio::socket& s, const std::string& id,
                                       std::string_view field) {
  if (!verified(app) || user_id_of(s) == id)
    return std::nullopt;
  return impersonation_error(field);
}

std::optional<sio::connect_error> authenticate(const chat_app& app, sio::socket& s, bool require_admin) {
  auto& auth = s.handshake().auth;
  auto token = string_field(json::value(auth), "token");
  if (require_admin) {
    if (token && !app.opts.admin_token.empty() && secret_equals(*token, app.opts.admin_token))
      return std::nullopt;
    if (token && verified(app)) {
      auto v = verify_token(app, *token);
      auto* role = v.claims.if_contains("role");
      if (v.error.empty() && role && role->is_string() && role->as_string() == "admin")
        return std::nullopt;
    }
    return sio::connect_error{"Authentication error: admin credential required"};
  }
  if (!verified(app)) {
    json::value source(auth);
    set_identity(s, first_id(source, {"userId", "user_id", "id"}), source);
    return std::nullopt;
  }
  if (!token || token->empty())
    return sio::connect_error{"Authentication error: No token provided"};
  auto v = verify_token(app, *token);
  if (!v.error.empty())
    return sio::connect_error{v.error};
  set_identity(s, v.user_id, json::value(v.claims));
  if (auto* role = v.claims.if_contains("role"); role && role->is_string())
    s.data()["role"] = *role;
  return std::nullopt;
}

void warn_if_anonymous(const chat_app& app) {
  if (!verified(app))
    spdlog::warn("no jwt-secret: identities are not verified; clients choose their user ids, and conversations "
                 "have no participants checked (README, Authorization)");
}

} // namespace chat
