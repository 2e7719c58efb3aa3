#include "actors/ids.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <random>
#include <stdexcept>

namespace sio {

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t id_length = 20; // 15 bytes in base64url

std::atomic<std::uint32_t> the_node_id{0};
std::atomic<std::uint64_t> counter{0};

std::uint32_t random_u32() {
  std::uint32_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof(v)) != 1)
    v = std::random_device{}();
  return v;
}

// The random part of ids comes from OpenSSL's CSPRNG, drawn 4 KiB at a time per thread:
// one RAND_bytes call per id cost a getpid() (OpenSSL's fork check) and a DRBG lock each,
// ~4 % of a connect's CPU with two ids per connect.
bool random_bytes(unsigned char* out, std::size_t n) {
  thread_local std::array<unsigned char, 4096> pool{};
  thread_local std::size_t used = pool.size();
  if (used + n > pool.size()) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1)
      return false;
    used = 0;
  }
  std::copy_n(pool.data() + used, n, out);
  // Drawn bytes are not kept around in the pool.
  std::fill_n(pool.data() + used, n, 0);
  used += n;
  return true;
}

using raw_id = std::array<unsigned char, 15>;

// The node id first, in its first 4 bytes.
raw_id starting_with(std::uint32_t node) {
  raw_id raw{};
  for (int i = 0; i < 4; ++i)
    raw[i] = static_cast<unsigned char>(node >> (8 * i));
  return raw;
}

std::string base64url(const raw_id& raw) {
  std::string out;
  out.reserve(id_length);
  for (std::size_t i = 0; i < raw.size(); i += 3) {
    std::uint32_t n = (raw[i] << 16) | (raw[i + 1] << 8) | raw[i + 2];
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  return out;
}

} // namespace

std::uint32_t node_id() {
  auto id = the_node_id.load();
  if (id == 0) {
    std::uint32_t fresh = random_u32() | 1u;
    the_node_id.compare_exchange_strong(id, fresh);
    id = the_node_id.load();
  }
  return id;
}

void set_node_id(std::uint32_t id) {
  the_node_id.store(id == 0 ? 1 : id);
}

std::uint64_t next_key() {
  return ++counter;
}

std::string id_prefix(std::uint32_t node) {
  // 6 bits a character: the first 5 hold 30 bits of the node id and nothing else.
  return base64url(starting_with(node)).substr(0, 5);
}

std::string make_id() {
  auto raw = starting_with(node_id());
  auto seq = next_key();
  for (int i = 0; i < 5; ++i)
    raw[4 + i] = static_cast<unsigned char>(seq >> (8 * i));
  if (!random_bytes(raw.data() + 9, 6)) {
    auto r = random_u32();
    for (int i = 0; i < 4; ++i)
      raw[9 + i] = static_cast<unsigned char>(r >> (8 * i));
  }
  return base64url(raw);
}

std::string make_private_id() {
  raw_id raw{};
  if (!random_bytes(raw.data(), raw.size()) && RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("no random bytes for a private id");
  return base64url(raw);
}

std::optional<std::uint32_t> node_of_id(const std::string& id) {
  if (id.size() != id_length)
    return std::nullopt;
  std::uint64_t bits = 0; // the first 8 characters: bytes 0-5, the node id in bytes 0-3
  for (std::size_t i = 0; i < id.size(); ++i) {
    auto* at = std::find(std::begin(alphabet), std::end(alphabet) - 1, id[i]);
    if (at == std::end(alphabet) - 1)
      return std::nullopt;
    if (i < 8)
      bits = (bits << 6) | static_cast<std::uint64_t>(at - alphabet);
  }
  std::uint32_t node = 0;
  for (int i = 0; i < 4; ++i)
    node |= static_cast<std::uint32_t>((bits >> (40 - 8 * i)) & 0xff) << (8 * i);
  return node;
}

} // namespace sio
