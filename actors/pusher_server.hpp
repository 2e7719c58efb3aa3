// The Pusher Channels protocol 7 beside Socket.IO (docs/chat-protocol.md §8): WebSockets
// at /app/{key}, one `pusher_connection` actor each. A channel is the Socket.IO room of
// the same name in the app's namespace: each subscription is a member of that room (a
// socket that takes room broadcasts only, never the whole namespace's), so a broadcast to
// the room reaches Socket.IO sockets and Pusher subscribers alike, each encoded in its
// own protocol.
#pragma once

#include "actors/server.hpp"
#include "transport/pusher/app.hpp"

#include <boost/json.hpp>
#include <caf/event_based_actor.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sio {

/// A presence channel's member as Pusher names it: channel_data's user_id and user_info.
struct pusher_member {
  std::string user_id;
  boost::json::value user_info;
};

/// What the application decides for Pusher subscribers. Called inside the subscriber's
/// connection actor; must not block.
struct pusher_hooks {
  /// A presence subscription of `member` to `channel` (its room id `sub_id`, the
  /// subscription's own room) entered: record the member, tell the others, and call
  /// `done` with the channel's members afterwards (the subscriber included), from a
  /// handler of `self` (the connection actor: `self->request(...).then(...)`), which
  /// then answers the subscription. Not calling `done` leaves it unanswered.
  using members_fn = std::function<void(std::vector<pusher_member>)>;
  std::function<void(caf::event_based_actor* self, const std::string& nsp, const std::string& channel,
                     const pusher_member& member, const std::string& sub_id, members_fn done)>
      presence_join;
  /// The subscription of `member` to `channel` ended (unsubscribe or disconnect).
  std::function<void(const std::string& nsp, const std::string& channel, const pusher_member& member,
                     const std::string& sub_id)>
      presence_leave;
  /// The application's events that tell a presence room's members of a member added or
  /// removed ({user_id, user_info}): Pusher subscribers get them as
  /// pusher_internal:member_added / member_removed.
  std::string member_added_event;
  std::string member_removed_event;
  /// A connection came to know its user (signin, or its first presence channel), and
  /// the connection of that user ended; for online status.
  std::function<void(const std::string& nsp, const std::string& user_id)> user_arrived;
  std::function<void(const std::string& nsp, const std::string& user_id)> user_departed;
};

struct pusher_shared;

/// terminate_connections on another node: close that node's connections of the user;
/// answered with how many (the cluster service "pusher", spawned by pusher_server in a
/// cluster).
struct pusher_terminate {
  std::string app_id;
  std::string user_id;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, pusher_terminate& x) {
  return f(caf::meta::type_name("pusher_terminate"), x.app_id, x.user_id);
}
void announce_pusher_types(caf::actor_system_config& cfg);

class pusher_server {
public:
  /// Mounts the /app/{key} WebSocket route on `io`. Apps whose `nsp` is empty use
  /// `default_nsp`.
  pusher_server(server& io, caf::actor_system& sys, pusher::app_registry apps, std::string default_nsp,
                pusher_hooks hooks);
  ~pusher_server();

  const pusher::app_registry& apps() const;
  /// The namespace whose rooms are `a`'s channels.
  const std::string& nsp_of(const pusher::app& a) const;

  /// Closes (pusher:error 4009, close code 4009) every connection of app `app_id` that
  /// acts for `user_id` (signed in, or a presence member, as Reverb counts), on every node
  /// of the cluster. `done` gets how many once every member answered (a member that does
  /// not within `timeout` is left out of the count, and may keep its connections).
  void terminate_user(const std::string& app_id, const std::string& user_id, std::function<void(std::size_t)> done,
                      std::chrono::milliseconds timeout = default_api_timeout);

private:
  std::shared_ptr<pusher_shared> shared_;
};

} // namespace sio
