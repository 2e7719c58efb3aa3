// Every message the actors exchange, as plain structs with CAF inspect overloads. Types
// that may cross nodes (broadcasts, joins, deliveries) serialize fully; the transport
// handles that only ever travel inside one process are marked as such.
#pragma once

#include "transport/http/server.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sio {

// -- atoms ---------------------------------------------------------------------------

using ping_atom = caf::atom_constant<caf::atom("ping")>;            // heartbeat: send a ping
using ping_timeout_atom = caf::atom_constant<caf::atom("pingtmo")>; // no pong in time
using connect_timeout_atom = caf::atom_constant<caf::atom("conntmo")>;
using ack_timeout_atom = caf::atom_constant<caf::atom("acktmo")>;
using upgrade_timeout_atom = caf::atom_constant<caf::atom("upgtmo")>;
using close_timeout_atom = caf::atom_constant<caf::atom("closetmo")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using count_atom = caf::atom_constant<caf::atom("count")>;

// -- wire packets ----------------------------------------------------------------------

/// One encoded Socket.IO packet as the wire carries it: the Engine.IO text message
/// ("4" + Socket.IO text) and the binary attachments that follow it.
struct wire_packet {
  std::string text;
  std::vector<std::string> attachments;
};

/// An immutable, shared wire packet: a broadcast encodes once and every recipient holds
/// the same bytes. Serializes by value when it crosses nodes.
struct shared_frame {
  std::shared_ptr<const wire_packet> ptr;

  const wire_packet& operator*() const { return *ptr; }
  const wire_packet* operator->() const { return ptr.get(); }
  explicit operator bool() const { return static_cast<bool>(ptr); }
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, shared_frame& x) {
  std::string text = x.ptr ? x.ptr->text : std::string{};
  std::vector<std::string> attachments = x.ptr ? x.ptr->attachments : std::vector<std::string>{};
  return f(caf::meta::type_name("shared_frame"), text, attachments, caf::meta::load_callback([&]() -> caf::error {
             x.ptr = std::make_shared<const wire_packet>(wire_packet{std::move(text), std::move(attachments)});
             return caf::none;
           }));
}

// -- namespace and room traffic ------------------------------------------------------------

/// A socket entering a namespace (it joins the room named by its id).
struct socket_add {
  std::uint64_t key;
  std::string id;
  caf::actor connection;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, socket_add& x) {
  return f(caf::meta::type_name("socket_add"), x.key, x.id, x.connection);
}

struct socket_remove {
  std::uint64_t key;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, socket_remove& x) {
  return f(caf::meta::type_name("socket_remove"), x.key);
}

struct room_join {
  std::uint64_t key;
  std::string room;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, room_join& x) {
  return f(caf::meta::type_name("room_join"), x.key, x.room);
}

struct room_leave {
  std::uint64_t key;
  std::string room;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, room_leave& x) {
  return f(caf::meta::type_name("room_leave"), x.key, x.room);
}

/// Emit `frame` to the namespace, or to the union of `rooms`, minus every member of the
/// `except` rooms. Each socket gets it at most once.
struct broadcast_request {
  std::vector<std::string> rooms;
  std::vector<std::string> except;
  shared_frame frame;
  bool is_volatile = false;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, broadcast_request& x) {
  return f(caf::meta::type_name("broadcast_request"), x.rooms, x.except, x.frame, x.is_volatile);
}

/// Room membership kept by a room actor.
struct member_add {
  std::uint64_t key;
  caf::actor connection;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, member_add& x) {
  return f(caf::meta::type_name("member_add"), x.key, x.connection);
}

struct member_remove {
  std::uint64_t key;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, member_remove& x) {
  return f(caf::meta::type_name("member_remove"), x.key);
}

/// A room's share of a broadcast: every member except the sorted `exclude` keys.
struct room_deliver {
  shared_frame frame;
  std::vector<std::uint64_t> exclude;
  bool is_volatile = false;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, room_deliver& x) {
  return f(caf::meta::type_name("room_deliver"), x.frame, x.exclude, x.is_volatile);
}

/// A frame for one socket of a connection.
struct deliver {
  std::uint64_t key;
  shared_frame frame;
  bool is_volatile = false;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, deliver& x) {
  return f(caf::meta::type_name("deliver"), x.key, x.frame, x.is_volatile);
}

/// Asks a connection to close all its sockets with `reason` and end the session.
struct close_request {
  std::string reason;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, close_request& x) {
  return f(caf::meta::type_name("close_request"), x.reason);
}

// -- transport to connection (one process only: they carry live I/O handles) -----------------

struct ws_in {
  std::uint64_t channel;
  bool binary;
  std::string data;
};
struct ws_gone {
  std::uint64_t channel;
  std::string reason;
};
struct ws_attach {
  std::uint64_t channel;
  http::ws_channel_ptr ws;
};
struct poll_get {
  http::reply_ptr reply;
};
struct poll_post {
  std::string body;
  bool binary_body = false; // Engine.IO v3 binary payload (application/octet-stream)
  http::reply_ptr reply;
};

/// Announces every message type to CAF; call on the actor_system_config.
void announce_message_types(caf::actor_system_config& cfg);

} // namespace sio

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::ws_in)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::ws_gone)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::ws_attach)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::poll_get)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::poll_post)
