#include "apps/chat-server/static_files.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace chat {

namespace fs = std::filesystem;

namespace {

// Whether `path` lies under `root` (both canonical), compared by whole components.
bool is_inside(const fs::path& root, const fs::path& path) {
  return std::mismatch(root.begin(), root.end(), path.begin(), path.end()).first == root.end();
}

} // namespace

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string content_type_of(const fs::path& p) {
  auto ext = p.extension().string();
  if (ext == ".html")
    return "text/html; charset=utf-8";
  if (ext == ".js")
    return "application/javascript; charset=utf-8";
  if (ext == ".css")
    return "text/css; charset=utf-8";
  if (ext == ".svg")
    return "image/svg+xml";
  if (ext == ".png")
    return "image/png";
  if (ext == ".json" || ext == ".map")
    return "application/json";
  return "application/octet-stream";
}

bool load_static_files(const fs::path& dir, const std::string& prefix, bool recursive, static_files& out,
                       const std::string& skip_ext) {
  std::error_code ec;
  auto root = dir.empty() ? fs::path() : fs::canonical(dir, ec);
  if (root.empty() || ec || !fs::is_directory(root, ec))
    return false;
  auto add = [&](const fs::directory_entry& entry) {
    std::error_code target_ec;
    auto target = fs::canonical(entry.path(), target_ec);
    if (target_ec || !is_inside(root, target) || !fs::is_regular_file(target, target_ec))
      return;
    if (!skip_ext.empty() && entry.path().extension() == skip_ext)
      return;
    auto relative = entry.path().lexically_relative(root).generic_string();
    out[prefix + relative] = {content_type_of(entry.path()), read_file(target)};
  };
  if (recursive) {
    for (auto& entry : fs::recursive_directory_iterator(root, ec))
      add(entry);
  } else {
    for (auto& entry : fs::directory_iterator(root, ec))
      add(entry);
  }
  return true;
}

} // namespace chat
