#include "apps/admin-console/repl.hpp"

#include "apps/admin-console/command_line.hpp"

#include <boost/json/parse.hpp>

#include <editline/readline.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace console {

namespace {

/// What the completion offers besides the commands: the server's namespaces and rooms.
std::vector<std::string>& candidates() {
  static std::vector<std::string> words;
  return words;
}

void refresh_candidates(client& c) {
  auto a = c.run({"complete"}, std::chrono::seconds(3));
  if (a.status != sio::console_ok)
    return;
  boost::system::error_code ec;
  auto v = boost::json::parse(a.json, ec);
  if (ec || !v.is_object())
    return;
  std::vector<std::string> words;
  if (auto* nsps = v.as_object().if_contains("namespaces"))
    for (auto& n : nsps->as_array())
      words.emplace_back(n.as_string());
  if (auto* rooms = v.as_object().if_contains("rooms"))
    for (auto& [nsp, list] : rooms->as_object())
      for (auto& r : list.as_array())
        words.emplace_back(r.as_string());
  candidates() = std::move(words);
}

std::vector<std::string> completion_pool;

char* next_match(const char* text, int state) {
  static std::size_t index;
  if (state == 0)
    index = 0;
  auto len = std::strlen(text);
  while (index < completion_pool.size()) {
    auto& w = completion_pool[index++];
    if (w.compare(0, len, text) == 0)
      return strdup(w.c_str());
  }
  return nullptr;
}

char** complete(const char* text, int start, int) {
  completion_pool.clear();
  // The first word is a command; the others a namespace or a room.
  bool first = true;
  for (int i = 0; i < start && rl_line_buffer[i]; ++i)
    if (rl_line_buffer[i] != ' ' && rl_line_buffer[i] != '\t')
      first = false;
  if (first) {
    for (auto& v : sio::console_verbs())
      completion_pool.emplace_back(v.name);
    completion_pool.emplace_back("exit");
  } else {
    completion_pool = candidates();
    completion_pool.emplace_back("--room");
    completion_pool.emplace_back("--event");
  }
  rl_attempted_completion_over = 1; // no file names
  return rl_completion_matches(text, next_match);
}

std::string history_file() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.chat_admin_history";
}

} // namespace

int repl(client& c, bool as_json) {
  auto history = history_file();
  using_history();
  read_history(history.c_str());
  rl_attempted_completion_function = complete;
  refresh_candidates(c);
  std::cout << "chat-admin: connected. help lists the commands; Ctrl-D leaves." << std::endl;
  int status = 0;
  for (;;) {
    interrupted() = false;
    char* raw = readline("chat-admin> ");
    if (!raw) { // Ctrl-D
      std::cout << std::endl;
      break;
    }
    std::string line(raw);
    std::free(raw);
    // Completion leaves a space after the word: not part of what history keeps.
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    add_history(line.c_str());
    write_history(history.c_str());
    if (line == "exit" || line == "quit")
      break;
    status = execute(c, line, as_json, std::cout, std::cerr);
    if (line.rfind("help", 0) != 0)
      refresh_candidates(c);
  }
  write_history(history.c_str());
  return status;
}

} // namespace console
