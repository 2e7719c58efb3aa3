// Authentication (docs/chat-protocol.md §4): the JWT middleware of `/` and `/chat`, the
// admin credential of `/admin`, and the socket's identity taken from them.
#include "apps/chat-server/chat_internal.hpp"

#include <jwt.h>

namespace chat {

namespace {

struct jwt_claims {
  json::object claims;
  std::string error; // empty when valid
};

// HS256 only: libjwt checks the signature with our key; we refuse any other algorithm
// (notably "none") and check `exp` ourselves.
jwt_claims verify_jwt(const std::string& token, const std::string& secret) {
  jwt_claims out;
  jwt_t* jwt = nullptr;
  if (jwt_decode(&jwt, token.c_str(), reinterpret_cast<const unsigned char*>(secret.data()),
                 static_cast<int>(secret.size()))
          != 0
      || !jwt) {
    out.error = "Authentication error: Invalid token";
    return out;
  }
  std::unique_ptr<jwt_t, void (*)(jwt_t*)> guard(jwt, jwt_free);
  if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
    out.error = "Authentication error: Invalid token";
    return out;
  }
  char* grants = jwt_get_grants_json(jwt, nullptr);
  if (!grants) {
    out.error = "Authentication error: Invalid token";
    return out;
  }
  std::string text(grants);
  free(grants);
  boost::system::error_code ec;
  auto parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) {
    out.error = "Authentication error: Invalid token";
    return out;
  }
  out.claims = std::move(parsed.as_object());
  if (auto* exp = out.claims.if_contains("exp"); exp && exp->is_number()) {
    if (exp->to_number<double>() * 1000.0 <= static_cast<double>(now_ms()))
      out.error = "Authentication error: Token expired";
  }
  return out;
}

void set_identity(sio::socket& s, const json::value& source, std::initializer_list<std::string_view> id_keys,
                  std::initializer_list<std::string_view> name_keys) {
  for (auto key : id_keys)
    if (auto id = id_field(source, key)) {
      s.data()["userId"] = *id;
      break;
    }
  for (auto key : name_keys)
    if (auto name = string_field(source, key)) {
      s.data()["username"] = *name;
      break;
    }
}

} // namespace

bool authenticate_token(const chat_app& app, const std::string& token) {
  return !app.opts.jwt_secret.empty() && verify_jwt(token, app.opts.jwt_secret).error.empty();
}

std::optional<sio::connect_error> authenticate(const chat_app& app, sio::socket& s, bool require_admin) {
  auto& auth = s.handshake().auth;
  auto token = string_field(json::value(auth), "token");
  if (require_admin) {
    if (token && !app.opts.admin_token.empty() && *token == app.opts.admin_token)
      return std::nullopt;
    if (token && !app.opts.jwt_secret.empty()) {
      auto v = verify_jwt(*token, app.opts.jwt_secret);
      auto* role = v.claims.if_contains("role");
      if (v.error.empty() && role && role->is_string() && role->as_string() == "admin")
        return std::nullopt;
    }
    return sio::connect_error{"Authentication error: admin credential required"};
  }
  if (app.opts.jwt_secret.empty()) {
    set_identity(s, json::value(auth), {"userId", "user_id", "id"}, {"username", "name"});
    return std::nullopt;
  }
  if (!token || token->empty())
    return sio::connect_error{"Authentication error: No token provided"};
  auto v = verify_jwt(*token, app.opts.jwt_secret);
  if (!v.error.empty())
    return sio::connect_error{v.error};
  json::value claims(v.claims);
  set_identity(s, claims, {"userId", "sub", "id"}, {"username", "name"});
  if (auto* role = v.claims.if_contains("role"); role && role->is_string())
    s.data()["role"] = *role;
  return std::nullopt;
}

} // namespace chat
