#include "apps/admin-console/command_line.hpp"

#include "apps/admin-console/render.hpp"

#include <iostream>
#include <sstream>

namespace console {

namespace {

constexpr auto command_timeout = std::chrono::seconds(15);

/// How many words a command has at most: the last one takes the rest of the line.
std::size_t max_words(const std::string& cmd) {
  if (cmd == "emit")
    return 5;
  if (cmd == "kick")
    return 3;
  return 0; // no limit
}

} // namespace

std::vector<std::string> split_line(const std::string& line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  auto space = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; };
  while (i < line.size()) {
    while (i < line.size() && space(line[i]))
      ++i;
    if (i >= line.size())
      break;
    auto limit = words.empty() ? 0 : max_words(words[0]);
    if (limit && words.size() + 1 == limit) {
      auto end = line.size();
      while (end > i && space(line[end - 1]))
        --end;
      words.push_back(line.substr(i, end - i));
      break;
    }
    auto start = i;
    while (i < line.size() && !space(line[i]))
      ++i;
    words.push_back(line.substr(start, i - start));
  }
  return words;
}

int execute(client& c, const std::string& line, bool as_json, std::ostream& out, std::ostream& err) {
  auto words = split_line(line);
  if (words.empty())
    return sio::console_ok;
  interrupted() = false;
  if (words[0] == "help") {
    out << help_text(words);
    return sio::console_ok;
  }
  if (words[0] == "tail") {
    std::string nsp, event;
    for (std::size_t i = 1; i < words.size(); ++i) {
      if (words[i] == "--event" && i + 1 < words.size())
        event = words[++i];
      else if (nsp.empty() && words[i][0] == '/')
        nsp = words[i];
      else {
        err << "error: usage: tail [NSP] [--event EVENT]\n";
        return sio::console_usage;
      }
    }
    auto status = c.tail(
        nsp, event, [&](const sio::activity& a) { out << render_activity(a, as_json) << std::endl; },
        [&](const sio::console_answer& a) {
          if (a.status != sio::console_ok || as_json)
            render(words, a, as_json, out, err); // --json: {"tail":true,"nodes":N} says it started
          else
            out << "tailing" << (nsp.empty() ? " every namespace" : " " + nsp)
                << (event.empty() ? "" : " (event " + event + ")") << "; Ctrl-C stops" << std::endl;
        });
    if (interrupted() && !as_json)
      out << std::endl; // after the terminal's ^C
    return status;
  }
  auto answer = c.run(words, command_timeout);
  render(words, answer, as_json, out, err);
  return answer.status;
}

} // namespace console
