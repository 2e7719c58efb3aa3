// Socket and session ids: 20 characters of base64url, unique across nodes because the
// node id is part of every id, unpredictable because the rest is random.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sio {

/// This process's node id (random unless set before the first id is made).
std::uint32_t node_id();
void set_node_id(std::uint32_t id);

/// A fresh id: node id, a process-wide counter and random bytes.
std::string make_id();

/// A fresh id that is all random (15 bytes, 20 characters): a credential, such as
/// connection state recovery's pid, which restores a socket's identity.
std::string make_private_id();

/// The first characters of every id `node` makes (30 of its 32 bits): the store finds a
/// node's connections by it.
std::string id_prefix(std::uint32_t node);

/// The node id an id made by make_id() carries (on any node), or nothing when `id` is not
/// such an id: the front end forwards a session's requests to the node its id names.
std::optional<std::uint32_t> node_of_id(const std::string& id);

/// A process-wide unique number for local keys (sockets, channels).
std::uint64_t next_key();

} // namespace sio
