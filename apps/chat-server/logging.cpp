#include "apps/chat-server/logging.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <ctime>

namespace chat {

namespace {

/// {"time":"2026-12-02T01:02:03.456Z","level":"info","msg":"..."}: what log shippers
/// (journald's JSON, Loki, Elasticsearch) take without a parsing rule. spdlog has no JSON
/// formatter and its patterns cannot escape the message, so this one does it through
/// Boost.JSON.
class json_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto since_epoch = msg.time.time_since_epoch();
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - secs).count();
    std::time_t t = secs.count();
    std::tm utc{};
    gmtime_r(&t, &utc);
    char stamp[40];
    auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(millis));
    auto level = spdlog::level::to_string_view(msg.level);
    std::string line = R"({"time":")";
    line += stamp;
    line += R"(","level":")";
    line.append(level.data(), level.size());
    line += R"(","thread":)";
    line += std::to_string(msg.thread_id);
    line += R"(,"msg":)";
    line += boost::json::serialize(boost::json::string(boost::json::string_view(msg.payload.data(), msg.payload.size())));
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

} // namespace

void setup_logging(const std::string& format, const std::string& level) {
  auto logger = spdlog::stderr_color_mt("chat-server");
  if (format == "json")
    logger->set_formatter(std::make_unique<json_formatter>());
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

} // namespace chat
