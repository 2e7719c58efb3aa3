// What crosses the cluster link when a client's request reaches a node that does not own
// its session (no sticky sessions): the front node forwards a polling request to the
// owner's "sessions" service and writes the answer; a WebSocket is accepted by the front
// node and relayed (actors/ws_relay on the front, actors/session_service on the owner).
//
// Polling:    front --forwarded_request--> sessions   (answered by a forwarded_response)
// WebSocket:  relay --relay_attach--> sessions        (answered by a relay_answer)
//             relay --relay_in, relay_gone, relay_written--> endpoint (on the owner)
//             owner's channel --relay_frames, relay_close, relay_abort_atom,
//                               relay_consumed--> relay
#pragma once

#include "transport/http/server.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sio {

/// The owner's channel drops the client's WebSocket at once (ws_channel::abort).
using relay_abort_atom = caf::atom_constant<caf::atom("rabort")>;

/// A request for a session of another node, as the front node received it.
struct forwarded_request {
  std::string method;
  std::string target;
  std::string path;
  http::header_list query;
  /// Only the headers the engine reads (forwarded_header_names).
  http::header_list headers;
  std::string remote_address;
  std::string body;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, forwarded_request& x) {
  return f(caf::meta::type_name("forwarded_request"), x.method, x.target, x.path, x.query, x.headers, x.remote_address,
           x.body);
}

/// The headers a session's requests are read for: the POST body's content-type (a v3
/// binary payload) and the upgrade's origin (checked against the CORS origins).
extern const char* const forwarded_header_names[2];

forwarded_request forwarded_from(http::request req);
http::request request_of(forwarded_request f);

/// The owner's answer to a forwarded_request, written by the front node as it is.
struct forwarded_response {
  std::int32_t status = 200;
  http::header_list headers;
  std::string body;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, forwarded_response& x) {
  return f(caf::meta::type_name("forwarded_response"), x.status, x.headers, x.body);
}

forwarded_response forwarded_from(http::response r);
http::response response_of(forwarded_response r);

/// A WebSocket upgrade for a session of the owner, accepted by the front node, whose
/// relay actor owns the client's connection.
struct relay_attach {
  forwarded_request request;
  caf::actor relay;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, relay_attach& x) {
  return f(caf::meta::type_name("relay_attach"), x.request, x.relay);
}

/// The owner's answer: the endpoint that takes the client's messages, or (null endpoint)
/// the refusal the engine gave, which the relay turns into a close.
struct relay_answer {
  caf::actor endpoint;
  forwarded_response refusal;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, relay_answer& x) {
  return f(caf::meta::type_name("relay_answer"), x.endpoint, x.refusal);
}

/// A message from the client.
struct relay_in {
  bool binary = false;
  std::string data;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, relay_in& x) {
  return f(caf::meta::type_name("relay_in"), x.binary, x.data);
}

/// The client's WebSocket is gone ("transport close", "transport error").
struct relay_gone {
  std::string reason;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, relay_gone& x) {
  return f(caf::meta::type_name("relay_gone"), x.reason);
}

/// Bytes of relay_frames the relay has queued on the client's connection (the owner's
/// channel counts what is still on its way as queued).
struct relay_written {
  std::uint64_t bytes = 0;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, relay_written& x) {
  return f(caf::meta::type_name("relay_written"), x.bytes);
}

/// One send of the owner's channel: the messages in order, in one CAF message. The bytes
/// stay shared (a broadcast's frame) until they are serialized for the link.
struct relay_frames {
  std::vector<http::ws_message> messages;
  std::size_t bytes() const;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, relay_frames& x) {
  std::vector<bool> binary;
  std::vector<std::string> data;
  if constexpr (Inspector::reads_state) {
    for (auto& m : x.messages) {
      binary.push_back(m.binary);
      data.push_back(m.data ? *m.data : std::string{});
    }
  }
  return f(caf::meta::type_name("relay_frames"), binary, data, caf::meta::load_callback([&]() -> caf::error {
             if (binary.size() != data.size())
               return caf::sec::invalid_argument;
             x.messages.clear();
             for (std::size_t i = 0; i < data.size(); ++i)
               x.messages.push_back({binary[i], std::make_shared<const std::string>(std::move(data[i]))});
             return caf::none;
           }));
}

/// The owner's channel closes the client's WebSocket after what it sent (ws_channel::close).
struct relay_close {
  std::uint16_t code = 1000;
  std::string reason;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, relay_close& x) {
  return f(caf::meta::type_name("relay_close"), x.code, x.reason);
}

/// The owner's session handled this many bytes of client messages (ws_channel::consumed).
struct relay_consumed {
  std::uint64_t bytes = 0;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, relay_consumed& x) {
  return f(caf::meta::type_name("relay_consumed"), x.bytes);
}

void announce_forwarding_types(caf::actor_system_config& cfg);

} // namespace sio
