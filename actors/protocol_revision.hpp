// What Engine.IO v3 / Socket.IO v2 clients (ElephantIO Version2X, socket.io-client 2.x)
// need differently from Engine.IO v4 / Socket.IO v5, in one place: the session and the
// client ask their revision instead of branching on the version. The wire forms are the
// codecs' (transport/engineio, transport/socketio); this table picks between them.
#pragma once

#include "transport/engineio/packet.hpp"
#include "transport/http/server.hpp"

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sio {

struct protocol_revision {
  int engineio; // 4 or 3

  // -- Engine.IO --
  /// v4: the server pings and waits pingTimeout for the pong; v3: the client pings and
  /// silence for pingInterval + pingTimeout closes.
  bool server_pings;
  /// v4 WebSocket: namespaces and rooms write broadcasts straight into the channel (v3
  /// binary frames need a type byte, so they go through the connection actor).
  bool direct_delivery;
  std::optional<std::vector<engineio::packet>> (*decode_payload)(std::string_view body, bool binary_body);
  std::optional<engineio::packet> (*decode_frame)(bool binary_frame, std::string_view frame);
  /// The bytes of a binary message's WebSocket frame.
  std::string (*binary_frame)(std::string_view data);
  /// A polling answer carrying the outbox (`base64_only`: v3 clients that said b64=1).
  http::response (*payload_response)(const std::vector<http::ws_message>& outbox, bool base64_only);

  // -- Socket.IO --
  /// v2: the server connects every new session to "/" by itself.
  bool connects_main_namespace;
  /// v2 has no CONNECT payload: the query (the connection's and the namespace's) is the auth.
  bool auth_from_query;
  /// v2 answers a second CONNECT to the same namespace again (ElephantIO sends "40" after
  /// its upgrade); v5 ignores it.
  bool answers_repeated_connect;
  /// `pid`: connection state recovery's private id (v5 only; empty: none).
  std::string (*connect_ok)(std::string_view nsp, std::string_view sid, std::string_view pid);
  std::string (*connect_error)(std::string_view nsp, std::string_view message, const boost::json::value* data);
};

/// The revision for an Engine.IO protocol number (3, else 4).
const protocol_revision& revision_for(int engineio_protocol);

/// A polling answer: 200, text/plain, the given payload.
http::response payload_response(std::string body);

} // namespace sio
