// chat-admin: the admin console of a running chat-server (README "The admin console").
//   chat-admin --connect 127.0.0.1:4100 --token T          a prompt (libedit)
//   chat-admin --connect ... --token T -c "status"         one command; its status
//   echo status | chat-admin --connect ... --token T       commands from standard input
// --json prints the server's answers as JSON. The token may come from CHAT_ADMIN_TOKEN
// instead, which keeps it out of the process list.
#include "actors/console_messages.hpp"
#include "actors/messages.hpp"
#include "apps/admin-console/command_line.hpp"
#include "apps/admin-console/console_client.hpp"
#include "apps/admin-console/render.hpp"
#include "apps/admin-console/repl.hpp"

#include <boost/program_options.hpp>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

namespace po = boost::program_options;

int main(int argc, char** argv) {
  std::string connect, token, command;
  bool as_json = false;
  po::options_description opts("chat-admin options");
  // clang-format off
  opts.add_options()
    ("help,h", "print this help and exit")
    ("version", "print the version and exit")
    ("connect", po::value(&connect), "HOST:PORT of the server's --admin-listen")
    ("token", po::value(&token), "the server's admin-token (default: the environment's CHAT_ADMIN_TOKEN)")
    ("command,c", po::value(&command), "run this command, print its answer and exit with its status")
    ("json", po::bool_switch(&as_json), "print answers (and tail lines) as JSON");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "chat-admin: " << e.what() << " (chat-admin --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << "chat-admin " << SIO_VERSION << ": the admin console of chat-server\n\n" << opts << "\ncommands:\n"
              << console::help_text({"help"});
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "chat-admin " << SIO_VERSION << "\n";
    return 0;
  }
  if (token.empty())
    if (const char* env = std::getenv("CHAT_ADMIN_TOKEN"))
      token = env;
  auto colon = connect.rfind(':');
  if (connect.empty() || colon == std::string::npos || token.empty()) {
    std::cerr << "chat-admin: --connect HOST:PORT and --token (or CHAT_ADMIN_TOKEN) are needed\n";
    return 2;
  }
  auto host = connect.substr(0, colon);
  std::uint16_t port = 0;
  try {
    auto p = std::stoul(connect.substr(colon + 1));
    if (p == 0 || p > 65535)
      throw std::out_of_range("port");
    port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
    std::cerr << "chat-admin: --connect must be HOST:PORT, not '" << connect << "'\n";
    return 2;
  }

  caf::actor_system_config cfg;
  sio::announce_message_types(cfg);
  sio::announce_console_types(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto service = sys.middleman().remote_actor(host, port);
  if (!service) {
    std::cerr << "chat-admin: cannot connect to " << connect << ": " << sys.render(service.error()) << "\n";
    return 1;
  }
  int status = 0;
  {
    console::client c(sys, *service, token);
    console::catch_interrupts();
    if (vm.count("command")) {
      status = console::execute(c, command, as_json, std::cout, std::cerr);
    } else if (!isatty(STDIN_FILENO)) {
      std::string line;
      while (std::getline(std::cin, line)) {
        auto s = console::execute(c, line, as_json, std::cout, std::cerr);
        if (s != 0 && status == 0)
          status = s;
      }
    } else {
      // The token is checked before the prompt shows.
      auto probe = c.run({"nodes"}, std::chrono::seconds(5));
      if (probe.status != sio::console_ok) {
        std::cerr << "chat-admin: " << probe.json << "\n";
        return probe.status;
      }
      status = console::repl(c, as_json);
    }
  }
  sys.middleman().stop();
  return status;
}
