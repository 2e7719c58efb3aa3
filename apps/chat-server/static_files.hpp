// Files the server serves as they are (the web chat page, the Socket.IO client bundle, the
// Admin UI's bundle): read once at start-up, so that serving them never touches the disk.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>

namespace chat {

/// URL path -> (content type, body).
using static_files = std::map<std::string, std::pair<std::string, std::string>>;

std::string read_file(const std::filesystem::path& p);
std::string content_type_of(const std::filesystem::path& p);

/// Adds the regular files under `root` to `out` as `prefix` + their path below `root`
/// (descending into folders when `recursive`); a symlink only when where it leads stays
/// inside `root`. Files ending in `skip_ext` (e.g. ".map") are left out. False when `root`
/// is not a directory.
bool load_static_files(const std::filesystem::path& root, const std::string& prefix, bool recursive,
                       static_files& out, const std::string& skip_ext = {});

} // namespace chat
