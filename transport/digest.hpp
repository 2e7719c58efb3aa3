// Digests in lowercase hex, on OpenSSL's libcrypto: what the Pusher signatures, the
// cluster's admission proofs and the stored recovery pids are written with.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace digest {

/// `n` bytes as 2n lowercase hex digits.
std::string hex(const unsigned char* bytes, std::size_t n);

/// SHA-256 of `data`, 64 hex digits.
std::string sha256_hex(std::string_view data);

} // namespace digest
