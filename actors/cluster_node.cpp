#include "actors/cluster_node.hpp"

#include "actors/ids.hpp"
#include "actors/tls_error_queue.hpp"
#include "transport/digest.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <set>

namespace sio {

std::uint32_t node_number(const std::string& name) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : name) {
    h ^= c;
    h *= 16777619u;
  }
  return h == 0 ? 1 : h;
}

void cluster_directory::put(const node_info& n) {
  std::lock_guard<std::mutex> guard(mutex_);
  members_[n.number] = n;
  ever_.insert(n.number);
}

bool cluster_directory::ever_member(std::uint32_t number) const {
  std::lock_guard<std::mutex> guard(mutex_);
  return ever_.count(number) > 0;
}

void cluster_directory::remove(std::uint32_t number) {
  std::lock_guard<std::mutex> guard(mutex_);
  members_.erase(number);
}

std::optional<node_info> cluster_directory::find(std::uint32_t number) const {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = members_.find(number);
  if (it == members_.end())
    return std::nullopt;
  return it->second;
}

std::vector<node_info> cluster_directory::members() const {
  std::lock_guard<std::mutex> guard(mutex_);
  std::vector<node_info> out;
  out.reserve(members_.size());
  for (auto& [number, n] : members_)
    out.push_back(n);
  return out;
}

namespace {

using clock = std::chrono::steady_clock;


std::string proof_of(const std::string& secret, const std::string& text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), mac, &len);
  return digest::hex(mac, len);
}

bool proof_matches(const std::string& given, const std::string& expected) {
  return given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

std::string fresh_nonce() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1)
    throw std::runtime_error("no random bytes for a cluster nonce");
  return digest::hex(raw, sizeof raw);
}

struct member {
  node_info info;
  caf::node_id caf_node;
  clock::time_point last_heard;
  /// namespace -> rooms the member has sockets in
  std::map<std::string, std::set<std::string>> interest;
};

struct cluster_node_state {
  cluster_options opts;
  std::shared_ptr<server_core> core;
  std::shared_ptr<cluster_directory> dir;
  caf::io::middleman_actor mm;
  node_info self_info;
  bool started = false;
  bool leaving = false;
  std::map<std::string, member> members; // by name
  std::vector<caf::actor> subscribers;
  std::map<std::string, std::set<std::string>> interest; // this node's: namespace -> rooms
  std::map<caf::node_id, std::string> nonces;            // challenges given, by asking node
  std::set<std::string> connecting;                      // host:port being joined
  /// shutdown_atom: the services still running, and who waits for them to end.
  std::set<caf::actor_addr> stopping;
  caf::typed_response_promise<caf::ok_atom> stopped;
  static inline const char* name = "cluster_node";
};

using self_ptr = caf::stateful_actor<cluster_node_state>*;

/// Whether an actor of this process sent the current message. A message without a sender
/// does not count: over BASP a remote peer can send anonymously.
bool from_this_node(self_ptr self) {
  auto& sender = self->current_sender();
  return sender && sender->node() == self->home_system().node();
}

/// The member that sent the current message, or null when it was not admitted.
member* sender_member(self_ptr self) {
  auto& sender = self->current_sender();
  if (!sender)
    return nullptr;
  for (auto& [name, m] : self->state.members)
    if (m.caf_node == sender->node()) {
      m.last_heard = clock::now();
      return &m;
    }
  return nullptr;
}

interest_snapshot snapshot_of(const cluster_node_state& st) {
  interest_snapshot out;
  for (auto& [nsp, rooms] : st.interest)
    out.rooms[nsp].assign(rooms.begin(), rooms.end());
  return out;
}

void notify(self_ptr self, const caf::message& msg) {
  for (auto& s : self->state.subscribers)
    self->send(s, msg);
}

void remove_member(self_ptr self, const std::string& name, const std::string& reason) {
  auto& st = self->state;
  auto it = st.members.find(name);
  if (it == st.members.end())
    return;
  auto number = it->second.info.number;
  self->demonitor(it->second.info.node);
  st.dir->remove(number);
  st.members.erase(it);
  spdlog::warn("cluster: member {} {} ({} members)", name, reason == "left" ? "left" : "failed", st.members.size() + 1);
  notify(self, caf::make_message(node_down{name, number, reason}));
}

void admit(self_ptr self, const node_info& info, const caf::node_id& caf_node) {
  auto& st = self->state;
  if (st.members.count(info.name))
    remove_member(self, info.name, "failed"); // a restarted node: its old self is gone
  member m{info, caf_node, clock::now(), {}};
  st.members.emplace(info.name, std::move(m));
  st.dir->put(info);
  self->monitor(info.node);
  self->send(info.node, snapshot_of(st));
  spdlog::info("cluster: member {} joined from {} ({} members)", info.name, info.address, st.members.size() + 1);
  notify(self, caf::make_message(node_up{info}));
}

std::vector<node_info> member_list(const cluster_node_state& st) {
  std::vector<node_info> out;
  for (auto& [name, m] : st.members)
    out.push_back(m.info);
  return out;
}

void join(self_ptr self, const std::string& host, std::uint16_t port);

void on_answer(self_ptr self, const std::string& address, const std::string& my_nonce, join_answer& ans,
               const caf::node_id& caf_node) {
  auto& st = self->state;
  if (!proof_matches(ans.proof, proof_of(st.opts.secret, "welcome|" + my_nonce + "|" + ans.self.name))) {
    spdlog::error("cluster: {} answered without knowing the cluster secret; not joined", address);
    return;
  }
  if (!st.members.count(ans.self.name) || st.members[ans.self.name].caf_node != caf_node)
    admit(self, ans.self, caf_node);
  for (auto& m : ans.members) {
    if (m.name == st.self_info.name || st.members.count(m.name))
      continue;
    auto colon = m.address.rfind(':');
    if (colon == std::string::npos)
      continue;
    join(self, m.address.substr(0, colon), static_cast<std::uint16_t>(std::stoul(m.address.substr(colon + 1))));
  }
}

/// Connects to the node published at host:port and asks to be admitted.
void join(self_ptr self, const std::string& host, std::uint16_t port) {
  auto& st = self->state;
  auto address = host + ":" + std::to_string(port);
  if (address == st.self_info.address || !st.connecting.insert(address).second)
    return;
  auto timeout = std::chrono::milliseconds(std::max<std::int64_t>(1000, st.opts.failure_timeout.count()));
  auto done = [self, address] { self->state.connecting.erase(address); };
  self->request(st.mm, timeout, caf::connect_atom::value, host, port)
      .then(
          [=](const caf::node_id& caf_node, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            if (caf_node == self->home_system().node() || !ptr)
              return done();
            auto remote = caf::actor_cast<caf::actor>(ptr);
            self->request(remote, timeout, challenge_atom::value)
                .then(
                    [=](std::string& their_nonce) {
                      auto& st = self->state;
                      auto mine = fresh_nonce();
                      join_request req{st.self_info, mine,
                                       proof_of(st.opts.secret, "join|" + their_nonce + "|" + st.self_info.name)};
                      self->request(remote, timeout, std::move(req))
                          .then(
                              [=](join_answer& ans) {
                                done();
                                on_answer(self, address, mine, ans, caf_node);
                              },
                              [=](caf::error& err) {
                                done();
                                spdlog::error("cluster: {} refused this node: {}", address,
                                              self->system().render(err));
                              });
                    },
                    [=](caf::error& err) {
                      done();
                      spdlog::debug("cluster: no challenge from {}: {}", address, self->system().render(err));
                    });
          },
          [=](caf::error& err) {
            done();
            spdlog::debug("cluster: cannot reach {}: {}", address, self->system().render(err));
          });
}

void join_seeds(self_ptr self) {
  auto& st = self->state;
  std::set<std::string> known;
  for (auto& [name, m] : st.members)
    known.insert(m.info.address);
  for (auto& [host, port] : st.opts.seeds)
    if (!known.count(host + ":" + std::to_string(port)))
      join(self, host, port);
}

void tick(self_ptr self) {
  auto& st = self->state;
  auto now = clock::now();
  std::vector<std::string> silent;
  for (auto& [name, m] : st.members) {
    if (now - m.last_heard > st.opts.failure_timeout)
      silent.push_back(name);
    else
      self->send(m.info.node, heartbeat_atom::value);
  }
  for (auto& name : silent)
    remove_member(self, name, "failed");
  // Seeds that are not members (down, restarting, or not up yet) are tried again, so a
  // node that lost everyone, or a member that restarted, finds the cluster.
  join_seeds(self);
  self->delayed_send(self, st.opts.failure_timeout / 4, tick_atom::value);
}

bool interested(const member& m, const cluster_broadcast& b) {
  auto nsp = m.interest.find(b.nsp);
  if (nsp == m.interest.end() || nsp->second.empty())
    return false;
  if (b.req.rooms.empty())
    return true;
  for (auto& room : b.req.rooms)
    if (nsp->second.count(room))
      return true;
  return false;
}

void finish_stop(self_ptr self) {
  auto& st = self->state;
  st.stopping.clear();
  if (st.stopped.pending())
    st.stopped.deliver(caf::ok_atom::value);
  self->quit(caf::exit_reason::user_shutdown);
}

/// shutdown_atom: the services this node offered end before the node does. Members held
/// their handles, so CAF's registry keeps them alive past the actor system's scheduler
/// (their cleanup then touches a stopped clock); they must not outlive the process's
/// orderly exit.
caf::result<caf::ok_atom> stop_services(self_ptr self) {
  auto& st = self->state;
  if (!from_this_node(self))
    return caf::make_error(caf::sec::unexpected_message);
  if (st.stopped.pending())
    return caf::make_error(caf::sec::unexpected_message); // one stop at a time
  st.stopped = self->make_response_promise<caf::ok_atom>();
  for (auto& [name, service] : st.self_info.services) {
    if (!service || !st.stopping.insert(service.address()).second)
      continue;
    self->monitor(service);
    self->send_exit(service, caf::exit_reason::user_shutdown);
  }
  if (st.stopping.empty())
    finish_stop(self);
  else
    self->delayed_send(self, std::chrono::seconds(2), shutdown_atom::value, true);
  return st.stopped;
}

void deliver_locally(self_ptr self, cluster_broadcast& b) {
  auto entry = self->state.core->find_namespace(b.nsp);
  if (!entry)
    return;
  b.req.local = true;
  self->send(entry->actor, std::move(b.req));
}

caf::behavior cluster_node(self_ptr self, std::shared_ptr<server_core> core, cluster_options opts,
                           caf::io::middleman_actor mm) {
  auto& st = self->state;
  st.core = core;
  st.dir = core->cluster_members;
  st.mm = std::move(mm);
  st.self_info.name = opts.node_name;
  st.self_info.number = node_number(opts.node_name);
  st.self_info.node = caf::actor_cast<caf::actor>(self);
  st.opts = std::move(opts);
  st.dir->set_self(st.self_info.number);
  // Anything else, from anyone, is dropped (a request gets unexpected_message).
  self->set_default_handler(caf::drop);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (self->state.stopping.erase(dm.source) > 0) {
      if (self->state.stopping.empty())
        finish_stop(self);
      return;
    }
    for (auto& [name, m] : self->state.members)
      if (m.info.node.address() == dm.source) {
        auto copy = name;
        remove_member(self, copy, "failed");
        return;
      }
  });
  return {
      [=](subscribe_atom, caf::actor who) {
        auto& st = self->state;
        if (!from_this_node(self))
          return; // the members and their services are for this node's actors alone
        self->send(who, node_up{st.self_info});
        for (auto& [name, m] : st.members)
          self->send(who, node_up{m.info});
        st.subscribers.push_back(std::move(who));
      },
      [=](register_service& r) {
        // Offers come before start_atom publishes the node, so from this process alone
        // (anonymous ones included: the spawning code has no actor to send from).
        auto& sender = self->current_sender();
        if (self->state.started || (sender && sender->node() != self->home_system().node()))
          return;
        self->state.self_info.services[r.name] = r.actor;
      },
      [=](start_atom) -> caf::result<std::uint16_t> {
        auto& st = self->state;
        if (!from_this_node(self) || st.started)
          return caf::make_error(caf::sec::unexpected_message);
        st.started = true;
        auto rp = self->make_response_promise<std::uint16_t>();
        self->request(st.mm, caf::infinite, caf::publish_atom::value, st.opts.listen_port,
                      caf::actor_cast<caf::strong_actor_ptr>(self), std::set<std::string>{}, st.opts.listen_host, true)
            .then(
                [=](std::uint16_t port) mutable {
                  auto& st = self->state;
                  st.self_info.address = st.opts.listen_host + ":" + std::to_string(port);
                  st.dir->put(st.self_info);
                  spdlog::info("cluster: node {} listening on {}{}", st.self_info.name, st.self_info.address,
                               st.opts.tls_cert.empty() ? "" : " (TLS)");
                  join_seeds(self);
                  self->send(self, tick_atom::value);
                  rp.deliver(port);
                },
                [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [=](tick_atom) {
        if (from_this_node(self) && !self->state.leaving)
          tick(self);
      },
      [=](members_atom) -> caf::result<std::vector<node_info>> {
        if (!from_this_node(self) && !sender_member(self))
          return caf::make_error(caf::sec::unexpected_message);
        std::vector<node_info> out{self->state.self_info};
        for (auto& n : member_list(self->state))
          out.push_back(std::move(n));
        return out;
      },
      [=](challenge_atom) -> std::string {
        auto& sender = self->current_sender();
        auto nonce = fresh_nonce();
        auto& nonces = self->state.nonces;
        // Bounded: nodes that ask and never join must not grow the table.
        if (nonces.size() >= 64)
          nonces.clear();
        if (sender)
          nonces[sender->node()] = nonce;
        return nonce;
      },
      [=](join_request& req) -> caf::result<join_answer> {
        auto& st = self->state;
        auto& sender = self->current_sender();
        if (!sender || st.leaving)
          return caf::make_error(caf::sec::request_receiver_down);
        auto nonce = st.nonces.find(sender->node());
        bool ok = nonce != st.nonces.end() &&
                  proof_matches(req.proof, proof_of(st.opts.secret, "join|" + nonce->second + "|" + req.who.name));
        if (nonce != st.nonces.end())
          st.nonces.erase(nonce);
        if (!ok) {
          spdlog::error("cluster: refused node {} from {}: it does not know the cluster secret", req.who.name,
                        req.who.address);
          return caf::make_error(caf::sec::runtime_error, "wrong cluster secret");
        }
        if (req.who.name == st.self_info.name || req.who.number != node_number(req.who.name) ||
            req.who.number == st.self_info.number) {
          spdlog::error("cluster: refused node {}: its name is this node's, or its number is taken", req.who.name);
          return caf::make_error(caf::sec::runtime_error, "node id in use");
        }
        for (auto& [name, m] : st.members)
          if (m.info.number == req.who.number && name != req.who.name)
            return caf::make_error(caf::sec::runtime_error, "node id in use");
        join_answer ans{st.self_info, proof_of(st.opts.secret, "welcome|" + req.nonce + "|" + st.self_info.name),
                        {}};
        for (auto& [name, m] : st.members)
          if (name != req.who.name)
            ans.members.push_back(m.info);
        if (!st.members.count(req.who.name) || st.members[req.who.name].caf_node != sender->node())
          admit(self, req.who, sender->node());
        return ans;
      },
      [=](heartbeat_atom) { sender_member(self); },
      [=](leave_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (!from_this_node(self))
          return caf::make_error(caf::sec::unexpected_message);
        st.leaving = true;
        for (auto& [name, m] : st.members)
          self->send(m.info.node, leave_atom::value, st.self_info.name);
        return caf::ok_atom::value;
      },
      [=](shutdown_atom) { return stop_services(self); },
      [=](shutdown_atom, bool) { // services that did not end in time are left behind
        if (from_this_node(self) && !self->state.stopping.empty())
          finish_stop(self);
      },
      [=](leave_atom, const std::string& name) {
        auto* m = sender_member(self);
        if (m && m->info.name == name)
          remove_member(self, name, "left");
      },
      [=](room_interest& ri) {
        auto& st = self->state;
        if (from_this_node(self)) {
          auto& rooms = st.interest[ri.nsp];
          if (ri.add ? !rooms.insert(ri.room).second : rooms.erase(ri.room) == 0)
            return;
          for (auto& [name, m] : st.members)
            self->send(m.info.node, ri);
          return;
        }
        if (auto* m = sender_member(self)) {
          if (ri.add)
            m->interest[ri.nsp].insert(ri.room);
          else
            m->interest[ri.nsp].erase(ri.room);
        }
      },
      [=](interest_snapshot& snap) {
        if (auto* m = sender_member(self)) {
          m->interest.clear();
          for (auto& [nsp, rooms] : snap.rooms)
            m->interest[nsp].insert(rooms.begin(), rooms.end());
        }
      },
      [=](cluster_broadcast& b) {
        auto& st = self->state;
        if (from_this_node(self)) {
          b.req.local = true;
          for (auto& [name, m] : st.members)
            if (interested(m, b))
              self->send(m.info.node, b);
          return;
        }
        if (sender_member(self))
          deliver_locally(self, b);
      },
      [=](const rooms_query& q, const std::string& nsp) -> caf::result<room_list> {
        if (!from_this_node(self) && !sender_member(self))
          return caf::make_error(caf::sec::unexpected_message);
        auto entry = self->state.core->find_namespace(nsp);
        if (!entry)
          return room_list{};
        auto rp = self->make_response_promise<room_list>();
        self->request(entry->actor, caf::infinite, q)
            .then([rp](room_list& list) mutable { rp.deliver(std::move(list)); },
                  [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
  };
}

} // namespace

caf::actor spawn_cluster_node(caf::actor_system& sys, std::shared_ptr<server_core> core, cluster_options opts) {
  if (!core->cluster_members)
    core->cluster_members = std::make_shared<cluster_directory>();
  caf::io::middleman_actor mm = opts.tls_cert.empty() || !tls_error_queue_cleared()
                                    ? sys.middleman().actor_handle()
                                    : sys.openssl_manager().actor_handle();
  return sys.spawn(cluster_node, std::move(core), std::move(opts), std::move(mm));
}

void announce_cluster_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<node_info>("sio::node_info");
  cfg.add_message_type<std::vector<node_info>>("std::vector<sio::node_info>");
  cfg.add_message_type<node_up>("sio::node_up");
  cfg.add_message_type<node_down>("sio::node_down");
  cfg.add_message_type<register_service>("sio::register_service");
  cfg.add_message_type<join_request>("sio::join_request");
  cfg.add_message_type<join_answer>("sio::join_answer");
  cfg.add_message_type<cluster_broadcast>("sio::cluster_broadcast");
  cfg.add_message_type<room_interest>("sio::room_interest");
  cfg.add_message_type<interest_snapshot>("sio::interest_snapshot");
}

} // namespace sio
