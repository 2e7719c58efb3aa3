#include "actors/console_messages.hpp"

#include "actors/activity.hpp"

namespace sio {

const std::vector<console_verb>& console_verbs() {
  static const std::vector<console_verb> verbs{
      {"status", "status", "version, uptime, connections by transport and protocol, sockets and rooms per namespace, "
                           "store queue and commit latency, for every node"},
      {"nodes", "nodes", "the cluster's members as the connected node sees them"},
      {"sockets", "sockets [NSP] [--room ROOM]", "the sockets of a namespace (every namespace when none is given), or "
                                                  "of one room, on every node"},
      {"rooms", "rooms [NSP]", "the rooms of a namespace (every namespace when none is given) and their member counts, "
                               "summed over the nodes"},
      {"socket", "socket SID", "one socket: its namespace, node, transport, address, handshake, rooms and data"},
      {"emit", "emit NSP ROOM|* EVENT [JSON]", "broadcasts EVENT with the JSON value as its argument to a room (or "
                                               "the whole namespace with *), on every node"},
      {"join", "join NSP SID ROOM", "makes a socket join a room"},
      {"leave", "leave NSP SID ROOM", "makes a socket leave a room"},
      {"kick", "kick SID [REASON]", "disconnects a socket (a server namespace disconnect: its client does not "
                                    "reconnect on its own); the reason goes to the log"},
      {"tail", "tail [NSP] [--event EVENT]", "a live stream of connects, events with their arguments, broadcasts, "
                                             "joins, leaves and disconnects on every node, until Ctrl-C"},
      {"log-level", "log-level LEVEL", "sets the log level of every node: trace, debug, info, warn, error, critical, "
                                       "off"},
      {"drain", "drain [NODE]", "the node (this one by default) refuses new sessions, closes its connections so that "
                                "their clients reconnect elsewhere, and says draining on /health"},
      {"shutdown", "shutdown [NODE]", "stops the node (this one by default) as SIGTERM does"},
      {"help", "help [COMMAND]", "the commands, or one command"},
  };
  return verbs;
}

void announce_console_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<console_command>("sio::console_command");
  cfg.add_message_type<console_answer>("sio::console_answer");
  cfg.add_message_type<console_tail>("sio::console_tail");
  cfg.add_message_type<console_untail>("sio::console_untail");
}

} // namespace sio
