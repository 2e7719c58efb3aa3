#include "actors/remote_store.hpp"

#include "actors/ids.hpp"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

namespace chat {

namespace {

caf::error unreachable(const std::string& why) {
  return make_error(persistence_errc::unavailable, "the store is unreachable: " + why);
}

// The store's own refusals (not_found, storage_failure, ...) reach the requester as they
// are; anything else (CAF's: the link broke, the receiver is down) means the store could
// not be reached.
caf::error as_store_error(caf::error err) {
  if (err.category() == persistence_error_category)
    return err;
  return unreachable(caf::to_string(err));
}

// One handler per answer type of the persistence actor (actors/persistence_actor.hpp):
// a response is matched by its type, so each must be listed. An answer of a type left
// out would reach the requester as an error (CAF's unexpected_response), never as a
// silent drop; tests/unit/remote_store_test.cpp forwards one request of each.
template <class... Answers, class Relay, class Fail> caf::behavior answers_of(Relay relay, Fail fail) {
  return caf::behavior([relay](Answers& x) { relay(caf::make_message(std::move(x))); }..., fail);
}

} // namespace

remote_store::remote_store(caf::actor_config& cfg, caf::actor node, remote_store_options opts)
    : caf::event_based_actor(cfg), node_(std::move(node)), opts_(opts) {}

caf::behavior remote_store::make_behavior() {
  send(node_, sio::subscribe_atom::value, caf::actor_cast<caf::actor>(this));
  set_default_handler([this](caf::scheduled_actor*, caf::message_view& x) { return forward(x); });
  // CAF's down signal for the store's actor (its node's link broke) may come before the
  // node actor's node_down: whichever comes first fails what is in flight.
  // A stray error message would end the actor (CAF's default): it is only logged.
  set_error_handler([](caf::scheduled_actor*, caf::error& err) {
    spdlog::warn("store: an error message nobody asked for: {}", caf::to_string(err));
  });
  set_down_handler([this](caf::down_msg& down) {
    if (store_ && down.source == store_->actor.address())
      lose_store("the store's actor on " + store_->node_name + " is down (" + caf::to_string(down.reason) + ")");
  });
  return {
      [this](sio::node_up& up) { on_node_up(up.info); },
      [this](sio::node_down& down) {
        if (store_ && down.name == store_->node_name)
          lose_store("node " + down.name + " is down (" + down.reason + ")");
      },
      [this](shutdown_atom) {
        quit();
        return caf::ok_atom::value;
      },
      [this](store_sweep_atom) {
        sweep_scheduled_ = false;
        sweep();
      },
  };
}

caf::result<caf::message> remote_store::forward(caf::message_view& x) {
  auto promise = make_response_promise();
  if (!store_) {
    if (promise.pending())
      promise.deliver(unreachable("no member offers it"));
    else
      spdlog::debug("store: a message sent without waiting for an answer is lost: no member offers the store");
    return promise;
  }
  auto msg = x.move_content_to_message();
  // Fire and forget: nobody waits, nothing to track. (The free caf::anon_send: the
  // member of CAF 0.17 names this actor as the sender, and the answer would come here.)
  if (!promise.pending()) {
    caf::anon_send(store_->actor, std::move(msg));
    return promise;
  }
  auto id = ++next_id_;
  in_flight_.emplace(id, in_flight{promise, clock().now() + opts_.request_timeout});
  if (!sweep_scheduled_) {
    sweep_scheduled_ = true;
    delayed_send(this, opts_.request_timeout, store_sweep_atom::value);
  }
  // No CAF timeout per request (a round through CAF's clock thread each): the sweep is
  // the last resort.
  auto handle = request(store_->actor, caf::infinite, std::move(msg));
  add_multiplexed_response_handler(
      handle.id(), answers_of<persistence::conversation_message, persistence::receipt, persistence::participant_list,
                              persistence::history_page, persistence::connection_totals, connection_list,
                              last_seen_info, conversation_list, persistence_stats, std::int64_t, caf::ok_atom,
                              sio::recovery_claimed>(
                       [this, id](caf::message reply) { answer(id, std::move(reply)); },
                       [this, id](caf::error& err) { answer(id, std::move(err)); }));
  return promise;
}

void remote_store::answer(std::uint64_t id, caf::message reply) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end())
    return; // already answered with an error (the store went down, or the timeout)
  it->second.promise.deliver(std::move(reply));
  in_flight_.erase(it);
}

void remote_store::answer(std::uint64_t id, caf::error err) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end())
    return;
  it->second.promise.deliver(as_store_error(std::move(err)));
  in_flight_.erase(it);
}

void remote_store::on_node_up(const sio::node_info& member) {
  auto found = member.services.find(store_service);
  if (found == member.services.end() || !found->second)
    return;
  if (store_ && store_->node_name != member.name) {
    // Two stores would be two histories: the first one found stays the only one used.
    spdlog::error("store: node {} offers a store too; only the store of {} is used (run one --store sqlite node "
                  "per cluster)",
                  member.name, store_->node_name);
    return;
  }
  if (store_ && store_->actor == found->second)
    return;
  if (store_)
    lose_store("node " + member.name + " came back with a new store");
  store_ = store_member{member.name, member.number, found->second};
  monitor(store_->actor);
  spdlog::info("store: using the store of node {}", member.name);
  if (!closed_own_) {
    // Once per start, before anything this node forwards (one sender, one order): what a
    // previous run of this node left open (its connections, its connected sockets'
    // recovery records) is closed. Nothing of this run is there yet: without a store every
    // write was refused.
    closed_own_ = true;
    request(store_->actor, opts_.request_timeout, close_open_connections{0, sio::id_prefix(sio::node_id())})
        .then([](std::int64_t closed) {
          if (closed > 0)
            spdlog::info("store: {} connections of this node's previous run closed", closed);
        },
              [](caf::error& err) {
                spdlog::warn("store: the connections of this node's previous run stay open: {}", caf::to_string(err));
              });
  }
}

void remote_store::lose_store(const std::string& why) {
  spdlog::warn("store: {}; {} requests in flight fail, and every request fails until a store node joins", why,
               in_flight_.size());
  demonitor(store_->actor);
  store_.reset();
  auto lost = std::exchange(in_flight_, {});
  for (auto& [id, pending] : lost)
    pending.promise.deliver(unreachable(why));
}

void remote_store::sweep() {
  auto now = clock().now();
  std::vector<std::uint64_t> expired;
  for (auto& [id, pending] : in_flight_)
    if (pending.deadline <= now)
      expired.push_back(id);
  for (auto id : expired) {
    auto it = in_flight_.find(id);
    it->second.promise.deliver(unreachable("no answer within the request timeout"));
    in_flight_.erase(it);
  }
  if (!expired.empty())
    spdlog::warn("store: {} requests got no answer within {} ms", expired.size(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(opts_.request_timeout).count());
  if (in_flight_.empty())
    return;
  // Next check when the oldest left is due.
  auto next = in_flight_.begin()->second.deadline;
  for (auto& [id, pending] : in_flight_)
    next = std::min(next, pending.deadline);
  sweep_scheduled_ = true;
  delayed_send(this, std::max<caf::timespan>(next - now, caf::timespan{1}), store_sweep_atom::value);
}

void remote_store::on_exit() {
  for (auto& [id, pending] : in_flight_)
    pending.promise.deliver(unreachable("this node is shutting down"));
  in_flight_.clear();
  store_.reset();
  node_ = nullptr;
}

caf::actor spawn_remote_store(caf::actor_system& sys, caf::actor node, remote_store_options opts) {
  return sys.spawn<remote_store>(std::move(node), opts);
}

} // namespace chat
