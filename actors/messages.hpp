// Every message the actors exchange, as plain structs with CAF inspect overloads. Types
// that may cross nodes (broadcasts, joins, deliveries) serialize fully; the transport
// handles that only ever travel inside one process are marked as such.
#pragma once

#include "actors/api.hpp"
#include "transport/http/server.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
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
using rooms_atom = caf::atom_constant<caf::atom("rooms")>;
using overcap_atom = caf::atom_constant<caf::atom("overcap")>; // the write queue passed its cap
using wflush_atom = caf::atom_constant<caf::atom("wflush")>;   // flush the deferred writes now

// -- wire packets ----------------------------------------------------------------------

/// One encoded Socket.IO packet as the wire carries it: the Engine.IO text message
/// ("4" + Socket.IO text) and the binary attachments that follow it.
struct wire_packet {
  std::string text;
  std::vector<std::string> attachments;
  /// The same event as a Pusher message, when the sender made one (a Pusher client event:
  /// one channel, with the sender's user_id); empty: subscribers translate `text`.
  std::string pusher;
  /// The last argument of the event is connection state recovery's offset, not the
  /// sender's (actors/recovery.hpp): translations for other protocols leave it out.
  bool ends_with_offset = false;
  /// The packet in MessagePack, for the clients of a msgpack server: made from `text` and
  /// `attachments` on first use (std::atomic_load / atomic_store), once per frame however
  /// many recipients share it. Not serialized.
  mutable std::shared_ptr<const std::string> msgpack = nullptr;
};

/// An immutable, shared wire packet: a broadcast encodes once and every recipient holds
/// the same bytes. Serializes by value when it crosses nodes.
struct shared_frame {
  std::shared_ptr<const wire_packet> ptr;

  const wire_packet& operator*() const { return *ptr; }
  const wire_packet* operator->() const { return ptr.get(); }
  explicit operator bool() const { return static_cast<bool>(ptr); }
  /// Its size on the wire (Socket.IO text and attachments), for the metrics.
  std::size_t bytes() const {
    if (!ptr)
      return 0;
    auto n = ptr->text.size();
    for (auto& a : ptr->attachments)
      n += a.size();
    return n;
  }
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, shared_frame& x) {
  std::string text = x.ptr ? x.ptr->text : std::string{};
  std::vector<std::string> attachments = x.ptr ? x.ptr->attachments : std::vector<std::string>{};
  std::string pusher = x.ptr ? x.ptr->pusher : std::string{};
  bool ends_with_offset = x.ptr ? x.ptr->ends_with_offset : false;
  return f(caf::meta::type_name("shared_frame"), text, attachments, pusher, ends_with_offset,
           caf::meta::load_callback([&]() -> caf::error {
             x.ptr = std::make_shared<const wire_packet>(
                 wire_packet{std::move(text), std::move(attachments), std::move(pusher), ends_with_offset});
             return caf::none;
           }));
}

/// A wire packet as WebSocket messages; the strings alias the shared frame (no copy).
/// The WebSocket / Engine.IO messages of a frame: its text and attachments, or with
/// `msgpack` the one binary message of socket.io-msgpack-parser (empty when the frame's
/// text is not a packet, which our encoder never makes).
std::vector<http::ws_message> to_ws(const shared_frame& f, bool msgpack = false);

// -- the direct delivery path ------------------------------------------------------------------

/// Where broadcasts reach a connection on this node without a message per recipient.
/// While a connection's transport is a (v4) WebSocket, it publishes the channel here,
/// and namespace and room actors hand the shared frame straight to the channel's write
/// queue: the channel is thread-safe and keeps frames in order, so the connection actor
/// has nothing to add. Until then (polling, upgrading, Engine.IO v3), or for a recipient
/// on another node (the sink is never serialized), a delivery is a `deliver` message to
/// the connection actor.
///
/// The channel is set at most once and never cleared: transports only go from polling to
/// WebSocket, and a closed channel refuses sends by itself.
class delivery_sink {
public:
  enum class outcome {
    sent,        // queued on the WebSocket
    dropped,     // volatile and the client is behind, or the channel is closing
    over_cap,    // the write queue is full: the connection must drop the client (reported once)
    unavailable, // no WebSocket yet: deliver through the connection actor
  };

  void publish(http::ws_channel_ptr channel);
  outcome deliver(const shared_frame& frame, bool is_volatile);
  /// Frames go out in MessagePack (a msgpack server); set before anything is delivered.
  void use_msgpack() { msgpack_ = true; }

private:
  bool msgpack_ = false;
  std::once_flag once_;
  http::ws_channel_ptr owned_;
  std::atomic<http::ws_channel*> channel_{nullptr};
  std::atomic<bool> overflowed_{false};
};
using delivery_sink_ptr = std::shared_ptr<delivery_sink>;

/// A socket as namespace and room actors address it.
struct recipient {
  caf::actor connection;
  delivery_sink_ptr sink; // null for a socket of another node
  /// A member that takes room broadcasts only, never the whole namespace's (a Pusher
  /// subscription: a channel's events go to the channel's subscribers alone).
  bool rooms_only = false;
};

/// Hands `frame` to socket `key` through its sink, else as a `deliver` message.
void deliver_to(caf::event_based_actor* self, std::uint64_t key, const recipient& r, const shared_frame& frame,
                bool is_volatile);

/// The writes a broadcasting actor (namespace, room) keeps across broadcasts.
struct deferred_writes {
  http::write_batch batch;
  bool flush_pending = false;

  /// The wflush_atom handler.
  void flush_now() {
    flush_pending = false;
    batch.flush();
  }
};

/// After a broadcast: flushes the collected writes now when nothing else waits in the
/// mailbox, else once the waiting messages are handled (a wflush_atom to itself), so that
/// a connection gets the frames of a burst of broadcasts in one write.
void finish_broadcast(caf::event_based_actor* self, deferred_writes& w);

// -- namespace and room traffic ------------------------------------------------------------

/// A socket entering a namespace (it joins the room named by its id).
struct socket_add {
  std::uint64_t key;
  std::string id;
  caf::actor connection;
  delivery_sink_ptr sink;  // local only: not serialized
  bool rooms_only = false; // see recipient::rooms_only
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, socket_add& x) {
  return f(caf::meta::type_name("socket_add"), x.key, x.id, x.connection, x.rooms_only);
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
  /// This node's sockets only: not handed to the cluster (a broadcast that came from a
  /// member, or one every node makes for its own sockets, like socket.io's `local`).
  bool local = false;
  /// Connection state recovery's offset, the frame's last argument (empty: none): each
  /// node that delivers it keeps it for restores (actors/recovery.hpp).
  std::string offset;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, broadcast_request& x) {
  return f(caf::meta::type_name("broadcast_request"), x.rooms, x.except, x.frame, x.is_volatile, x.local, x.offset);
}

/// Asks a namespace for its rooms whose names start with `prefix`, sockets' own-id rooms
/// left out; the answer is a `room_list`.
struct rooms_query {
  std::string prefix;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, rooms_query& x) {
  return f(caf::meta::type_name("rooms_query"), x.prefix);
}
struct room_count {
  std::string name;
  std::uint64_t members = 0;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, room_count& x) {
  return f(caf::meta::type_name("room_count"), x.name, x.members);
}
struct room_list {
  std::vector<room_count> rooms;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, room_list& x) {
  return f(caf::meta::type_name("room_list"), x.rooms);
}

/// Asks a namespace for its Socket.IO sockets in the union of `rooms` (all of them when
/// empty) minus the members of the `except` rooms, as a broadcast would pick them on this
/// node; Pusher subscriptions are not sockets and are left out. The answer: socket_refs.
struct select_sockets {
  std::vector<std::string> rooms;
  std::vector<std::string> except;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, select_sockets& x) {
  return f(caf::meta::type_name("select_sockets"), x.rooms, x.except);
}
struct socket_ref {
  std::uint64_t key = 0;
  caf::actor connection;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, socket_ref& x) {
  return f(caf::meta::type_name("socket_ref"), x.key, x.connection);
}
struct socket_refs {
  std::vector<socket_ref> sockets;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, socket_refs& x) {
  return f(caf::meta::type_name("socket_refs"), x.sockets);
}

/// Asks a connection for socket `key` as a remote_socket (an error once it is gone).
struct describe_socket {
  std::uint64_t key = 0;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, describe_socket& x) {
  return f(caf::meta::type_name("describe_socket"), x.key);
}

/// Asks a connection to make socket `key` join or leave `rooms`, or disconnect it (and
/// close the connection with `close`); answered ok_atom once done, an error once it is
/// gone. The connection does it as the socket's own join / leave / disconnect would, so
/// it keeps the socket's rooms and their limit.
struct update_socket {
  std::uint64_t key = 0;
  socket_update_kind kind = socket_update_kind::join;
  std::vector<std::string> rooms;
  bool close = false;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, update_socket& x) {
  return f(caf::meta::type_name("update_socket"), x.key, x.kind, x.rooms, x.close);
}

/// Room membership kept by a room actor.
struct member_add {
  std::uint64_t key;
  recipient to;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, member_add& x) {
  return f(caf::meta::type_name("member_add"), x.key, x.to.connection); // the sink is local only
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

/// Announces every message type to CAF (the API service's and the Pusher service's too);
/// call on the actor_system_config.
void announce_message_types(caf::actor_system_config& cfg);

} // namespace sio

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::ws_in)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::ws_gone)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::ws_attach)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::poll_get)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::poll_post)
