// TEMPORARY (lead): replaced by helper t10-papi's implementation at merge.
#include "transport/pusher/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace pusher {

namespace {
std::string hex(const unsigned char* p, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}
} // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), md, &n);
  return hex(md, n);
}

std::string md5_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_md5(), nullptr);
  return hex(md, n);
}

bool digest_equals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string channel_auth(const app& a, std::string_view socket_id, std::string_view channel,
                         std::optional<std::string_view> channel_data) {
  std::string msg = std::string(socket_id) + ":" + std::string(channel);
  if (channel_data)
    msg += ":" + std::string(*channel_data);
  return a.key + ":" + hmac_sha256_hex(a.secret, msg);
}

bool channel_auth_valid(const app& a, std::string_view auth, std::string_view socket_id, std::string_view channel,
                        std::optional<std::string_view> channel_data) {
  return digest_equals(auth, channel_auth(a, socket_id, channel, channel_data));
}

bool user_auth_valid(const app& a, std::string_view auth, std::string_view socket_id, std::string_view user_data) {
  auto expected = a.key + ":" + hmac_sha256_hex(a.secret, std::string(socket_id) + "::user::" + std::string(user_data));
  return digest_equals(auth, expected);
}

std::optional<request_refusal> verify_request(const app&, std::string_view, std::string_view,
                                              const std::vector<std::pair<std::string, std::string>>&,
                                              std::string_view, std::int64_t) {
  return request_refusal{501, "not implemented"};
}

} // namespace pusher
