#include "transport/pusher/signature.hpp"

#include "transport/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace pusher {

namespace {

// Whether `auth` is "KEY:SIG" with our key and the signature of `message`.
bool auth_valid(const app& a, std::string_view auth, std::string_view message) {
  auto colon = auth.find(':');
  if (colon == std::string_view::npos || auth.substr(0, colon) != a.key)
    return false;
  return digest_equals(auth.substr(colon + 1), hmac_sha256_hex(a.secret, message));
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The auth_* and body_md5 parameters; each may appear once.
struct auth_params {
  const std::string* key = nullptr;
  const std::string* timestamp = nullptr;
  const std::string* version = nullptr;
  const std::string* signature = nullptr;
  const std::string* body_md5 = nullptr;
};

std::optional<request_refusal> collect(const std::vector<std::pair<std::string, std::string>>& query,
                                       auth_params& out) {
  for (auto& [k, v] : query) {
    const std::string** slot = nullptr;
    if (k == "auth_key")
      slot = &out.key;
    else if (k == "auth_timestamp")
      slot = &out.timestamp;
    else if (k == "auth_version")
      slot = &out.version;
    else if (k == "auth_signature")
      slot = &out.signature;
    else if (k == "body_md5")
      slot = &out.body_md5;
    if (!slot)
      continue;
    if (*slot)
      return request_refusal{401, k + " given twice"};
    *slot = &v;
  }
  return std::nullopt;
}

} // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t n = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                 reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, sizeof out, &n))
    throw std::runtime_error("HMAC-SHA256 failed");
  return digest::hex(out, n);
}

std::string md5_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, EVP_md5(), nullptr) != 1)
    throw std::runtime_error("MD5 failed");
  return digest::hex(out, n);
}

bool digest_equals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string channel_auth(const app& a, std::string_view socket_id, std::string_view channel,
                         std::optional<std::string_view> channel_data) {
  std::string message;
  message.reserve(socket_id.size() + channel.size() + (channel_data ? channel_data->size() + 2 : 1));
  message.append(socket_id).append(":").append(channel);
  if (channel_data)
    message.append(":").append(*channel_data);
  return a.key + ":" + hmac_sha256_hex(a.secret, message);
}

bool channel_auth_valid(const app& a, std::string_view auth, std::string_view socket_id, std::string_view channel,
                        std::optional<std::string_view> channel_data) {
  std::string message;
  message.append(socket_id).append(":").append(channel);
  if (channel_data)
    message.append(":").append(*channel_data);
  return auth_valid(a, auth, message);
}

bool user_auth_valid(const app& a, std::string_view auth, std::string_view socket_id, std::string_view user_data) {
  std::string message;
  message.append(socket_id).append("::user::").append(user_data);
  return auth_valid(a, auth, message);
}

std::optional<request_refusal> verify_request(const app& a, std::string_view method, std::string_view path,
                                              const std::vector<std::pair<std::string, std::string>>& query,
                                              std::string_view body, std::int64_t now_s) {
  constexpr std::int64_t max_skew_s = 600;
  auth_params p;
  if (auto refusal = collect(query, p))
    return refusal;
  if (!p.key || !p.timestamp || !p.version || !p.signature)
    return request_refusal{401, "Missing auth_key, auth_timestamp, auth_version or auth_signature"};
  if (*p.key != a.key)
    return request_refusal{401, "Invalid auth_key"};
  if (*p.version != "1.0")
    return request_refusal{401, "Unsupported auth_version: 1.0 expected"};
  std::int64_t timestamp = 0;
  auto& ts = *p.timestamp;
  auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), timestamp);
  if (ts.empty() || ec != std::errc() || end != ts.data() + ts.size())
    return request_refusal{401, "Invalid auth_timestamp"};
  // The distance in unsigned arithmetic: exact for any two int64 values, never overflows.
  auto skew = timestamp < now_s ? static_cast<std::uint64_t>(now_s) - static_cast<std::uint64_t>(timestamp)
                                : static_cast<std::uint64_t>(timestamp) - static_cast<std::uint64_t>(now_s);
  if (skew > static_cast<std::uint64_t>(max_skew_s))
    return request_refusal{401, "Timestamp expired: Given timestamp (" + ts + ") not within "
                                    + std::to_string(max_skew_s) + "s of server time (" + std::to_string(now_s) + ")"};
  if (!body.empty() && !p.body_md5)
    return request_refusal{401, "Missing body_md5"};
  if (p.body_md5 && !digest_equals(*p.body_md5, md5_hex(body)))
    return request_refusal{401, "Invalid body_md5"};

  // The string to sign: every parameter but the signature, keys lowercased, sorted by key
  // (parameters of one key keep their order), values as decoded.
  std::vector<std::pair<std::string, const std::string*>> params;
  params.reserve(query.size());
  for (auto& [k, v] : query)
    if (k != "auth_signature")
      params.emplace_back(lowercase(k), &v);
  std::stable_sort(params.begin(), params.end(), [](auto& x, auto& y) { return x.first < y.first; });
  std::string to_sign;
  to_sign.append(method).append("\n").append(path).append("\n");
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i)
      to_sign += '&';
    to_sign.append(params[i].first).append("=").append(*params[i].second);
  }
  if (!digest_equals(*p.signature, hmac_sha256_hex(a.secret, to_sign)))
    return request_refusal{401, "Invalid signature: you should have sent HmacSHA256Hex(" + to_sign
                                    + ", your_secret_key), but you sent \"" + *p.signature + "\""};
  return std::nullopt;
}

} // namespace pusher
