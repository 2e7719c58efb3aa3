// A BASP peer that reaches a cluster node's port without ever joining (it does not know the
// secret) and tries to act as the node or as a member: what anyone who can connect to the
// cluster port can do (integration test cluster_nodes, "a peer that was not admitted").
//
//   cluster_intruder HOST PORT MEMBER
//
// Sends to the node published on HOST:PORT, once anonymously and once from an actor of its
// own: a broadcast of "intruder" to every socket, a room interest, `leave` in MEMBER's
// name, the node's own leave and shutdown; then asks for the member list and prints
// "members: refused" or "members: answered". Exits 0 once everything was sent, 2 when the
// node could not be reached.
#include "actors/api.hpp"
#include "actors/cluster_node.hpp"
#include "actors/messages.hpp"
#include "transport/engineio/packet.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: cluster_intruder HOST PORT MEMBER\n";
    return 2;
  }
  std::string host = argv[1];
  auto port = static_cast<std::uint16_t>(std::stoi(argv[2]));
  std::string member = argv[3];

  caf::actor_system_config cfg;
  sio::announce_message_types(cfg);
  sio::announce_cluster_types(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto node = sys.middleman().remote_actor(host, port);
  if (!node) {
    std::cerr << "cluster_intruder: " << sys.render(node.error()) << "\n";
    return 2;
  }

  sio::message m{"from outside"};
  sio::broadcast_request everyone{{}, {}, sio::shared_frame{}, false, false, {}};
  everyone.frame = sio::shared_frame{std::make_shared<const sio::wire_packet>(sio::wire_packet{
      sio::engineio::encode_message(sio::encode_event("/", "intruder", m)), {}, {}})};
  sio::cluster_broadcast broadcast{"/", everyone};
  sio::room_interest interest{"/", "intruders", true};

  caf::scoped_actor self{sys};
  for (int as_actor = 0; as_actor < 2; ++as_actor) {
    auto send = [&](auto&&... xs) {
      if (as_actor)
        self->send(*node, xs...);
      else
        caf::anon_send(*node, xs...);
    };
    send(broadcast);
    send(interest);
    send(sio::leave_atom::value, member);
    send(sio::leave_atom::value);
    send(sio::shutdown_atom::value);
  }
  bool answered = false;
  self->request(*node, std::chrono::seconds(3), sio::members_atom::value)
      .receive([&](std::vector<sio::node_info>&) { answered = true; }, [&](caf::error&) { answered = false; });
  std::cout << "members: " << (answered ? "answered" : "refused") << std::endl;
  // Give BASP time to deliver what was sent before the connection goes.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return 0;
}
