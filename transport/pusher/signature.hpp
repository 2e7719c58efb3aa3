// Pusher's signatures: HMAC-SHA256 in lowercase hex over the strings the protocol names.
// Channel auth (private-, presence-), user auth (pusher:signin) and the HTTP API's
// request signing (auth_key, auth_timestamp, auth_version, body_md5, auth_signature).
// On OpenSSL's EVP; comparisons take a time independent of where strings differ.
#pragma once

#include "transport/pusher/app.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pusher {

std::string hmac_sha256_hex(std::string_view key, std::string_view message);
std::string md5_hex(std::string_view data);
/// Equality in a time that depends on the lengths only.
bool digest_equals(std::string_view a, std::string_view b);

/// "key:hexsig" where hexsig = HMAC(secret, "socket_id:channel") for private channels,
/// or "socket_id:channel:channel_data" when channel_data is given (presence).
bool channel_auth_valid(const app& a, std::string_view auth, std::string_view socket_id, std::string_view channel,
                        std::optional<std::string_view> channel_data);
/// pusher:signin: "key:hexsig" over "socket_id::user::user_data".
bool user_auth_valid(const app& a, std::string_view auth, std::string_view socket_id, std::string_view user_data);
/// What a signer computes for channel auth (tests and tools use it too).
std::string channel_auth(const app& a, std::string_view socket_id, std::string_view channel,
                         std::optional<std::string_view> channel_data);

/// Why an HTTP API request is refused, as Pusher answers it.
struct request_refusal {
  int status; // 401: every authentication failure (Pusher's "Authentication error")
  std::string message;
};
/// Checks a request against `a`: auth_key is the app's key, auth_timestamp within 600 s
/// of `now_s`, auth_version 1.0, body_md5 = md5_hex(body) (required when there is a body;
/// an auth parameter given twice is refused), and
/// auth_signature = HMAC(secret, "METHOD\nPATH\nQUERY") where QUERY is every parameter but
/// auth_signature, keys lowercased, sorted, joined "k=v&k=v" (values as decoded).
std::optional<request_refusal> verify_request(const app& a, std::string_view method, std::string_view path,
                                              const std::vector<std::pair<std::string, std::string>>& query,
                                              std::string_view body, std::int64_t now_s);

} // namespace pusher
